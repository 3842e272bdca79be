"""The migration runner: SQL files in `migrations/`, applied in name order, once each.

Each applied file's SHA-256 is recorded; a file edited after it was applied is an error (the
database no longer matches what the file says), never silently skipped. Rows applied before
checksums were kept get theirs on the first run that sees them.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import asyncpg

LOCK_ID = 4242


class MigrationError(RuntimeError):
    """The applied migrations and the files disagree; the message says which and how."""


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every migration file, in the order they apply."""
    folder = resources.files("gova.storage") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations in order, under an advisory lock; return those applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
        done = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for version, sql in migration_files():
            digest = checksum(sql)
            if version in done:
                if done[version] is None:
                    await conn.execute(
                        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
                        version,
                        digest,
                    )
                elif done[version] != digest:
                    raise MigrationError(
                        f"migration {version} was edited after it was applied (checksum "
                        f"{done[version][:12]}… recorded, {digest[:12]}… on disk): restore the "
                        f"file and put the change in a new migration"
                    )
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    version,
                    digest,
                )
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    return applied


async def run_migrations(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
