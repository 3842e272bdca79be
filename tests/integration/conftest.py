"""The whole stack: embedded infrastructure plus the worker and the API as real processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
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


# -- actions: a fake Discord on the port the worker calls, and Discord moderators ----------

BOT_TOKEN = "fake-bot-token-for-the-actions-tests"
GUILD = "424242424242"
CHANNEL = "777000000000000001"


def discord_port() -> int:
    """The port of GOVA_DISCORD_API_BASE, which the worker was started with (tests/conftest.py)."""
    return int(os.environ["GOVA_DISCORD_API_BASE"].split(":")[2].split("/")[0])


@pytest.fixture(scope="module")
def discord():
    from tests.fakes.discord_server import FakeDiscord

    with FakeDiscord(token=BOT_TOKEN, port=discord_port()) as fake:
        yield fake


@contextlib.asynccontextmanager
async def discord_tenant(running, pool, prefix: str):
    """A tenant of its own that acts with BOT_TOKEN: {"id", "key", "api" (its client)}."""
    tenant = await new_tenant(pool, f"{prefix}-{uuid.uuid4().hex[:6]}")
    async with client_for(running, tenant["key"]) as api:
        assert (await api.put("/api/v1/discord", json={"bot_token": BOT_TOKEN})).status_code == 200
        yield {**tenant, "api": api}


async def running_in_worker(running, tenant_id: str, name: str, expected: bool) -> dict:
    """Wait until the worker's moderator table says the moderator runs (or not); its state."""
    url = f"{running.monitor_url}/table/moderators/{tenant_id}:{name}/"

    async def applied():
        async with httpx.AsyncClient(timeout=5) as monitor:
            answer = await monitor.get(url)
        if answer.status_code != 200:
            return None
        value = answer.json()
        return value if isinstance(value, dict) and value.get("running") is expected else None

    return await eventually(applied, timeout=30)


async def discord_moderator(running, api, tenant_id: str, name: str, **config) -> dict:
    """PUT a Discord moderator of GUILD with `config` (a platform of its own wins), start it,
    and wait until the worker runs it; the PUT's answer."""
    body = {"platform": "discord", "discord": {"guild_id": GUILD}, **config}
    put = await api.put(f"/api/v1/moderators/{name}", json=body)
    assert put.status_code == 200, put.text
    started = await api.post(f"/api/v1/moderators/{name}/start")
    assert started.json()["status"] == "running", started.text
    await running_in_worker(running, tenant_id, name, True)
    return put.json()


def discord_message(
    text: str, author: str, message_id: str, *, moderator: str = "mods", guild: str = GUILD
) -> dict:
    metadata = {
        "source": "discord",
        "moderator": moderator,
        "guildId": guild,
        "channelId": CHANNEL,
        "messageId": message_id,
    }
    return event(new_id("d"), text, user=author, metadata=metadata)


def snowflake() -> str:
    """A fresh Discord-shaped id (an author or a message of its own per test)."""
    return str(900_000_000_000_000_000 + uuid.uuid4().int % 10**17)


async def actions_of(api, author: str, status: str | None = None) -> list[dict]:
    params = {"author": author, **({"status": status} if status else {})}
    answer = await api.get("/api/v1/actions", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def settled(api, action_id: str, timeout: float = 60) -> dict:
    """The action once it is EXECUTED or FAILED."""

    async def done():
        action = (await api.get(f"/api/v1/actions/{action_id}")).json()
        return action if action["status"] in ("EXECUTED", "FAILED") else None

    return await eventually(done, timeout=timeout)


async def records_of(bootstrap: str, topic: str, action_id: str) -> list:
    """Every record on `topic` that carries `action_id`, oldest first per partition."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: list = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found += [r for r in records if action_id.encode() in r.value]
            # Up to each fetch's high watermark (the broker's ListOffsets can be short).
            ends = [consumer.highwater(tp) for tp in tps]
            at = [await consumer.position(tp) for tp in tps]
            if None not in ends and all(p >= e for p, e in zip(at, ends, strict=True)):
                return found
        raise AssertionError(f"{topic} not read to its end within 20 s")
    finally:
        await consumer.stop()
