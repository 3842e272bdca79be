"""Redis: the content-hash → scores cache and the wake-up channel for `wait=true` callers."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

VERDICT_CHANNEL_PREFIX = "gova:verdict:"


def connect(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, decode_responses=False)


def scores_key(model: str, content_hash: str) -> str:
    return f"gova:scores:{model}:{content_hash}"


def verdict_channel(tenant_id: str, content_id: str) -> str:
    return f"{VERDICT_CHANNEL_PREFIX}{tenant_id}:{content_id}"


async def cached_scores(r: aioredis.Redis, model: str, hashes: list[str]) -> list[dict | None]:
    """Scores for each hash, None where not cached; one round trip for the batch."""
    if not hashes:
        return []
    raws = await r.mget([scores_key(model, h) for h in hashes])
    return [json.loads(raw) if raw else None for raw in raws]


async def cache_scores(
    r: aioredis.Redis, model: str, items: list[tuple[str, dict]], ttl_s: int
) -> None:
    async with r.pipeline(transaction=False) as pipe:
        for content_hash, scores in items:
            pipe.set(scores_key(model, content_hash), json.dumps(scores), ex=ttl_s)
        await pipe.execute()


async def publish_verdicts(r: aioredis.Redis, verdicts: list[tuple[str, str, bytes]]) -> None:
    async with r.pipeline(transaction=False) as pipe:
        for tenant_id, content_id, payload in verdicts:
            pipe.publish(verdict_channel(tenant_id, content_id), payload)
        await pipe.execute()
