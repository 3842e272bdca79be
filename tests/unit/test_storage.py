"""The migration runner and the storage's own guarantees, on the real PostgreSQL."""

from __future__ import annotations

import time
import uuid

import asyncpg
import pytest

from gova.schemas import Verdict
from gova.storage.migrations import MigrationError, migrate, migration_files


@pytest.fixture()
async def scratch_db(stack):
    """A database of its own, so migrations start from nothing."""
    name = f"mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.settings.database())
    await admin.execute(f"CREATE DATABASE {name}")
    conn = await asyncpg.connect(stack.settings.database(), database=name)
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


async def test_migrations_apply_once_in_order_with_checksums(scratch_db):
    versions = [v for v, _ in migration_files()]
    assert await migrate(scratch_db) == versions
    assert await migrate(scratch_db) == []
    rows = await scratch_db.fetch("SELECT version, checksum FROM schema_migrations")
    assert sorted(r["version"] for r in rows) == versions
    assert all(len(r["checksum"]) == 64 for r in rows)


async def test_an_edited_applied_migration_is_an_error(scratch_db):
    await migrate(scratch_db)
    # What an edit of 002 after it was applied looks like from the database's side.
    await scratch_db.execute(
        "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = $1",
        migration_files()[1][0],
    )
    with pytest.raises(MigrationError, match="002_dead_letters was edited after it was applied"):
        await migrate(scratch_db)


async def test_migrations_applied_before_checksums_get_theirs(scratch_db):
    await migrate(scratch_db)
    await scratch_db.execute("UPDATE schema_migrations SET checksum = NULL")
    assert await migrate(scratch_db) == []
    assert (
        await scratch_db.fetchval("SELECT count(*) FROM schema_migrations WHERE checksum IS NULL")
        == 0
    )


def verdict(cid: str, decision: str = "allow") -> Verdict:
    now = time.time()
    return Verdict(
        tenant_id="acme",
        content_id=cid,
        author_id="u1",
        content_type="text",
        decision=decision,
        received_at=now,
        decided_at=now,
    )


async def test_one_row_per_item_named_by_the_stage_that_decided(storage, pool, tenant):
    cid = f"s-{uuid.uuid4().hex[:8]}"
    first = await storage.verdicts.store([verdict(cid, "rate_limited")])
    again = await storage.verdicts.store([verdict(cid, "allow")])  # a later redelivery
    assert first[0]["decision"] == again[0]["decision"] == "rate_limited"
    rows = await pool.fetch(
        "SELECT decided_by FROM moderation_results WHERE tenant_id = 'acme' AND content_id = $1",
        cid,
    )
    assert [r["decided_by"] for r in rows] == ["ingest"]
