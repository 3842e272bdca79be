"""gova.deadletter → storage, and tell anyone waiting on that content that it failed.

The last stop: an error here is logged, never sent anywhere further.
"""

from __future__ import annotations

import json
import logging

from gova import cache
from gova.schemas import DeadLetter
from gova.streams import DEAD_LETTER
from gova.worker.app import app
from gova.worker.resources import resources
from gova.worker.stages.plumbing import with_storage
from gova.worker.topics import topics

log = logging.getLogger(__name__)


async def record(letters: list[DeadLetter]) -> None:
    await with_storage(lambda storage: storage.dead_letters.store(letters))
    failures = [f for f in (d.failure() for d in letters) if f is not None]
    await cache.publish_verdicts(
        resources.redis(),
        [(f["tenant_id"], f["content_id"], json.dumps(f).encode()) for f in failures],
    )


@app.agent(topics[DEAD_LETTER.name])
async def record_dead_letters(stream):
    async for events in stream.take_events(100, within=0.05):
        letters = []
        for event in events:
            try:
                letters.append(DeadLetter.model_validate_json(event.value))
            except Exception as exc:
                msg = event.message
                log.error(
                    "unreadable dead letter %s[%s]@%s: %s",
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    exc,
                )
        if not letters:
            continue
        try:
            await record(letters)
        except Exception:
            log.exception("could not record %d dead letters", len(letters))
        for letter in letters:
            yield letter
