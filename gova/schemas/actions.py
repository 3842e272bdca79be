"""Moderators' configuration and the actions they take (seed 000's ActionEvent).

One definition each: the API validates a moderator's config with `ModeratorConfig`, the
worker plans with it, and every action travels and is stored as an `ActionEvent`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from gova.core.keys import moderator_key
from gova.schemas.fields import StoredText

ActionType = Literal["REPLY", "DELETE", "WARN", "TIMEOUT", "KICK", "BAN"]
#: How strong an action is, weakest first: "the higher of two proposals" compares these.
ACTION_RANK: dict[str, int] = {
    "REPLY": 0,
    "WARN": 1,
    "DELETE": 2,
    "TIMEOUT": 3,
    "KICK": 4,
    "BAN": 5,
}
DEFAULT_ALLOWED: tuple[str, ...] = ("REPLY", "DELETE", "WARN", "TIMEOUT", "KICK")
#: Discord refuses a timeout longer than 28 days.
MAX_TIMEOUT_S = 28 * 86_400

ActionStatus = Literal[
    "PROPOSED",
    "AWAITING_APPROVAL",
    "APPROVED",
    "EXECUTING",
    "EXECUTED",
    "FAILED",
    "REJECTED",
    "EXPIRED",
    "SHADOW",
]
#: Statuses an action never leaves.
FINAL: frozenset[str] = frozenset({"EXECUTED", "FAILED", "REJECTED", "EXPIRED", "SHADOW"})


class ActionSpec(BaseModel):
    """One action to take: its type and parameters (TIMEOUT: `duration` in seconds; REPLY and
    WARN: an optional `message`)."""

    model_config = ConfigDict(extra="forbid")

    type: ActionType
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _params(self) -> ActionSpec:
        if self.type == "TIMEOUT":
            duration = self.params.get("duration", self.params.get("duration_s", 600))
            if not isinstance(duration, int | float) or not 1 <= duration <= MAX_TIMEOUT_S:
                raise ValueError(
                    f"params.duration: a TIMEOUT lasts 1 to {MAX_TIMEOUT_S} seconds (Discord's "
                    f"28 days), not {duration!r}"
                )
            self.params = {**self.params, "duration": int(duration)}
            self.params.pop("duration_s", None)
        return self


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strikes: StrictInt = Field(
        ge=1, description="the author's strikes (within the window) from which"
    )
    actions: list[ActionSpec] = Field(min_length=1, max_length=5)


DEFAULT_LADDER = [
    LadderStep(strikes=1, actions=[ActionSpec(type="DELETE")]),
    LadderStep(
        strikes=2,
        actions=[ActionSpec(type="DELETE"), ActionSpec(type="TIMEOUT", params={"duration": 600})],
    ),
    LadderStep(strikes=4, actions=[ActionSpec(type="KICK")]),
]


class DiscordTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guild_id: str = Field(pattern=r"^[0-9]{1,20}$")
    channel_ids: list[str] = Field(default_factory=list, description="empty: every channel")


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl


class ModeratorConfig(BaseModel):
    """A community's AI moderator: its guidelines (for the reviewer) and what it may do."""

    model_config = ConfigDict(extra="forbid")

    guidelines: StoredText = Field(
        "", max_length=20_000, description="the community's rules, ideally numbered (G1, G2…)"
    )
    server_summary: StoredText = Field("", max_length=5_000, description="what this community is")
    context_dependent: StrictBool = Field(
        False,
        description="guidelines no classifier can judge (spoilers, off-topic…): review every item",
    )
    platform: Literal["api", "discord", "webhook"] = Field(
        "api", description="where actions go: nowhere (api: verdicts only), Discord, a webhook"
    )
    discord: DiscordTarget | None = None
    webhook: WebhookTarget | None = None
    manual_approval: StrictBool = Field(
        False, description="hold every action for a human moderator"
    )
    shadow: StrictBool = Field(False, description="record what would be done, never execute")
    allowed_actions: list[ActionType] = Field(default_factory=lambda: list(DEFAULT_ALLOWED))
    ladder: list[LadderStep] = Field(
        default_factory=lambda: [s.model_copy(deep=True) for s in DEFAULT_LADDER]
    )

    @field_validator("ladder")
    @classmethod
    def _increasing(cls, ladder: list[LadderStep]) -> list[LadderStep]:
        strikes = [step.strikes for step in ladder]
        if any(b <= a for a, b in zip(strikes, strikes[1:], strict=False)):
            raise ValueError(f"steps must have strictly increasing strikes, got {strikes}")
        return ladder

    @model_validator(mode="after")
    def _target(self) -> ModeratorConfig:
        if self.platform == "discord" and self.discord is None:
            raise ValueError("discord: a discord moderator needs {'guild_id': …}")
        if self.platform == "webhook" and self.webhook is None:
            raise ValueError("webhook: a webhook moderator needs {'url': …}")
        return self


class ActionTarget(BaseModel):
    """Where the item came from, as the platform named it (Discord's ids), for executors."""

    guild_id: str | None = None
    channel_id: str | None = None
    message_id: str | None = None


class HistoryEntry(BaseModel):
    status: ActionStatus
    at: float
    by: str = Field(description="classifier, reviewer, executor, planner, or user:<tenant>")
    error: str | None = None
    detail: dict[str, Any] | None = None


class ActionEvent(BaseModel):
    """One action of one moderator on one item, through its lifecycle."""

    id: str
    tenant_id: str
    moderator: str
    content_id: str
    author_id: str
    type: ActionType
    params: dict[str, Any] = Field(default_factory=dict)
    status: ActionStatus
    source: Literal["classifier", "review"]
    reason: str = ""
    target: ActionTarget = Field(default_factory=ActionTarget)
    created_at: float
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def moderator_key(self) -> str:
        return moderator_key(self.tenant_id, self.moderator)


class ActionProposal(BaseModel):
    """moderation.actions: a verdict that acts, for the planner (keyed `tenant:author`).

    `proposed` is the reviewer's own action when a review chose one; the planner adds the
    moderator's ladder step for `strikes` and keeps the higher."""

    tenant_id: str
    moderator: str
    content_id: str
    author_id: str
    source: Literal["classifier", "review"]
    strikes: int = Field(ge=0)
    reason: str
    proposed: ActionSpec | None = None
    target: ActionTarget = Field(default_factory=ActionTarget)
    at: float

    @property
    def moderator_key(self) -> str:
        return moderator_key(self.tenant_id, self.moderator)


ModeratorEventType = Literal[
    "StartModeratorEvent", "StopModeratorEvent", "UpdateConfigModeratorEvent"
]


class ModeratorEvent(BaseModel):
    """moderator.events (keyed `tenant:moderator`): a moderator started, stopped, or its
    config changed; workers apply these to their moderator table."""

    type: ModeratorEventType
    tenant_id: str
    moderator: str
    config: ModeratorConfig | None = None  # with UpdateConfigModeratorEvent
    at: float

    @property
    def moderator_key(self) -> str:
        return moderator_key(self.tenant_id, self.moderator)
