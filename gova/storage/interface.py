"""What Gova keeps, one `Protocol` per aggregate, apart from how it is kept.

The worker's stages and the API's routes depend on these interfaces; `gova.storage.postgres`
implements them on PostgreSQL (the model: Meta HMA's OpenMediaMatch `storage/interface.py`).
Every write is idempotent on its natural key, so a redelivered event never duplicates a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gova.schemas import DeadLetter, Policy, Verdict


@dataclass(frozen=True)
class TenantRecord:
    id: str
    name: str
    tier: str
    policy: Policy


@dataclass(frozen=True)
class AuthorHistory:
    """An author's behaviour as last stored, to seed an empty behaviour table."""

    tenant_id: str
    author_id: str
    score: float
    strikes: int
    last_seen_at: datetime


class Tenants(Protocol):
    """Tenants, their policy, and their API keys (stored as SHA-256 digests only)."""

    async def create_key(self, tenant_id: str, label: str = "", *, rotate: bool = False) -> str:
        """A new key for the tenant (created if new), shown this once; `rotate` revokes the
        tenant's older keys with the same label first."""

    async def for_key(self, key: str) -> TenantRecord | None:
        """The tenant a live key belongs to; None for unknown or revoked keys."""

    async def set_policy(self, tenant_id: str, policy: Policy) -> None: ...


class Verdicts(Protocol):
    async def store(self, verdicts: list[Verdict]) -> list[dict]:
        """Store verdicts and their side rows (evaluations, audit, the author's latest
        behaviour); return the stored verdict for each, which is the first one stored when a
        content id comes again."""

    async def get_many(self, tenant_id: str, content_ids: list[str]) -> dict[str, dict]:
        """Stored verdicts by content id, for those of `content_ids` that have one."""

    async def get(self, tenant_id: str, content_id: str) -> dict | None: ...


class DeadLetters(Protocol):
    async def store(self, letters: list[DeadLetter]) -> None: ...

    async def failure(self, tenant_id: str, content_id: str) -> dict | None:
        """What a caller asking for a dead-lettered item is told, if it was."""


class ReviewSetup(Protocol):
    """The reviewer's configuration (the tenant's LLM, its moderators) and token usage."""

    async def set_llm(self, tenant_id: str, llm: dict) -> None: ...

    async def get_llm(self, tenant_id: str) -> dict: ...

    async def set_moderator(self, tenant_id: str, name: str, config: dict) -> None: ...

    async def get_moderator(self, tenant_id: str, name: str) -> dict | None: ...

    async def month_tokens(self, tenant_id: str) -> int: ...

    async def add_usage(self, tenant_id: str, moderator: str, tokens: int) -> None: ...

    async def usage(self, tenant_id: str) -> list[dict]: ...


class Behaviour(Protocol):
    async def authors_with_history(self) -> list[AuthorHistory]:
        """Every author with strikes or a behaviour score above 0."""


class Storage(Protocol):
    tenants: Tenants
    verdicts: Verdicts
    dead_letters: DeadLetters
    review: ReviewSetup
    behaviour: Behaviour

    async def close(self) -> None: ...
