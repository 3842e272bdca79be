"""Test session setup: real embedded infrastructure on free ports in a fresh data directory.

The environment is set before anything imports `gova`, so the settings every module (and
every child process) reads point at this session's own broker, PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A short path: PostgreSQL's Unix socket path must stay under ~100 characters.
DATA_DIR = Path(tempfile.mkdtemp(prefix="gova-test-", dir="/tmp"))
for var in ("KAFKA_BROKER", "DATABASE_URL", "REDIS_URL"):
    os.environ.pop(var, None)
os.environ.update(
    GOVA_DATA_DIR=str(DATA_DIR),
    GOVA_API_PORT=str(_free_port()),
    GOVA_MONITOR_PORT=str(_free_port()),
    GOVA_EMBEDDED_KAFKA_PORT=str(_free_port()),
    GOVA_EMBEDDED_REDIS_PORT=str(_free_port()),
    GOVA_WAIT_TIMEOUT_S="10",
    # A small bucket, so tests can exhaust it; per-author keys keep tests apart.
    GOVA_RATE_LIMIT_BURST="8",
    GOVA_RATE_LIMIT_PER_S="0.001",
    # Batch changelog records, so restart tests meet the broker's end-offset defect.
    GOVA_PRODUCER_LINGER_S="0.05",
    GOVA_SECRET_KEY="q9mLmsO1bLF3dcBXpnx-0LgdqZ2m0m5VjDbxdUfDbC0=",
    # The reviewer: quick to notice config changes, a failing server and its recovery.
    GOVA_REVIEW_CONFIG_TTL_S="0.2",
    GOVA_REVIEW_TIMEOUT_S="2",
    GOVA_REVIEW_BREAKER_FAILURES="2",
    GOVA_REVIEW_BREAKER_RESET_S="2",
    GOVA_LLM_ALLOWED_HOSTS="127.0.0.1,localhost",
    # The webhook receivers in tests/fakes listen on loopback, which is refused unless listed.
    GOVA_WEBHOOK_ALLOWED_HOSTS="127.0.0.1,localhost",
    # Executors call a local fake Discord on this port (tests/integration/test_action_flow.py).
    GOVA_DISCORD_API_BASE=f"http://127.0.0.1:{_free_port()}/api/v10",
    GOVA_ACTION_SWEEP_INTERVAL_S="2",
    # Discord attachments come from a local fake CDN over TLS (tests/fakes/cdn.py writes its
    # CA here); Discord's own hosts are off the list, so no test reaches out.
    GOVA_DISCORD_ATTACHMENT_HOSTS="127.0.0.1",
    GOVA_DISCORD_ATTACHMENT_CA_FILE=str(DATA_DIR / "fake-cdn-ca.pem"),
    # Tests stand for many clients behind a proxy on 127.0.0.1 (X-Forwarded-For).
    GOVA_TRUSTED_PROXIES="127.0.0.1",
    # The contract test's fuzzer probes every operation with bad keys from one address, over
    # about two minutes: room for them all, while the throttle test still reaches the limit.
    GOVA_AUTH_FAILURES_PER_MINUTE="60",
    # Media limits small enough that tests reach them with small files.
    GOVA_IMAGE_MAX_BYTES="2000000",
    GOVA_IMAGE_MAX_PIXELS="4000000",
    GOVA_AUDIO_MAX_BYTES="3000000",
    GOVA_AUDIO_MAX_SECONDS="30",
    # A lost part of a multi-part item is given up on quickly.
    GOVA_PARTS_TIMEOUT_S="3",
    GOVA_PARTS_SWEEP_INTERVAL_S="0.5",
)


@pytest.fixture(scope="session")
def settings():
    from gova.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def stack(settings):
    """Broker, PostgreSQL and Redis, migrated and with every topic created."""
    from gova.runners.up import Stack

    s = Stack(settings)
    try:
        s.start_infra()
        s.prepare()
        yield s
    finally:
        s.stop_all()
        shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
async def pool(stack):
    from gova.storage.postgres import create_pool

    p = await create_pool(stack.settings.database())
    yield p
    await p.close()


@pytest.fixture(scope="session")
def storage(pool):
    from gova.storage import PostgresStorage

    return PostgresStorage(pool)


@pytest.fixture(scope="session")
async def redis(stack):
    from gova import cache

    r = cache.connect(stack.settings.redis())
    yield r
    await r.aclose()


async def new_tenant(pool, tenant_id: str) -> dict:
    """A tenant with an API key: {"id", "key"}."""
    from gova.storage import PostgresStorage

    key = await PostgresStorage(pool).tenants.create_key(tenant_id, "tests")
    return {"id": tenant_id, "key": key}


@pytest.fixture(scope="session")
async def tenant(pool):
    return await new_tenant(pool, "acme")
