"""The LLM reviewer's structured decision (seed 000's ReviewAgentOutput) and its record."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gova.core.keys import author_key, channel_key

ActionType = Literal["REPLY", "DELETE", "TIMEOUT", "KICK", "BAN", "WARN", "NONE"]


class Action(BaseModel):
    type: ActionType
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="e.g. {'message': ...} for REPLY/WARN, {'duration_s': ...} for TIMEOUT",
    )


class ReviewAgentOutput(BaseModel):
    """What the reviewer must answer; instructor validates it and retries with the error."""

    action: Action
    severity_score: float = Field(ge=0.0, le=1.0, description="0 harmless … 1 severe")
    reason: str = Field(min_length=1, description="why, in one or two sentences")
    guideline: str | None = Field(
        None, description="the identifier of the guideline relied on, e.g. 'G2', or null"
    )

    @property
    def acts(self) -> bool:
        return self.action.type != "NONE"


class ChannelMessage(BaseModel):
    """content.channels: one message as channel context (keyed tenant:channel)."""

    tenant_id: str
    channel_id: str
    content_id: str
    author_id: str
    text: str
    at: float

    @property
    def key(self) -> str:
        return channel_key(self.tenant_id, self.channel_id)


class AuthorSeverity(BaseModel):
    """authors.severity: what a reviewed item adds to its author's behaviour score."""

    tenant_id: str
    author_id: str
    content_id: str
    severity: float = Field(ge=0.0, le=1.0)
    at: float

    @property
    def key(self) -> str:
        return author_key(self.tenant_id, self.author_id)


class Review(BaseModel):
    """The review stage's outcome, attached to the verdict and stored as an evaluation."""

    status: Literal["reviewed", "skipped"]
    reason: str | None = None  # why it was skipped: stage off, breaker open, budget, error
    output: ReviewAgentOutput | None = None
    model: str | None = None
    tokens: int = 0
    latency_ms: float | None = None
    prompt_version: str | None = None
