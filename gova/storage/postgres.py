"""The storage interfaces (`gova.storage.interface`) on PostgreSQL, through one asyncpg pool."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime

import asyncpg

from gova.schemas import DeadLetter, Policy, Verdict
from gova.schemas.actions import ActionEvent, ActionStatus, HistoryEntry
from gova.storage.interface import AuthorHistory, ModeratorRecord, TenantRecord
from gova.storage.postgres_media import PgMedia

KEY_PREFIX = "gova_"

# Errors that mean "the database is away", not "this query is wrong".
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    TimeoutError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection
    )


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class PgTenants:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create_key(self, tenant_id: str, label: str = "", *, rotate: bool = False) -> str:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO tenants (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING",
                tenant_id,
            )
            if rotate:
                await conn.execute(
                    "UPDATE api_keys SET revoked_at = now()"
                    " WHERE tenant_id = $1 AND label = $2 AND revoked_at IS NULL",
                    tenant_id,
                    label,
                )
            await conn.execute(
                "INSERT INTO api_keys (tenant_id, prefix, key_hash, label) VALUES ($1,$2,$3,$4)",
                tenant_id,
                key[:12],
                hash_key(key),
                label,
            )
        return key

    async def for_key(self, key: str) -> TenantRecord | None:
        row = await self.pool.fetchrow(
            "SELECT t.id, t.name, t.tier, t.policy FROM api_keys k"
            " JOIN tenants t ON t.id = k.tenant_id"
            " WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
            hash_key(key),
        )
        return self._record(row) if row else None

    async def get(self, tenant_id: str) -> TenantRecord | None:
        row = await self.pool.fetchrow(
            "SELECT id, name, tier, policy FROM tenants WHERE id = $1", tenant_id
        )
        return self._record(row) if row else None

    @staticmethod
    def _record(row: asyncpg.Record) -> TenantRecord:
        return TenantRecord(
            row["id"], row["name"], row["tier"], Policy.model_validate(row["policy"])
        )

    async def set_policy(self, tenant_id: str, policy: Policy) -> None:
        await self.pool.execute(
            "UPDATE tenants SET policy = $2 WHERE id = $1", tenant_id, policy.model_dump()
        )

    async def set_discord(self, tenant_id: str, discord: dict) -> None:
        await self.pool.execute("UPDATE tenants SET discord = $2 WHERE id = $1", tenant_id, discord)

    async def get_discord(self, tenant_id: str) -> dict:
        return (
            await self.pool.fetchval("SELECT discord FROM tenants WHERE id = $1", tenant_id) or {}
        )


def _public(row: asyncpg.Record) -> dict:
    """The stored verdict in the model's field order (jsonb reorders keys), plus stored_at."""
    stored = Verdict.model_validate(row["verdict"]).model_dump(mode="json")
    stored["stored_at"] = row["stored_at"].timestamp()
    return stored


class PgVerdicts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def store(self, verdicts: list[Verdict]) -> list[dict]:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO moderation_results (tenant_id, content_id, decided_by, author_id,"
                " content_type, content_hash, decision, flagged, scores, verdict, received_at,"
                " decided_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
                " ON CONFLICT (tenant_id, content_id) DO NOTHING",
                [
                    (
                        v.tenant_id,
                        v.content_id,
                        v.decided_by,
                        v.author_id,
                        v.content_type,
                        v.content_hash,
                        v.decision,
                        v.flagged,
                        v.scores,
                        v.model_dump(mode="json"),
                        _ts(v.received_at),
                        _ts(v.decided_at),
                    )
                    for v in verdicts
                ],
            )
            scored = [v for v in verdicts if v.model is not None]
            await conn.executemany(
                "INSERT INTO evaluation_events (tenant_id, content_id, stage, evaluator, scores,"
                " behavior_score) VALUES ($1,$2,'classify',$3,$4,$5)"
                " ON CONFLICT (tenant_id, content_id, stage) DO NOTHING",
                [(v.tenant_id, v.content_id, v.model, v.scores, v.behaviour.score) for v in scored],
            )
            reviewed = [v for v in verdicts if v.review is not None and v.review.output is not None]
            await conn.executemany(
                "INSERT INTO evaluation_events (tenant_id, content_id, stage, evaluator, scores,"
                " severity_score, behavior_score, tokens, latency_ms, prompt_version)"
                " VALUES ($1,$2,'review',$3,$4,$5,$6,$7,$8,$9)"
                " ON CONFLICT (tenant_id, content_id, stage) DO NOTHING",
                [
                    (
                        v.tenant_id,
                        v.content_id,
                        v.review.model,
                        v.review.output.model_dump(mode="json"),
                        v.review.output.severity_score,
                        v.behaviour.score,
                        v.review.tokens,
                        v.review.latency_ms,
                        v.review.prompt_version,
                    )
                    for v in reviewed
                ],
            )
            await conn.executemany(
                "INSERT INTO audit_logs (tenant_id, content_id, stage, event, detail)"
                " VALUES ($1,$2,$3,$4,$5)"
                " ON CONFLICT (tenant_id, content_id, stage, event) DO NOTHING",
                [
                    (
                        v.tenant_id,
                        v.content_id,
                        v.decided_by,
                        f"decision:{v.decision}",
                        {"flagged": v.flagged, "thresholds": v.thresholds},
                    )
                    for v in verdicts
                ],
            )
            await conn.executemany(
                "INSERT INTO users (tenant_id, user_id, behavior_score, strikes, last_seen_at)"
                " VALUES ($1,$2,$3,$4,$5) ON CONFLICT (tenant_id, user_id) DO UPDATE SET"
                " behavior_score = EXCLUDED.behavior_score, strikes = EXCLUDED.strikes,"
                " last_seen_at = EXCLUDED.last_seen_at"
                " WHERE users.last_seen_at IS NULL OR users.last_seen_at <= EXCLUDED.last_seen_at",
                [
                    (
                        v.tenant_id,
                        v.author_id,
                        v.behaviour.score,
                        v.behaviour.strikes,
                        _ts(v.received_at),
                    )
                    for v in verdicts
                ],
            )
            rows = await conn.fetch(
                "SELECT r.verdict, r.stored_at FROM moderation_results r"
                " JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, content_id)"
                " USING (tenant_id, content_id)",
                [v.tenant_id for v in verdicts],
                [v.content_id for v in verdicts],
            )
        return [_public(r) for r in rows]

    async def get_many(self, tenant_id: str, content_ids: list[str]) -> dict[str, dict]:
        rows = await self.pool.fetch(
            "SELECT content_id, verdict, stored_at FROM moderation_results"
            " WHERE tenant_id = $1 AND content_id = ANY($2::text[])",
            tenant_id,
            content_ids,
        )
        return {r["content_id"]: _public(r) for r in rows}

    async def get(self, tenant_id: str, content_id: str) -> dict | None:
        return (await self.get_many(tenant_id, [content_id])).get(content_id)


def _pg_text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a poison payload may."""
    return value.replace("\x00", "\ufffd") if value else value


class PgDeadLetters:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def store(self, letters: list[DeadLetter]) -> None:
        await self.pool.executemany(
            'INSERT INTO dead_letters (topic, partition, "offset", stage, tenant_id, content_id,'
            " key, error, payload, failed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
            ' ON CONFLICT (topic, partition, "offset", stage) DO NOTHING',
            [
                (
                    d.topic,
                    d.partition if d.partition is not None else -1,
                    d.offset if d.offset is not None else -1,
                    d.stage,
                    *d.subject(),
                    _pg_text(d.key),
                    _pg_text(d.error),
                    _pg_text(d.payload),
                    _ts(d.failed_at),
                )
                for d in letters
            ],
        )

    async def failure(self, tenant_id: str, content_id: str) -> dict | None:
        row = await self.pool.fetchrow(
            "SELECT stage, error, failed_at FROM dead_letters"
            " WHERE tenant_id = $1 AND content_id = $2 ORDER BY failed_at DESC LIMIT 1",
            tenant_id,
            content_id,
        )
        if row is None:
            return None
        return {
            "status": "failed",
            "tenant_id": tenant_id,
            "content_id": content_id,
            "stage": row["stage"],
            "error": row["error"],
            "failed_at": row["failed_at"].timestamp(),
        }


class PgReviewSetup:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def set_llm(self, tenant_id: str, llm: dict) -> None:
        await self.pool.execute("UPDATE tenants SET llm = $2 WHERE id = $1", tenant_id, llm)

    async def get_llm(self, tenant_id: str) -> dict:
        return await self.pool.fetchval("SELECT llm FROM tenants WHERE id = $1", tenant_id) or {}

    async def month_tokens(self, tenant_id: str) -> int:
        return await self.pool.fetchval(
            "SELECT coalesce(sum(tokens), 0)::bigint FROM llm_usage"
            " WHERE tenant_id = $1 AND month = date_trunc('month', now())::date",
            tenant_id,
        )

    async def add_usage(self, tenant_id: str, moderator: str, tokens: int) -> None:
        await self.pool.execute(
            "INSERT INTO llm_usage (tenant_id, moderator, month, tokens, reviews)"
            " VALUES ($1, $2, date_trunc('month', now())::date, $3, 1)"
            " ON CONFLICT (tenant_id, moderator, month) DO UPDATE SET"
            " tokens = llm_usage.tokens + EXCLUDED.tokens, reviews = llm_usage.reviews + 1",
            tenant_id,
            moderator,
            tokens,
        )

    async def usage(self, tenant_id: str) -> list[dict]:
        rows = await self.pool.fetch(
            "SELECT moderator, month, tokens, reviews FROM llm_usage WHERE tenant_id = $1"
            " ORDER BY month DESC, moderator",
            tenant_id,
        )
        return [{**dict(r), "month": r["month"].isoformat()} for r in rows]


class PgBehaviour:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def authors_with_history(self) -> list[AuthorHistory]:
        rows = await self.pool.fetch(
            "SELECT tenant_id, user_id, behavior_score, strikes, last_seen_at FROM users"
            " WHERE strikes > 0 OR behavior_score > 0"
        )
        return [AuthorHistory(*r) for r in rows]


class PgModerators:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def put(self, tenant_id: str, name: str, config: dict) -> None:
        await self.pool.execute(
            "INSERT INTO moderators (tenant_id, name, config) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id, name) DO UPDATE SET config = EXCLUDED.config",
            tenant_id,
            name,
            config,
        )

    async def set_running(self, tenant_id: str, name: str, running: bool) -> bool:
        result = await self.pool.execute(
            "UPDATE moderators SET status = $3 WHERE tenant_id = $1 AND name = $2",
            tenant_id,
            name,
            "running" if running else "stopped",
        )
        return result.split()[-1] != "0"

    @staticmethod
    def _record(row: asyncpg.Record) -> ModeratorRecord:
        return ModeratorRecord(
            row["tenant_id"], row["name"], row["config"], row["status"] == "running"
        )

    async def get(self, tenant_id: str, name: str) -> ModeratorRecord | None:
        row = await self.pool.fetchrow(
            "SELECT tenant_id, name, config, status FROM moderators"
            " WHERE tenant_id = $1 AND name = $2",
            tenant_id,
            name,
        )
        return self._record(row) if row else None

    async def all(self) -> list[ModeratorRecord]:
        rows = await self.pool.fetch("SELECT tenant_id, name, config, status FROM moderators")
        return [self._record(r) for r in rows]

    async def all_of(self, tenant_id: str) -> list[ModeratorRecord]:
        rows = await self.pool.fetch(
            "SELECT tenant_id, name, config, status FROM moderators WHERE tenant_id = $1"
            " ORDER BY name",
            tenant_id,
        )
        return [self._record(r) for r in rows]

    async def set_secret(self, tenant_id: str, name: str, kind: str, sealed: str) -> None:
        await self.pool.execute(
            "UPDATE moderators SET secrets = secrets || jsonb_build_object($3::text, $4::text)"
            " WHERE tenant_id = $1 AND name = $2",
            tenant_id,
            name,
            kind,
            sealed,
        )

    async def get_secret(self, tenant_id: str, name: str, kind: str) -> str | None:
        return await self.pool.fetchval(
            "SELECT secrets ->> $3 FROM moderators WHERE tenant_id = $1 AND name = $2",
            tenant_id,
            name,
            kind,
        )


_ACTION_COLUMNS = (
    "id, tenant_id, moderator, content_id, author_id, type, params, status, source, reason,"
    " target, history, created_at"
)


def _action(row: asyncpg.Record) -> ActionEvent:
    return ActionEvent.model_validate({**dict(row), "created_at": row["created_at"].timestamp()})


def _audit_rows(action: ActionEvent, entry: HistoryEntry) -> tuple:
    detail = {"action_id": action.id, "type": action.type, "params": action.params}
    if entry.error:
        detail["error"] = entry.error
    if entry.detail:
        detail["detail"] = entry.detail
    return (
        action.tenant_id,
        action.content_id,
        "actions",
        f"action:{action.id}:{entry.status}:{entry.at:.6f}",
        entry.by,
        detail,
    )


_AUDIT = (
    "INSERT INTO audit_logs (tenant_id, content_id, stage, event, actor, detail)"
    " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (tenant_id, content_id, stage, event) DO NOTHING"
)


class PgActions:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(self, actions: list[ActionEvent]) -> list[ActionEvent]:
        if not actions:
            return []
        async with self.pool.acquire() as conn, conn.transaction():
            new = set()
            for a in actions:  # a handful per item: one statement each keeps jsonb simple
                inserted = await conn.fetchval(
                    "INSERT INTO actions (id, tenant_id, moderator, content_id, author_id, type,"
                    " params, status, source, reason, target, history, created_at)"
                    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
                    " ON CONFLICT (id) DO NOTHING RETURNING id",
                    a.id,
                    a.tenant_id,
                    a.moderator,
                    a.content_id,
                    a.author_id,
                    a.type,
                    a.params,
                    a.status,
                    a.source,
                    a.reason,
                    a.target.model_dump(),
                    [h.model_dump() for h in a.history],
                    _ts(a.created_at),
                )
                if inserted:
                    new.add(inserted)
            await conn.executemany(
                _AUDIT, [_audit_rows(a, h) for a in actions if a.id in new for h in a.history]
            )
            rows = await conn.fetch(
                f"SELECT {_ACTION_COLUMNS} FROM actions WHERE id = ANY($1::text[])",
                [a.id for a in actions],
            )
        by_id = {r["id"]: _action(r) for r in rows}
        return [by_id[a.id] for a in actions if a.id in by_id]

    async def get(self, tenant_id: str, action_id: str) -> ActionEvent | None:
        row = await self.pool.fetchrow(
            f"SELECT {_ACTION_COLUMNS} FROM actions WHERE tenant_id = $1 AND id = $2",
            tenant_id,
            action_id,
        )
        return _action(row) if row else None

    async def list(
        self,
        tenant_id: str,
        *,
        status: str | None = None,
        moderator: str | None = None,
        author: str | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[ActionEvent]:
        rows = await self.pool.fetch(
            f"SELECT {_ACTION_COLUMNS} FROM actions WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR moderator = $3)"
            " AND ($4::text IS NULL OR author_id = $4)"
            " AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))"
            " ORDER BY created_at DESC, id DESC LIMIT $7",
            tenant_id,
            status,
            moderator,
            author,
            _ts(before[0]) if before else None,
            before[1] if before else None,
            limit,
        )
        return [_action(r) for r in rows]

    async def for_content(self, tenant_id: str, content_id: str) -> list[ActionEvent]:
        rows = await self.pool.fetch(
            f"SELECT {_ACTION_COLUMNS} FROM actions WHERE tenant_id = $1 AND content_id = $2"
            " ORDER BY created_at, id",
            tenant_id,
            content_id,
        )
        return [_action(r) for r in rows]

    async def transition(
        self,
        tenant_id: str,
        action_id: str,
        leaving: tuple[ActionStatus, ...],
        entry: HistoryEntry,
        *,
        params: dict | None = None,
        claim: bool = False,
    ) -> ActionEvent | None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE actions SET status = $4, history = history || $5::jsonb,"
                " params = coalesce($6::jsonb, params), updated_at = clock_timestamp(),"
                " claimed_at = CASE WHEN $7 THEN clock_timestamp() ELSE claimed_at END"
                f" WHERE tenant_id = $1 AND id = $2 AND status = ANY($3::text[])"
                f" RETURNING {_ACTION_COLUMNS}",
                tenant_id,
                action_id,
                list(leaving),
                entry.status,
                [entry.model_dump()],
                params,
                claim,
            )
            if row is None:
                return None
            action = _action(row)
            await conn.execute(_AUDIT, *_audit_rows(action, entry))
        return action

    async def renew(self, tenant_id: str, action_id: str) -> bool:
        done = await self.pool.execute(
            "UPDATE actions SET claimed_at = clock_timestamp()"
            " WHERE tenant_id = $1 AND id = $2 AND status = 'EXECUTING'",
            tenant_id,
            action_id,
        )
        return done == "UPDATE 1"

    async def overdue(
        self, status: ActionStatus, older_than: float, *, claimed: bool = False
    ) -> list[ActionEvent]:
        column = "claimed_at" if claimed else "created_at"
        rows = await self.pool.fetch(
            f"SELECT {_ACTION_COLUMNS} FROM actions WHERE status = $1 AND {column} < $2"
            " ORDER BY created_at LIMIT 500",
            status,
            _ts(older_than),
        )
        return [_action(r) for r in rows]


class PostgresStorage:
    """Every aggregate's store over one pool (`gova.storage.interface.Storage`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.tenants = PgTenants(pool)
        self.verdicts = PgVerdicts(pool)
        self.dead_letters = PgDeadLetters(pool)
        self.review = PgReviewSetup(pool)
        self.behaviour = PgBehaviour(pool)
        self.moderators = PgModerators(pool)
        self.actions = PgActions(pool)
        self.media = PgMedia(pool)

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = 10) -> PostgresStorage:
        return cls(await create_pool(dsn, min_size=1, max_size=max_size))

    async def close(self) -> None:
        await self.pool.close()
