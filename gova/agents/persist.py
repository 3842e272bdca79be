"""moderation.results → PostgreSQL (idempotent on content id + stage) → wake waiting callers."""

from __future__ import annotations

import json

from gova import cache, db
from gova.agents.base import dead_letter, resources, with_db
from gova.pipeline import app, settings, topics
from gova.schemas import DeadLetter, Verdict
from gova.streams import MODERATION_RESULTS


async def store(verdicts: list[Verdict]) -> list[dict]:
    return await with_db(lambda pool: db.store_verdicts(pool, verdicts))


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
        await resources.redis(),
        [(s["tenant_id"], s["content_id"], json.dumps(s).encode()) for s in stored],
    )
    return outcomes


@app.agent(topics[MODERATION_RESULTS.name])
async def persist(stream):
    async for events in stream.take_events(
        settings.persist_batch_size, within=settings.persist_batch_within_s
    ):
        batch = []
        for event in events:
            try:
                batch.append((event, Verdict.model_validate_json(event.value)))
            except Exception as exc:
                yield await dead_letter("persist", event, exc)
        if batch:
            for outcome in await persist_batch(batch):
                yield outcome
