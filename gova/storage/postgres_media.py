"""`gova.storage.interface.Media` on PostgreSQL: bytea blobs, and PDQ hashes as bit(256)
compared with `bit_count(a # b)` (Hamming distance) inside the tenant's rows only."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import asyncpg

from gova.storage.interface import BankEntry


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def pdq_bits(pdq_hex: str) -> str:
    """64 hex digits as the 256-character bit string PostgreSQL's bit(256) reads."""
    if len(pdq_hex) != 64:
        raise ValueError("a PDQ hash is 64 hex digits")
    return bin(int(pdq_hex, 16))[2:].zfill(256)


def _hex(bits: asyncpg.BitString) -> str:
    return f"{bits.to_int():064x}"


def _entry(row: asyncpg.Record) -> BankEntry:
    return BankEntry(row["id"], _hex(row["pdq"]), row["label"], row["category"], row["created_at"])


_BANK = "id, pdq, label, category, created_at"


class PgMedia:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def put(
        self, tenant_id: str, sha256: str, kind: str, fmt: str, data: bytes, expires_at: float
    ) -> None:
        await self.pool.execute(
            "INSERT INTO media_blobs (tenant_id, sha256, kind, format, size, data, expires_at)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (tenant_id, sha256) DO UPDATE"
            " SET expires_at = greatest(media_blobs.expires_at, EXCLUDED.expires_at)",
            tenant_id,
            sha256,
            kind,
            fmt,
            len(data),
            data,
            _ts(expires_at),
        )

    async def get(self, tenant_id: str, sha256: str) -> bytes | None:
        return await self.pool.fetchval(
            "SELECT data FROM media_blobs WHERE tenant_id = $1 AND sha256 = $2",
            tenant_id,
            sha256,
        )

    async def delete_expired(self, now: float, *, seen_max_age_s: float | None = None) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.execute("DELETE FROM media_blobs WHERE expires_at <= $1", _ts(now))
            if seen_max_age_s is not None:
                await conn.execute(
                    "DELETE FROM image_hashes_seen WHERE created_at <= $1",
                    _ts(now - seen_max_age_s),
                )
        return int(deleted.split()[-1])

    async def bank_add(self, tenant_id: str, pdq: str, label: str, category: str) -> BankEntry:
        async with self.pool.acquire() as conn, conn.transaction():
            # One entry per hash per tenant: serialise adds of the same tenant.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"bank:{tenant_id}")
            row = await conn.fetchrow(
                f"SELECT {_BANK} FROM image_hash_bank"
                " WHERE tenant_id = $1 AND pdq = $2::text::bit(256)",
                tenant_id,
                pdq_bits(pdq),
            )
            if row is None:
                row = await conn.fetchrow(
                    "INSERT INTO image_hash_bank (tenant_id, id, pdq, label, category)"
                    f" VALUES ($1,$2,$3::text::bit(256),$4,$5) RETURNING {_BANK}",
                    tenant_id,
                    "hb_" + secrets.token_hex(8),
                    pdq_bits(pdq),
                    label,
                    category,
                )
        return _entry(row)

    async def bank_list(
        self, tenant_id: str, *, limit: int = 100, after: str | None = None
    ) -> list[BankEntry]:
        rows = await self.pool.fetch(
            f"SELECT {_BANK} FROM image_hash_bank WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3",
            tenant_id,
            after,
            limit,
        )
        return [_entry(r) for r in rows]

    async def bank_remove(self, tenant_id: str, entry_id: str) -> bool:
        result = await self.pool.execute(
            "DELETE FROM image_hash_bank WHERE tenant_id = $1 AND id = $2", tenant_id, entry_id
        )
        return result.split()[-1] != "0"

    async def bank_match(
        self, tenant_id: str, pdq: str, max_distance: int
    ) -> tuple[BankEntry, int] | None:
        row = await self.pool.fetchrow(
            f"SELECT {_BANK}, bit_count(pdq # $2::text::bit(256)) AS distance FROM image_hash_bank"
            " WHERE tenant_id = $1 AND bit_count(pdq # $2::text::bit(256)) <= $3"
            " ORDER BY distance, id LIMIT 1",
            tenant_id,
            pdq_bits(pdq),
            max_distance,
        )
        return (_entry(row), int(row["distance"])) if row else None

    async def seen_near(
        self, tenant_id: str, pdq: str, model: str, max_distance: int
    ) -> tuple[str, dict[str, float], int] | None:
        row = await self.pool.fetchrow(
            "SELECT content_id, scores, bit_count(pdq # $2::text::bit(256)) AS distance"
            " FROM image_hashes_seen WHERE tenant_id = $1 AND model = $3"
            " AND bit_count(pdq # $2::text::bit(256)) <= $4 ORDER BY distance, created_at LIMIT 1",
            tenant_id,
            pdq_bits(pdq),
            model,
            max_distance,
        )
        return (row["content_id"], row["scores"], int(row["distance"])) if row else None

    async def remember(
        self, tenant_id: str, rows: list[tuple[str, str, str, dict[str, float]]]
    ) -> None:
        await self.pool.executemany(
            "INSERT INTO image_hashes_seen (tenant_id, content_id, pdq, model, scores)"
            " VALUES ($1,$2,$3::text::bit(256),$4,$5)"
            " ON CONFLICT (tenant_id, content_id) DO NOTHING",
            [(tenant_id, cid, pdq_bits(pdq), model, scores) for cid, pdq, model, scores in rows],
        )
