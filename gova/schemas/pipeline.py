"""Records that travel between stages. Every topic carries JSON of one of these."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gova.core.keys import author_key, review_key
from gova.schemas.content import ContentEvent, ContentType
from gova.schemas.media import Media
from gova.schemas.policy import Policy
from gova.schemas.review import Review

Decision = Literal["allow", "act", "rate_limited"]


class Behaviour(BaseModel):
    score: float = 0.0
    strikes: int = 0
    # Strikes within the strike window (GOVA_STRIKE_WINDOW_S): what a moderator's ladder counts.
    recent_strikes: int = 0


class PartResult(BaseModel):
    """One part of a multi-part item, as decide found it (part 0: the event's content)."""

    part: int
    # The attachment's `name`, when the sender gave one (part 0, the content, has none).
    name: str | None = None
    content_type: ContentType
    scores: dict[str, float] = Field(default_factory=dict)
    flagged: list[str] = Field(default_factory=list)
    model: str | None = None
    media: Media | None = None


class Submission(BaseModel):
    """content.raw: what the API (or a bridge) accepted, with the tenant's policy snapshot."""

    tenant_id: str
    event: ContentEvent
    received_at: float  # epoch seconds, when the API accepted it
    policy: Policy
    # Image and audio items: the stored bytes' reference and what is known of them
    # (`event.content` then holds the reference, never the bytes).
    media: Media | None = None
    # The stored attachments, in order (part 1…), and the image policy their images use.
    attachments: list[Media] = Field(default_factory=list)
    image_policy: Policy | None = None
    # Which part of the item this record is (0: the event's content) and how many it has.
    part: int = 0
    parts: int = 1

    @property
    def key(self) -> str:
        return author_key(self.tenant_id, self.event.user_id)


class Language(BaseModel):
    """The text's detected language, and whether the text model is measured to work in it."""

    model_config = ConfigDict(frozen=True)

    code: str
    confidence: float
    well_covered: bool


class Item(Submission):
    """content.text → content.scored → content.review: the folded text, the classifier's
    scores, then (for review) the author's behaviour as decide saw it."""

    text: str
    content_hash: str
    scores: dict[str, float] | None = None
    model: str | None = None
    language: Language | None = None
    cached: bool = False
    behaviour: Behaviour | None = None
    # A joined multi-part item: every part's result, and the parts that never came.
    part_results: list[PartResult] | None = None
    parts_missing: list[int] | None = None

    @property
    def channel_id(self) -> str | None:
        return self.event.metadata.channel_id

    @property
    def review_key(self) -> str:
        """content.review's key: a channel's items share a partition with its context."""
        return review_key(self.tenant_id, self.channel_id, self.event.user_id)

    @property
    def moderator(self) -> str:
        return self.event.metadata.moderator


class Verdict(BaseModel):
    """moderation.results: the decision for one item, as stored and as answered."""

    tenant_id: str
    content_id: str
    author_id: str
    content_type: ContentType
    decision: Decision
    scores: dict[str, float] = Field(default_factory=dict)
    flagged: list[str] = Field(default_factory=list)
    thresholds: dict[str, float] = Field(default_factory=dict)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    model: str | None = None
    language: Language | None = None
    cached: bool = False
    content_hash: str | None = None
    review: Review | None = None
    media: Media | None = None
    # Multi-part items: each part's result, the part that triggered the verdict, the parts
    # that did not arrive within GOVA_PARTS_TIMEOUT_S.
    parts: list[PartResult] | None = None
    triggered_by: int | None = None
    parts_missing: list[int] | None = None
    received_at: float
    decided_at: float

    @property
    def key(self) -> str:
        return author_key(self.tenant_id, self.author_id)

    @property
    def decided_by(self) -> str:
        """The stage that reached this verdict: ingest (rate limited), review (reviewed or
        skipped), else decide."""
        if self.decision == "rate_limited":
            return "ingest"
        return "review" if self.review is not None else "decide"

    @computed_field
    @property
    def review_skipped(self) -> bool:
        """The item was due for review but got the classifier's verdict (see review.reason)."""
        return self.review is not None and self.review.status == "skipped"

    @computed_field
    @property
    def latency_ms(self) -> float:
        return round((self.decided_at - self.received_at) * 1000.0, 3)


class PartsDue(BaseModel):
    """content.scored: the parts of an item (the table entry `parts_due`) waited long enough;
    decide concludes with those that came. Sent by decide's own timer, keyed like the item."""

    parts_due: str


class DeadLetter(BaseModel):
    """gova.deadletter: an event a stage could not process, with the error."""

    stage: str
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    error: str
    payload: str
    failed_at: float

    def subject(self) -> tuple[str | None, str | None]:
        """The tenant and content id the failed payload was about, where it says."""
        try:
            obj = json.loads(self.payload)
        except ValueError:
            return None, None
        if not isinstance(obj, dict):
            return None, None
        event = obj.get("event") if isinstance(obj.get("event"), dict) else {}
        tenant, cid = obj.get("tenant_id"), obj.get("content_id") or event.get("id")
        return (
            tenant if isinstance(tenant, str) else None,
            cid if isinstance(cid, str) else None,
        )

    def failure(self) -> dict | None:
        """What a caller waiting on this content is told, if the payload names it."""
        tenant, cid = self.subject()
        if tenant is None or cid is None:
            return None
        return {
            "status": "failed",
            "tenant_id": tenant,
            "content_id": cid,
            "stage": self.stage,
            "error": self.error,
            "failed_at": self.failed_at,
        }
