"""Bearer API keys → tenant. Keys are stored hashed; lookups are cached briefly in memory."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status

from gova.api.state import ApiState, get_state
from gova.schemas import Policy
from gova.storage.postgres import hash_key

CACHE_TTL_S = 30.0
_cache: dict[bytes, tuple[float, Tenant | None]] = {}


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    tier: str
    policy: Policy


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_tenant(request: Request, state: ApiState = Depends(get_state)) -> Tenant:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorised("missing API key: send 'Authorization: Bearer <key>'")
    digest = hash_key(key.strip())
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is None or hit[0] < now:
        row = await state.storage.tenants.for_key(key.strip())
        tenant = Tenant(row.id, row.name, row.tier, row.policy) if row else None
        hit = (now + CACHE_TTL_S, tenant)
        _cache[digest] = hit
    if hit[1] is None:
        raise _unauthorised("invalid or revoked API key")
    return hit[1]


def forget_tenant(tenant_id: str) -> None:
    """Drop cached lookups for a tenant whose policy or keys changed."""
    for digest, (_, tenant) in list(_cache.items()):
        if tenant is not None and tenant.id == tenant_id:
            _cache.pop(digest, None)
