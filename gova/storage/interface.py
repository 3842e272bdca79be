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
from gova.schemas.actions import ActionEvent, ActionStatus, HistoryEntry


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

    async def get(self, tenant_id: str) -> TenantRecord | None: ...

    async def set_policy(self, tenant_id: str, policy: Policy) -> None: ...

    async def set_discord(self, tenant_id: str, discord: dict) -> None:
        """The tenant's Discord settings (its bot token sealed by the caller)."""

    async def get_discord(self, tenant_id: str) -> dict: ...


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
    """The reviewer's configuration (the tenant's LLM) and token usage."""

    async def set_llm(self, tenant_id: str, llm: dict) -> None: ...

    async def get_llm(self, tenant_id: str) -> dict: ...

    async def month_tokens(self, tenant_id: str) -> int: ...

    async def add_usage(self, tenant_id: str, moderator: str, tokens: int) -> None: ...

    async def usage(self, tenant_id: str) -> list[dict]: ...


@dataclass(frozen=True)
class ModeratorRecord:
    tenant_id: str
    name: str
    config: dict
    running: bool


class Moderators(Protocol):
    """Each moderator's config, whether it runs, and the secrets it holds (encrypted by the
    caller)."""

    async def put(self, tenant_id: str, name: str, config: dict) -> None:
        """Create the moderator (stopped) or replace its config, keeping whether it runs."""

    async def set_running(self, tenant_id: str, name: str, running: bool) -> bool:
        """Start or stop an existing moderator; False if there is none of that name."""

    async def get(self, tenant_id: str, name: str) -> ModeratorRecord | None: ...

    async def all(self) -> list[ModeratorRecord]:
        """Every moderator of every tenant (to seed an empty moderator table)."""

    async def all_of(self, tenant_id: str) -> list[ModeratorRecord]: ...

    async def set_secret(self, tenant_id: str, name: str, kind: str, sealed: str) -> None: ...

    async def get_secret(self, tenant_id: str, name: str, kind: str) -> str | None: ...


class Actions(Protocol):
    """Actions through their lifecycle. Every status change is conditional on the status
    it leaves, appends to the action's history and writes an audit row, in one transaction,
    so two workers (or a worker and an approval) never both move the same action."""

    async def create(self, actions: list[ActionEvent]) -> list[ActionEvent]:
        """Store new actions (an id stored before is left as it is); return the stored ones."""

    async def get(self, tenant_id: str, action_id: str) -> ActionEvent | None: ...

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
        """Newest first; `before` is the (created_at, id) of the last item of the previous
        page."""

    async def for_content(self, tenant_id: str, content_id: str) -> list[ActionEvent]: ...

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
        """Move the action to `entry.status` if its status is one of `leaving`; None if it
        is not (or no such action). `claim` marks the time an executor took it."""

    async def renew(self, tenant_id: str, action_id: str) -> bool:
        """An executor still at work: its claim's time becomes now (the lease starts again);
        False when the action is no longer EXECUTING."""

    async def overdue(
        self, status: ActionStatus, older_than: float, *, claimed: bool = False
    ) -> list[ActionEvent]:
        """Actions in `status` created (or, with `claimed`, taken) before `older_than`."""


class Behaviour(Protocol):
    async def authors_with_history(self) -> list[AuthorHistory]:
        """Every author with strikes or a behaviour score above 0."""


@dataclass(frozen=True)
class BankEntry:
    """A known-bad image in a tenant's hash bank."""

    id: str
    pdq: str  # 64 hex digits
    label: str
    category: str
    created_at: datetime


class Media(Protocol):
    """Image and audio bytes, stored once per tenant and sha256, deleted when they expire;
    a tenant's hash bank of known-bad images; and the PDQ hashes of images already scored.
    Every read is scoped to one tenant."""

    async def put(
        self, tenant_id: str, sha256: str, kind: str, fmt: str, data: bytes, expires_at: float
    ) -> None:
        """Store the bytes (a second put of the same bytes only extends their expiry)."""

    async def get(self, tenant_id: str, sha256: str) -> bytes | None: ...

    async def delete_expired(self, now: float, *, seen_max_age_s: float | None = None) -> int:
        """Delete expired bytes (and seen hashes older than `seen_max_age_s`); how many."""

    async def bank_add(self, tenant_id: str, pdq: str, label: str, category: str) -> BankEntry:
        """Add a hash (the same hash twice is one entry: the first)."""

    async def bank_list(
        self, tenant_id: str, *, limit: int = 100, after: str | None = None
    ) -> list[BankEntry]: ...

    async def bank_remove(self, tenant_id: str, entry_id: str) -> bool: ...

    async def bank_match(
        self, tenant_id: str, pdq: str, max_distance: int
    ) -> tuple[BankEntry, int] | None:
        """The nearest entry within `max_distance` (Hamming), with its distance."""

    async def seen_near(
        self, tenant_id: str, pdq: str, model: str, max_distance: int
    ) -> tuple[str, dict[str, float], int] | None:
        """(content id, scores, distance) of the nearest image scored by `model` before."""

    async def remember(
        self, tenant_id: str, rows: list[tuple[str, str, str, dict[str, float]]]
    ) -> None:
        """Keep (content id, pdq, model, scores) of scored images (idempotent by id)."""


class Storage(Protocol):
    tenants: Tenants
    verdicts: Verdicts
    dead_letters: DeadLetters
    review: ReviewSetup
    behaviour: Behaviour
    moderators: Moderators
    actions: Actions
    media: Media

    async def close(self) -> None: ...
