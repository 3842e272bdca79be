"""Planning actions (ladder, reviewer, allowed actions, approval, shadow) and moderators'
lifecycle, in the engine alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gova.core import actions, decide, moderators
from gova.core.effects import Emit, Store
from gova.schemas import Behaviour, ContentEvent, Item, Policy
from gova.schemas.actions import ActionProposal, ActionSpec, ModeratorConfig, ModeratorEvent
from gova.schemas.review import Action, Review, ReviewAgentOutput

NOW = 1_700_000_000.0
DISCORD = {"platform": "discord", "discord": {"guild_id": "42"}}


def proposal(strikes: int, proposed: ActionSpec | None = None, **kw) -> ActionProposal:
    return ActionProposal(
        tenant_id="acme",
        moderator="mods",
        content_id="c1",
        author_id="u1",
        source="review" if proposed else "classifier",
        strikes=strikes,
        reason="flagged: toxicity 0.93",
        proposed=proposed,
        at=NOW,
        **kw,
    )


def types(outcome) -> list[tuple[str, str]]:
    return [(a.type, a.status) for a in outcome.result]


@pytest.mark.parametrize(
    ("strikes", "expected"),
    [
        (0, []),
        (1, ["DELETE"]),
        (2, ["DELETE", "TIMEOUT"]),
        (3, ["DELETE", "TIMEOUT"]),
        (9, ["KICK"]),
    ],
)
def test_the_default_ladder_climbs_with_strikes(strikes, expected):
    outcome = actions.plan(proposal(strikes), ModeratorConfig(**DISCORD), running=True, now=NOW)
    assert [t for t, _ in types(outcome)] == expected
    assert all(status == "APPROVED" for _, status in types(outcome))


def test_approved_actions_are_stored_then_sent_to_the_executor():
    outcome = actions.plan(proposal(2), ModeratorConfig(**DISCORD), running=True, now=NOW)
    store, *emits = outcome.effects
    assert isinstance(store, Store) and store.what == "actions" and len(store.records) == 2
    assert [(e.topic.name, e.key) for e in emits] == [("actions.execute", "acme:mods")] * 2
    timeout = outcome.result[1]
    assert timeout.params == {"duration": 600}
    assert [h.status for h in timeout.history] == ["PROPOSED", "APPROVED"]


def test_ids_are_stable_so_a_redelivered_proposal_makes_no_new_action():
    config = ModeratorConfig(**DISCORD)
    first = actions.plan(proposal(1), config, running=True, now=NOW)
    again = actions.plan(proposal(1), config, running=True, now=NOW + 5)
    assert [a.id for a in first.result] == [a.id for a in again.result]


def test_manual_approval_holds_and_shadow_only_records():
    held = actions.plan(
        proposal(1), ModeratorConfig(**DISCORD, manual_approval=True), running=True, now=NOW
    )
    assert types(held) == [("DELETE", "AWAITING_APPROVAL")]
    assert not [e for e in held.effects if isinstance(e, Emit)]
    shadow = actions.plan(
        proposal(1),
        ModeratorConfig(**DISCORD, shadow=True, manual_approval=True),
        running=True,
        now=NOW,
    )
    assert types(shadow) == [("DELETE", "SHADOW")]
    assert not [e for e in shadow.effects if isinstance(e, Emit)]


def test_a_stopped_unknown_or_verdict_only_moderator_proposes_nothing():
    config = ModeratorConfig(**DISCORD)
    assert actions.plan(proposal(1), config, running=False, now=NOW).result == []
    assert actions.plan(proposal(1), None, running=True, now=NOW).result == []
    assert actions.plan(proposal(1), ModeratorConfig(), running=True, now=NOW).result == []


def test_the_stronger_of_ladder_and_reviewer_wins_capped_by_what_is_allowed():
    config = ModeratorConfig(**DISCORD)
    ban = ActionSpec(type="BAN")
    # BAN is not allowed by default: capped to KICK, stronger than the first step's DELETE.
    assert [t for t, _ in types(actions.plan(proposal(1, ban), config, running=True, now=NOW))] == [
        "KICK"
    ]
    warn = ActionSpec(type="WARN", params={"message": "be kind"})
    planned = actions.plan(proposal(2, warn), config, running=True, now=NOW)
    assert [t for t, _ in types(planned)] == ["DELETE", "TIMEOUT"]  # the ladder is stronger
    only_reply = ModeratorConfig(**DISCORD, allowed_actions=["REPLY"])
    planned = actions.plan(proposal(9), only_reply, running=True, now=NOW)
    assert [(a.type, a.params) for a in planned.result] == [("REPLY", {})]
    assert actions.cap(ActionSpec(type="DELETE"), []) is None


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"allowed_actions": ["NUKE"]}, "allowed_actions"),
        (
            {
                "ladder": [
                    {
                        "strikes": 1,
                        "actions": [{"type": "TIMEOUT", "params": {"duration": 30 * 86_400}}],
                    }
                ]
            },
            "ladder",
        ),
        (
            {
                "ladder": [
                    {"strikes": 2, "actions": [{"type": "DELETE"}]},
                    {"strikes": 2, "actions": [{"type": "KICK"}]},
                ]
            },
            "ladder",
        ),
        ({"platform": "discord"}, "discord"),
        ({"platform": "webhook"}, "webhook"),
    ],
)
def test_bad_config_is_refused_naming_the_field(config, field):
    with pytest.raises(ValidationError) as info:
        ModeratorConfig(**config)
    assert field in str(info.value)


def item(**metadata) -> Item:
    return Item(
        tenant_id="acme",
        event=ContentEvent(
            id="c1", userId="u1", contentType="text", content="you idiot", metadata=metadata
        ),
        received_at=NOW,
        policy=Policy(thresholds={"toxicity": 0.8}),
        text="you idiot",
        content_hash="h",
        scores={"toxicity": 0.93},
    )


def test_an_acting_verdict_proposes_to_its_moderator_with_the_platform_ids():
    scored = item(moderator="mods", guildId="42", channelId="7", messageId="99")
    outcome = decide.decide(scored, None, half_life_s=86_400)
    emits = [e for e in outcome.effects if isinstance(e, Emit)]
    [proposal_emit] = [e for e in emits if e.topic.name == "moderation.actions"]
    sent = proposal_emit.record
    assert proposal_emit.key == "acme:mods" and sent.strikes == 1 and sent.source == "classifier"
    assert (sent.target.guild_id, sent.target.channel_id, sent.target.message_id) == (
        "42",
        "7",
        "99",
    )
    assert "toxicity 0.93" in sent.reason


def test_strikes_outside_the_window_do_not_count():
    old = {"score": 0.0, "strikes": 3, "at": NOW - 100, "struck": [NOW - 100, NOW - 90, NOW - 80]}
    outcome = decide.decide(item(), old, half_life_s=86_400, strike_window_s=50)
    assert outcome.result.behaviour.strikes == 4 and outcome.result.behaviour.recent_strikes == 1


def test_a_review_proposes_its_own_action_counting_this_strike():
    reviewed = item(moderator="mods")
    reviewed.behaviour = Behaviour(score=0.5, strikes=2, recent_strikes=1)
    output = ReviewAgentOutput(
        action=Action(type="TIMEOUT", params={"duration_s": 120}),
        severity_score=0.8,
        reason="insult",
        guideline="G1",
    )
    outcome = decide.conclude_review(reviewed, Review(status="reviewed", output=output))
    emits = [e for e in outcome.effects if isinstance(e, Emit)]
    [sent] = [e.record for e in emits if e.topic.name == "moderation.actions"]
    assert sent.source == "review" and sent.strikes == 2
    assert (sent.proposed.type, sent.proposed.params) == ("TIMEOUT", {"duration": 120})
    assert sent.reason == "G1: insult"


def test_moderator_events_apply_in_order_and_never_undo_a_newer_one():
    config = ModeratorConfig(**DISCORD)
    state = None
    for kind, at in (("UpdateConfigModeratorEvent", 1.0), ("StartModeratorEvent", 2.0)):
        event = ModeratorEvent(type=kind, tenant_id="acme", moderator="mods", config=config, at=at)
        [put] = moderators.apply_event(event, state).effects
        state = put.value
    assert moderators.config_of(state) == (config, True)
    late_stop = ModeratorEvent(
        type="StopModeratorEvent", tenant_id="acme", moderator="mods", at=1.5
    )
    assert moderators.apply_event(late_stop, state).effects == []
    assert moderators.config_of(None) == (None, False)


def test_ladder_steps_given_in_any_order_are_put_in_order():
    config = ModeratorConfig(
        ladder=[
            {"strikes": 3, "actions": [{"type": "KICK"}]},
            {"strikes": 1, "actions": [{"type": "DELETE"}]},
        ]
    )
    assert [step.strikes for step in config.ladder] == [1, 3]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"message": "be kind\x00"}, "NUL"),
        ({"message": {"nested": "document"}}, "must be text, a number"),
        ({"bad name": 1}, "parameter names"),
        ({f"p{i}": i for i in range(17)}, "at most 16"),
        ({"message": "x" * 2_001}, "over 2000 characters"),
    ],
)
def test_action_parameters_are_a_few_named_scalars_that_postgresql_can_store(params, says):
    with pytest.raises(ValidationError, match=says):
        ActionSpec(type="REPLY", params=params)


def test_watched_channels_are_discord_ids():
    with pytest.raises(ValidationError, match="channel_ids.0"):
        ModeratorConfig.model_validate(
            {"platform": "discord", "discord": {"guild_id": "1", "channel_ids": ["general"]}}
        )
    kept = ActionSpec(type="REPLY", params={"message": "hi", "mention": False, "x": None})
    assert kept.params == {"message": "hi", "mention": False, "x": None}
