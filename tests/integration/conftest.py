"""The whole stack: embedded infrastructure plus the worker and the API as real processes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.conftest import new_tenant


@pytest.fixture(scope="session")
def running(stack):
    stack.start_worker()
    stack.start_api()
    return stack


@pytest.fixture(scope="session")
async def tenant_b(pool):
    """A second tenant, to show tenants never see each other's data."""
    return await new_tenant(pool, "globex")


def client_for(running, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=running.api_url, headers=headers, timeout=30)


@pytest.fixture()
async def api(running, tenant):
    async with client_for(running, tenant["key"]) as client:
        yield client


def new_id(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def event(cid: str, text: str, user: str | None = None, **kw) -> dict:
    """A text ContentEvent; each gets its own author unless one is named (rate limits)."""
    user = user or new_id("author")
    return {"id": cid, "userId": user, "contentType": "text", "content": text, **kw}


async def eventually(probe, timeout: float = 20.0, interval: float = 0.05):
    """Poll `probe` until it returns something truthy; fail with the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
