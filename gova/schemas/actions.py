"""Moderators' configuration and the actions they take (seed 000's ActionEvent).

One definition each: the API validates a moderator's config with `ModeratorConfig`, the
worker plans with it, and every action travels and is stored as an `ActionEvent`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    TypeAdapter,
    field_validator,
    model_validator,
)

from gova.core.keys import moderator_key
from gova.schemas.fields import ActionParams, JsonInt, StoredText

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

    model_config = ConfigDict(
        extra="forbid",
        # What `_params` checks, said in the schema.
        json_schema_extra={
            "if": {"properties": {"type": {"const": "TIMEOUT"}}, "required": ["type"]},
            "then": {
                "properties": {
                    "params": {
                        "type": "object",
                        "properties": {
                            name: {"type": "number", "minimum": 1, "maximum": MAX_TIMEOUT_S}
                            for name in ("duration", "duration_s")
                        },
                    }
                }
            },
        },
    )

    type: ActionType
    params: ActionParams = Field(default_factory=dict)

    @model_validator(mode="after")
    def _params(self) -> ActionSpec:
        if self.type == "TIMEOUT":
            given = {k: self.params[k] for k in ("duration", "duration_s") if k in self.params}
            for name, value in given.items():
                if not isinstance(value, int | float) or not 1 <= value <= MAX_TIMEOUT_S:
                    raise ValueError(
                        f"params.{name}: a TIMEOUT lasts 1 to {MAX_TIMEOUT_S} seconds (Discord's "
                        f"28 days), not {value!r}"
                    )
            duration = given.get("duration", given.get("duration_s", 600))
            rest = {k: v for k, v in self.params.items() if k not in given}
            self.params = {**rest, "duration": int(duration)}
        return self


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strikes: JsonInt = Field(
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
    channel_ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]] = Field(
        default_factory=list, max_length=500, description="empty: every channel"
    )


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
#: http(s), an ASCII host name (or IPv4), an optional port, then printable ASCII: what a
#: webhook URL needs, said precisely enough that every URL of this shape is accepted.
WEBHOOK_URL = rf"^[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(?:\.{_LABEL})*{_PORT}(?:[/?#][!-~]*)?$"


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, pattern=WEBHOOK_URL, description="an http(s) URL")

    @field_validator("url")
    @classmethod
    def _an_http_url(cls, url: str) -> str:
        """A URL HttpUrl accepts, kept as written (normalising could change its length)."""
        _HTTP_URL.validate_python(url)
        return url


_HTTP_URL = TypeAdapter(HttpUrl)


def _platform_needs(platform: str, field: str) -> dict:
    """JSON Schema: with `platform` set to `platform`, `field` must be an object."""
    return {
        "if": {"properties": {"platform": {"const": platform}}, "required": ["platform"]},
        "then": {"required": [field], "properties": {field: {"type": "object"}}},
    }


class ModeratorConfig(BaseModel):
    """A community's AI moderator: its guidelines (for the reviewer) and what it may do."""

    model_config = ConfigDict(
        extra="forbid",
        # What `_target` checks, said in the schema so clients (and fuzzers) know it.
        json_schema_extra={
            "allOf": [_platform_needs("discord", "discord"), _platform_needs("webhook", "webhook")]
        },
    )

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
        """Steps in any order are put in order; two steps at the same strikes are refused."""
        ladder = sorted(ladder, key=lambda step: step.strikes)
        strikes = [step.strikes for step in ladder]
        if twice := sorted({s for s in strikes if strikes.count(s) > 1}):
            raise ValueError(f"two steps at the same strikes {twice}: each step needs its own")
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
