"""API keys → tenants, within bounds: valid lookups cached briefly, failures throttled.

Only a key that found a tenant is cached, in a bounded TTL cache: caching every key seen,
unknown ones included, let a stream of random keys grow the process without end. Unknown
keys are instead counted per client address (`auth_throttle`), which bounds the database
queries a key-guesser can cause. A cached key passes even from a throttled address, so a
tenant sharing an address (a NAT, a proxy) with a guesser keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache
from fastapi import HTTPException, status

from gova.api.auth_throttle import FailureThrottle
from gova.schemas import Policy
from gova.settings import Settings
from gova.storage.interface import Tenants
from gova.storage.postgres import hash_key


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    tier: str
    policy: Policy


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


class Authenticator:
    """The process's key cache and failure throttle, sized by settings."""

    def __init__(
        self,
        *,
        cache_size: int = 10_000,
        cache_ttl_s: float = 30.0,
        failures_per_minute: int = 20,
        throttle_size: int = 10_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenants: TTLCache[bytes, Tenant] = TTLCache(cache_size, cache_ttl_s, timer)
        self.failures = FailureThrottle(failures_per_minute, maxsize=throttle_size, timer=timer)

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        return cls(
            cache_size=settings.auth_cache_size,
            cache_ttl_s=settings.auth_cache_ttl_s,
            failures_per_minute=settings.auth_failures_per_minute,
            throttle_size=settings.auth_throttle_size,
        )

    async def tenant_for(self, key: str, client: str, tenants: Tenants) -> Tenant:
        """The key's tenant; 401 for an unknown key, 429 once `client` has failed too often."""
        digest = hash_key(key)
        if (tenant := self.tenants.get(digest)) is not None:
            return tenant
        if (wait := self.failures.retry_after(client)) is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many failed authentications from this address; retry in {wait}s",
                headers={"Retry-After": str(wait)},
            )
        row = await tenants.for_key(key)
        if row is None:
            self.failures.failed(client)
            raise unauthorised("invalid or revoked API key")
        tenant = Tenant(row.id, row.name, row.tier, row.policy)
        self.tenants[digest] = tenant
        return tenant

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop cached lookups for a tenant whose policy or keys changed."""
        for digest in list(self.tenants):
            tenant = self.tenants.get(digest)
            if tenant is not None and tenant.id == tenant_id:
                self.tenants.pop(digest, None)
