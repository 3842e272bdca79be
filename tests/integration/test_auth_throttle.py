"""API keys: valid lookups cached within bounds, failed ones throttled per client address.

Against the running API: a key-guesser behind a trusted proxy is answered 401 until the
limit, then 429 with Retry-After (in each router's error format), while other addresses and
cached keys go on working. In this process: the caches stay bounded whatever the keys, and
the throttle's window opens and closes on its clock. Also how the client address is found.
"""

from __future__ import annotations

import secrets
import uuid
from types import SimpleNamespace

import httpx
import pytest
from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from gova.api.app import create_app
from gova.api.auth import current_tenant
from gova.api.key_cache import Authenticator
from gova.schemas import Policy
from gova.settings import Settings
from gova.storage.interface import TenantRecord
from tests.conftest import new_tenant

# The API process is started with the session's environment once the first test needs it,
# which is after collection: set here, this is in it.

ANALYZE = "/v1alpha1/comments:analyze"


def as_from(address: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Forwarded-For": address}


def guess() -> str:
    return f"gova_{secrets.token_urlsafe(16)}"


async def test_failed_keys_are_throttled_per_forwarded_address(running, pool, settings):
    limit = settings.auth_failures_per_minute
    assert limit > 0
    # Addresses of this run only (TEST-NET-2), so an earlier window cannot interfere.
    guesser, bystander = (
        f"198.51.100.{n}" for n in secrets.SystemRandom().sample(range(1, 255), 2)
    )
    cached = await new_tenant(pool, f"throttle-{uuid.uuid4().hex[:8]}")
    uncached = await new_tenant(pool, f"throttle-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=running.api_url, timeout=30) as http:

        async def policy(address: str, key: str) -> httpx.Response:
            return await http.get("/api/v1/policy", headers=as_from(address, key))

        assert (await policy(guesser, cached["key"])).status_code == 200
        for _ in range(limit):
            r = await policy(guesser, guess())
            assert r.status_code == 401, r.text
        refused = await policy(guesser, guess())
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "failed authentications" in refused.json()["detail"]

        # The compatibility routers answer it in their own envelopes.
        r = await http.post(
            "/v1/moderations", json={"input": "hi"}, headers=as_from(guesser, guess())
        )
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        ok = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
        r = await http.post(ANALYZE, json=ok, headers=as_from(guesser, guess()))
        assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        r = await http.post(
            ANALYZE, json=ok, params={"key": guess()}, headers={"X-Forwarded-For": guesser}
        )
        assert r.status_code == 429, r.text

        # A key already cached passes; one that is not waits too: no lookup is made for it.
        assert (await policy(guesser, cached["key"])).status_code == 200
        assert (await policy(guesser, uncached["key"])).status_code == 429

        # Another address has its own window, and once its lookup has cached the key, the
        # throttled address may use it too.
        assert (await policy(bystander, guess())).status_code == 401
        assert (await policy(bystander, uncached["key"])).status_code == 200
        assert (await policy(guesser, uncached["key"])).status_code == 200


# --- In this process -------------------------------------------------------------------------


class FakeTenants:
    """`storage.tenants` with some live keys, counting lookups."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys, self.lookups = keys, 0

    async def for_key(self, key: str) -> TenantRecord | None:
        self.lookups += 1
        tenant_id = self.keys.get(key)
        return TenantRecord(tenant_id, tenant_id, "free", Policy()) if tenant_id else None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def refused_with(auth: Authenticator, key: str, client: str, tenants) -> HTTPException:
    with pytest.raises(HTTPException) as refused:
        await auth.tenant_for(key, client, tenants)
    return refused.value


async def test_caches_stay_bounded_whatever_the_keys():
    auth = Authenticator(cache_size=100, failures_per_minute=3, throttle_size=50)
    live = {f"gova_live-{i}": f"tenant-{i}" for i in range(300)}
    tenants = FakeTenants(live)

    for i in range(5_000):
        refused = await refused_with(auth, guess(), f"10.1.{i // 250}.{i % 250}", tenants)
        assert refused.status_code == 401
    assert tenants.lookups == 5_000  # every unknown key was looked up: none cached as a miss
    assert len(auth.tenants) == 0
    assert len(auth.failures) == 50  # addresses tracked: the most recent, up to the bound

    for key, tenant_id in live.items():
        assert (await auth.tenant_for(key, "10.2.0.1", tenants)).id == tenant_id
    assert len(auth.tenants) == 100


async def test_the_throttle_window_opens_and_closes():
    clock = Clock()
    auth = Authenticator(cache_size=10, cache_ttl_s=30, failures_per_minute=3, timer=clock)
    tenants = FakeTenants({"gova_live": "acme", "gova_other": "globex"})
    assert (await auth.tenant_for("gova_live", "10.0.0.1", tenants)).id == "acme"

    for _ in range(3):
        assert (await refused_with(auth, guess(), "10.0.0.1", tenants)).status_code == 401
    lookups = tenants.lookups
    clock.now += 20
    refused = await refused_with(auth, guess(), "10.0.0.1", tenants)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "40"
    refused = await refused_with(auth, "gova_other", "10.0.0.1", tenants)  # live, not cached
    assert refused.status_code == 429
    assert tenants.lookups == lookups  # refused without asking the database
    assert (await auth.tenant_for("gova_live", "10.0.0.1", tenants)).id == "acme"  # cached
    assert (await refused_with(auth, guess(), "10.0.0.2", tenants)).status_code == 401

    clock.now += 39.5  # failures do not extend the window: it ends 60 s after the first
    assert (await refused_with(auth, guess(), "10.0.0.1", tenants)).headers["Retry-After"] == "1"
    clock.now += 0.5
    assert (await refused_with(auth, guess(), "10.0.0.1", tenants)).status_code == 401
    assert (await auth.tenant_for("gova_other", "10.0.0.1", tenants)).id == "globex"

    # Cached lookups live cache_ttl_s, and a tenant's can be dropped at once.
    lookups = tenants.lookups
    await auth.tenant_for("gova_other", "10.0.0.1", tenants)
    assert tenants.lookups == lookups
    auth.forget_tenant("globex")
    await auth.tenant_for("gova_other", "10.0.0.1", tenants)
    assert tenants.lookups == lookups + 1
    clock.now += 31
    await auth.tenant_for("gova_other", "10.0.0.1", tenants)
    assert tenants.lookups == lookups + 2


async def test_a_limit_of_zero_turns_the_throttle_off():
    auth = Authenticator(failures_per_minute=0)
    tenants = FakeTenants({})
    for _ in range(50):
        assert (await refused_with(auth, guess(), "10.0.0.1", tenants)).status_code == 401
    assert len(auth.failures) == 0


async def test_the_dependency_counts_failures_against_the_peer_address():
    """Behind no trusted proxy, the address is the connection's own."""
    state = SimpleNamespace(
        auth=Authenticator(failures_per_minute=1),
        storage=SimpleNamespace(tenants=FakeTenants({})),
    )

    async def status(peer: str) -> int:
        key = guess()
        scope = {"type": "http", "headers": [], "client": (peer, 5000)}
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=key)
        with pytest.raises(HTTPException) as refused:
            await current_tenant(Request(scope), credentials, state)
        return refused.value.status_code

    assert [await status("10.9.0.1") for _ in range(2)] == [401, 429]
    assert await status("10.9.0.2") == 401


# --- The client address ----------------------------------------------------------------------


async def client_seen(settings: Settings, peer: str, forwarded: str | None) -> str:
    """The address the app sees for a request from `peer` carrying X-Forwarded-For."""
    app = create_app(settings)

    @app.get("/_client")
    async def _client(request: Request) -> dict:
        return {"host": request.client.host}

    transport = httpx.ASGITransport(app, client=(peer, 5000))
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://gova") as http:
        return (await http.get("/_client", headers=headers)).json()["host"]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "seen"),
    [
        ("", "10.0.0.1", "203.0.113.9", "10.0.0.1"),  # by default the header is ignored
        ("10.0.0.1", "10.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "10.0.0.2", "203.0.113.9", "10.0.0.2"),  # an untrusted peer's claim
        # Right-most entry not itself a proxy: what the client wrote to the left is not read.
        ("10.0.0.1,10.0.0.7", "10.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        ("10.0.0.0/24", "10.0.0.1", "198.51.100.4, 10.0.0.9", "198.51.100.4"),
        ("10.0.0.1", "10.0.0.1", None, "10.0.0.1"),
    ],
)
async def test_the_client_address_comes_from_trusted_proxies_only(trusted, peer, forwarded, seen):
    settings = Settings(trusted_proxies=trusted)
    assert await client_seen(settings, peer, forwarded) == seen


@pytest.mark.parametrize("bad", ["*", "10.0.0.300", "proxy.internal", "10.0.0.1,,nope"])
def test_trusted_proxies_must_be_addresses(bad):
    with pytest.raises(ValueError, match="GOVA_TRUSTED_PROXIES"):
        Settings(trusted_proxies=bad)
