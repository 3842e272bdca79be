"""Redis: the content-hash → scores cache, pending markers, and wake-ups for `wait=true`.

Redis speeds Gova up but is never the record: every call here is best effort, so an outage
costs cache hits and prompt wake-ups (callers fall back to polling PostgreSQL), never a
verdict.
"""

from __future__ import annotations

import json
import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

VERDICT_CHANNEL_PREFIX = "gova:verdict:"
PENDING_TTL_S = 3_600


def connect(url: str) -> aioredis.Redis:
    # A pooled connection that died with a Redis restart is retried once on a fresh one,
    # so the first command after the restart does not fail.
    return aioredis.from_url(
        url,
        decode_responses=False,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def scores_key(model: str, content_hash: str) -> str:
    return f"gova:scores:{model}:{content_hash}"


def pending_key(tenant_id: str, content_id: str) -> str:
    return f"gova:pending:{tenant_id}:{content_id}"


def verdict_channel(tenant_id: str, content_id: str) -> str:
    return f"{VERDICT_CHANNEL_PREFIX}{tenant_id}:{content_id}"


def _unavailable(what: str, exc: Exception) -> None:
    log.warning("redis unavailable, %s skipped: %s", what, exc)


async def cached_scores(r: aioredis.Redis, model: str, hashes: list[str]) -> list[dict | None]:
    """Scores for each hash, None where not cached; one round trip for the batch."""
    if not hashes:
        return []
    try:
        raws = await r.mget([scores_key(model, h) for h in hashes])
    except RedisError as exc:
        _unavailable("score cache lookup", exc)
        return [None] * len(hashes)
    return [json.loads(raw) if raw else None for raw in raws]


async def cache_scores(
    r: aioredis.Redis, model: str, items: list[tuple[str, dict]], ttl_s: int
) -> None:
    try:
        async with r.pipeline(transaction=False) as pipe:
            for content_hash, scores in items:
                pipe.set(scores_key(model, content_hash), json.dumps(scores), ex=ttl_s)
            await pipe.execute()
    except RedisError as exc:
        _unavailable("score caching", exc)


async def publish_verdicts(r: aioredis.Redis, verdicts: list[tuple[str, str, bytes]]) -> None:
    try:
        async with r.pipeline(transaction=False) as pipe:
            for tenant_id, content_id, payload in verdicts:
                pipe.publish(verdict_channel(tenant_id, content_id), payload)
            await pipe.execute()
    except RedisError as exc:
        _unavailable("verdict wake-up", exc)


async def mark_pending(r: aioredis.Redis, tenant_id: str, content_ids: list[str]) -> None:
    try:
        async with r.pipeline(transaction=False) as pipe:
            for cid in content_ids:
                pipe.set(pending_key(tenant_id, cid), b"1", ex=PENDING_TTL_S)
            await pipe.execute()
    except RedisError as exc:
        _unavailable("pending marker", exc)


async def is_pending(r: aioredis.Redis, tenant_id: str, content_id: str) -> bool:
    try:
        return bool(await r.exists(pending_key(tenant_id, content_id)))
    except RedisError as exc:
        _unavailable("pending lookup", exc)
        return False
