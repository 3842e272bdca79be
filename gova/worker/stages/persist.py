"""moderation.results → storage (idempotent on tenant and content id) → wake waiting callers."""

from __future__ import annotations

import json

from gova import cache
from gova.schemas import DeadLetter, Verdict
from gova.streams import MODERATION_RESULTS
from gova.worker.app import app, settings
from gova.worker.resources import resources
from gova.worker.stages.plumbing import dead_letter, parse_batch, with_storage
from gova.worker.topics import topics


async def store(verdicts: list[Verdict]) -> list[dict]:
    return await with_storage(lambda storage: storage.verdicts.store(verdicts))


async def persist_batch(batch: list[tuple[object, Verdict]]) -> list[dict | DeadLetter]:
    """Store and announce a batch; one outcome per verdict (stored row or dead letter)."""
    try:
        outcomes: list[dict | DeadLetter] = list(await store([v for _, v in batch]))
    except Exception:
        # Isolate the row that fails so the rest of the batch is still stored.
        outcomes = []
        for event, verdict in batch:
            try:
                outcomes += await store([verdict])
            except Exception as exc:
                outcomes.append(await dead_letter("persist", event, exc))
    stored = [o for o in outcomes if isinstance(o, dict)]
    await cache.publish_verdicts(
        resources.redis(),
        [(s["tenant_id"], s["content_id"], json.dumps(s).encode()) for s in stored],
    )
    return outcomes


@app.agent(topics[MODERATION_RESULTS.name])
async def persist(stream):
    async for events in stream.take_events(
        settings.persist_batch_size, within=settings.persist_batch_within_s
    ):
        batch, dead = await parse_batch(events, "persist", Verdict)
        for outcome in [*dead, *(await persist_batch(batch) if batch else [])]:
            yield outcome
