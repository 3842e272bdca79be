"""Per-tenant token bucket for the endpoints that score in the API process.

The bucket lives in Redis and is updated by one Lua script, so several API processes share
it and concurrent requests cannot both spend the same tokens; Redis's clock is the only
clock, so skew between API hosts does not matter.

Redis is best effort in Gova (see gova/cache.py): when it is unreachable requests are
allowed, unmetered, and a warning is logged once per outage rather than on every request.
"""

from __future__ import annotations

import logging
import math

from fastapi import HTTPException, status
from redis.exceptions import RedisError

from gova.api.state import ApiState

log = logging.getLogger(__name__)

# KEYS[1]: the bucket. ARGV: burst, refill per second, cost. Returns {allowed, wait_s}.
_TAKE = """
redis.replicate_commands()
local burst = tonumber(ARGV[1])
local per_s = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * per_s)
local allowed, wait = 0, 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / per_s
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / per_s + 1) * 1000))
return {allowed, tostring(wait)}
"""

_redis_away = False


def bucket_key(tenant_id: str) -> str:
    return f"gova:ratelimit:tenant:{tenant_id}"


async def charge(
    state: ApiState,
    tenant_id: str,
    cost: int,
    *,
    burst: float | None = None,
    per_s: float | None = None,
) -> None:
    """Spend `cost` tokens of the tenant's bucket or raise 429 with `Retry-After`.

    A request costing more than the whole bucket is charged the whole bucket, so a large
    batch waits for a full bucket instead of being refused for ever.
    """
    global _redis_away
    burst = state.settings.api_rate_burst if burst is None else burst
    per_s = state.settings.api_rate_per_s if per_s is None else per_s
    try:
        allowed, wait = await state.redis.register_script(_TAKE)(
            keys=[bucket_key(tenant_id)], args=[burst, per_s, min(cost, burst)]
        )
    except RedisError as exc:
        if not _redis_away:
            log.warning("redis unavailable, tenant rate limit not enforced: %s", exc)
        _redis_away = True
        return
    _redis_away = False
    if not allowed:
        retry_after = max(1, math.ceil(float(wait)))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit exceeded: {burst:g} inputs at once, refilled at {per_s:g}/s "
            f"per tenant; this request needs {cost}; retry in {retry_after}s",
            headers={"Retry-After": str(retry_after)},
        )
