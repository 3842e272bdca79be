"""From an acting verdict to actions: the moderator's ladder, the reviewer's proposal, what
the moderator allows, and whether a human approves first. And the lifecycle moves of an
action, so the API, the planner and the executor agree on what may follow what.
"""

from __future__ import annotations

import hashlib

from pydantic import ValidationError

from gova.core.effects import Emit, Outcome, Store
from gova.schemas import Item, Verdict
from gova.schemas.actions import (
    ACTION_RANK,
    ActionEvent,
    ActionProposal,
    ActionSpec,
    ActionTarget,
    HistoryEntry,
    LadderStep,
    ModeratorConfig,
)
from gova.streams import ACTIONS_EXECUTE

#: The changelog table of moderators, keyed `tenant:moderator`: {config, running, at}.
MODERATORS = "moderators"
#: Platforms that have an executor; an `api` moderator records verdicts only.
ACTING_PLATFORMS = ("discord", "webhook")


def ladder_step(ladder: list[LadderStep], strikes: int) -> LadderStep | None:
    """The highest step the author's strikes have reached, if any."""
    reached = [step for step in ladder if step.strikes <= strikes]
    return max(reached, key=lambda step: step.strikes) if reached else None


def cap(spec: ActionSpec, allowed: list[str]) -> ActionSpec | None:
    """`spec` if the moderator allows it, else the strongest allowed action weaker than it
    (without its parameters, which belong to the other type), else nothing."""
    if spec.type in allowed:
        return spec
    weaker = [t for t in allowed if ACTION_RANK[t] < ACTION_RANK[spec.type]]
    if not weaker:
        return None
    return ActionSpec(type=max(weaker, key=ACTION_RANK.__getitem__))


def _strength(specs: list[ActionSpec]) -> int:
    return max((ACTION_RANK[s.type] for s in specs), default=-1)


def choose(proposal: ActionProposal, config: ModeratorConfig) -> list[ActionSpec]:
    """The ladder step for the author's strikes, or the reviewer's own action when that is
    the stronger; each capped by the allowed actions; one action per type."""
    step = ladder_step(config.ladder, proposal.strikes)
    from_ladder = list(step.actions) if step else []
    from_review = [proposal.proposed] if proposal.proposed is not None else []
    chosen = from_review if _strength(from_review) > _strength(from_ladder) else from_ladder
    out: dict[str, ActionSpec] = {}
    for spec in chosen:
        capped = cap(spec, config.allowed_actions)
        if capped is not None and capped.type not in out:
            out[capped.type] = capped
    return list(out.values())


def target_of(item: Item) -> ActionTarget:
    """The platform's ids for the item (Discord's guild, channel and message), if it sent them."""
    metadata = item.event.metadata
    return ActionTarget(
        guild_id=metadata.guild_id, channel_id=metadata.channel_id, message_id=metadata.message_id
    )


def propose(item: Item, verdict: Verdict, strikes: int) -> ActionProposal | None:
    """What an acting verdict asks its moderator's planner to consider; None when it allows."""
    if verdict.decision != "act":
        return None
    review = verdict.review
    proposed, source = None, "classifier"
    if review is not None and review.output is not None:
        source = "review"
        action = review.output.action
        try:
            proposed = ActionSpec(type=action.type, params=action.params)
        except ValidationError:  # parameters the reviewer got wrong: its type, defaults
            proposed = ActionSpec(type=action.type)
        reason = review.output.reason
        if review.output.guideline:
            reason = f"{review.output.guideline}: {reason}"
    else:
        scores = verdict.scores
        reason = "flagged: " + ", ".join(f"{c} {scores.get(c, 0.0):.2f}" for c in verdict.flagged)
    return ActionProposal(
        tenant_id=item.tenant_id,
        moderator=item.moderator,
        content_id=item.event.id,
        author_id=item.event.user_id,
        source=source,
        strikes=strikes,
        reason=reason[:1000],
        proposed=proposed,
        target=target_of(item),
        at=verdict.decided_at,
    )


def action_id(tenant_id: str, moderator: str, content_id: str, type_: str) -> str:
    """Derived from what the action is, so a redelivered proposal yields the same id."""
    digest = hashlib.sha256(f"{tenant_id}\0{moderator}\0{content_id}\0{type_}".encode())
    return "act_" + digest.hexdigest()[:24]


def plan(
    proposal: ActionProposal, config: ModeratorConfig | None, *, running: bool, now: float
) -> Outcome:
    """The actions a proposal leads to: stored with their first status, the approved ones
    sent to the executor. A stopped (or unknown, or verdict-only) moderator proposes none."""
    if config is None or not running or config.platform not in ACTING_PLATFORMS:
        return Outcome([], [])
    if config.shadow:
        status, by = "SHADOW", "planner"
    elif config.manual_approval:
        status, by = "AWAITING_APPROVAL", "planner"
    else:
        status, by = "APPROVED", "planner"
    source = "reviewer" if proposal.source == "review" else "classifier"
    actions = [
        ActionEvent(
            id=action_id(proposal.tenant_id, proposal.moderator, proposal.content_id, spec.type),
            tenant_id=proposal.tenant_id,
            moderator=proposal.moderator,
            content_id=proposal.content_id,
            author_id=proposal.author_id,
            type=spec.type,
            params=spec.params,
            status=status,
            source=proposal.source,
            reason=proposal.reason,
            target=proposal.target,
            created_at=now,
            history=[
                HistoryEntry(status="PROPOSED", at=proposal.at, by=source),
                HistoryEntry(status=status, at=now, by=by),
            ],
        )
        for spec in choose(proposal, config)
    ]
    effects: list = [Store("actions", actions)] if actions else []
    effects += [
        Emit(ACTIONS_EXECUTE, a.moderator_key, a) for a in actions if a.status == "APPROVED"
    ]
    return Outcome(actions, effects)
