"""The moderation engine (`gova.core`) on its own: records and state in, effects out. No
broker, database or Redis is started for these."""

from __future__ import annotations

import pytest

from gova.core import channels, decide, ingest, keys, verdicts
from gova.core.effects import Emit, Put
from gova.schemas import Behaviour, ContentEvent, Item, Policy, Submission
from gova.schemas.review import (
    Action,
    AuthorSeverity,
    ChannelMessage,
    Review,
    ReviewAgentOutput,
)

NOW = 1_700_000_000.0
HALF_LIFE = 86_400.0


def submission(cid="c1", text="hello", *, user="u1", content_type="text", **metadata) -> Submission:
    return Submission(
        tenant_id="acme",
        event=ContentEvent(
            id=cid, userId=user, contentType=content_type, content=text, metadata=metadata
        ),
        received_at=NOW,
        policy=Policy(thresholds={"toxicity": 0.8}, review_band=(0.35, 0.85)),
    )


def scored(scores: dict[str, float], **kw) -> Item:
    sub = submission(**kw)
    return Item(**sub.model_dump(), text=sub.event.content, content_hash="h", scores=scores)


def emitted(effects) -> list[tuple[str, str]]:
    return [(e.topic.name, e.key) for e in effects if isinstance(e, Emit)]


def puts(effects) -> dict[tuple[str, str], object]:
    return {(e.table, e.key): e.value for e in effects if isinstance(e, Put)}


# --- keys ---------------------------------------------------------------------------------


def test_keys_are_tenant_scoped_and_review_keys_never_collide_with_channels():
    assert keys.author_key("t", "u") == "t:u"
    assert keys.channel_key("t", "c") == "t:c"
    assert keys.review_key("t", "c", "u") == "t:c"
    assert keys.review_key("t", None, "u") == "t:author:u" != keys.channel_key("t", "u")


# --- ingest -------------------------------------------------------------------------------


def test_admit_folds_text_and_routes_it_to_classification_and_its_channel():
    sub = submission(text="  y0u  \u200b 1d10t ", channelId="general")
    outcome = ingest.admit(sub, None, burst=2, per_s=1)
    item = outcome.result
    assert isinstance(item, Item) and item.text == "you idiot"
    assert item.content_hash == keys.content_hash("you idiot")
    assert emitted(outcome.effects) == [
        ("content.channels", "acme:general"),
        ("content.text", "acme:u1"),
    ]
    context = outcome.effects[1].record
    assert isinstance(context, ChannelMessage) and context.text == "you idiot"
    assert puts(outcome.effects)[("rate_limits", "acme:u1")]["tokens"] == pytest.approx(1.0)


def test_admit_without_a_channel_sends_no_context():
    outcome = ingest.admit(submission(), None, burst=2, per_s=1)
    assert emitted(outcome.effects) == [("content.text", "acme:u1")]


def test_an_author_over_the_limit_gets_a_recorded_verdict_not_silence():
    bucket = {"tokens": 0.2, "at": NOW}
    outcome = ingest.admit(submission(), bucket, burst=2, per_s=0.0)
    verdict = outcome.result
    assert verdict.decision == "rate_limited" and verdict.decided_by == "ingest"
    assert emitted(outcome.effects) == [("moderation.results", "acme:u1")]
    assert puts(outcome.effects)[("rate_limits", "acme:u1")]["tokens"] == pytest.approx(0.2)


def test_media_without_stored_bytes_is_refused_after_spending_its_token():
    with pytest.raises(ingest.MediaMissing, match="'image' item without stored media"):
        ingest.admit(submission(content_type="image"), None, burst=2, per_s=1)


def test_media_goes_to_its_stage_by_reference():
    from gova.schemas.media import Media

    for kind, topic in (("image", "content.image"), ("audio", "content.audio")):
        sub = submission(content_type=kind, text="sha256:ab")
        sub.media = Media(
            kind=kind, format="png" if kind == "image" else "wav", size=3, sha256="ab"
        )
        outcome = ingest.admit(sub, None, burst=2, per_s=1)
        assert emitted(outcome.effects) == [(topic, "acme:u1")]
        assert outcome.result.content_hash == "ab" and outcome.result.text == ""
        assert outcome.result.event.content == "sha256:ab"  # the bytes stay in the store


# --- decide -------------------------------------------------------------------------------


def test_a_flagged_item_acts_and_counts_a_strike():
    outcome = decide.decide(scored({"toxicity": 0.9}), None, half_life_s=HALF_LIFE)
    verdict = outcome.result
    assert (verdict.decision, verdict.flagged, verdict.decided_by) == (
        "act",
        ["toxicity"],
        "decide",
    )
    assert verdict.behaviour == Behaviour(score=0.9, strikes=1, recent_strikes=1)
    assert emitted(outcome.effects) == [
        ("moderation.results", "acme:u1"),
        ("moderation.actions", "acme:default"),  # to the item's moderator (tests/core/test_actions)
    ]
    assert puts(outcome.effects)[("behaviour", "acme:u1")]["strikes"] == 1


def test_an_allowed_item_keeps_the_authors_history_decaying():
    earlier = {"score": 0.8, "strikes": 2, "at": NOW - HALF_LIFE}
    outcome = decide.decide(scored({"toxicity": 0.1}), earlier, half_life_s=HALF_LIFE)
    assert outcome.result.decision == "allow" and outcome.result.flagged == []
    behaviour = outcome.result.behaviour
    assert (behaviour.score, behaviour.strikes) == (pytest.approx(0.4), 2)


def test_an_uncertain_item_goes_to_review_keyed_by_channel_with_the_author_as_they_were():
    earlier = {"score": 0.5, "strikes": 1, "at": NOW}
    item = scored({"toxicity": 0.6}, channelId="films")
    outcome = decide.decide(item, earlier, half_life_s=HALF_LIFE)
    assert isinstance(outcome.result, Item)
    assert outcome.result.behaviour == Behaviour(score=0.5, strikes=1)
    assert emitted(outcome.effects) == [("content.review", "acme:films")]
    assert item.behaviour is None  # the engine does not change what it was handed


def test_an_unscored_item_is_an_error_for_the_stage_to_dead_letter():
    with pytest.raises(ValueError, match="without scores"):
        decide.decide(scored(None), None, half_life_s=HALF_LIFE)


def review_of(action: str, severity: float) -> Review:
    output = ReviewAgentOutput(
        action=Action(type=action), severity_score=severity, reason="r", guideline="G1"
    )
    return Review(status="reviewed", output=output, model="m", tokens=10)


def test_a_review_that_acts_decides_and_sends_its_severity_to_the_author():
    item = scored({"toxicity": 0.5}, channelId="films")
    item.behaviour = Behaviour(score=0.3, strikes=1)
    outcome = decide.conclude_review(item, review_of("DELETE", 0.7))
    verdict = outcome.result
    assert (verdict.decision, verdict.decided_by, verdict.behaviour.strikes) == ("act", "review", 1)
    assert emitted(outcome.effects) == [
        ("authors.severity", "acme:u1"),
        ("moderation.results", "acme:u1"),
        ("moderation.actions", "acme:default"),
    ]
    assert outcome.effects[0].record.severity == pytest.approx(0.7)


def test_a_review_choosing_no_action_allows_even_a_flagged_item_and_adds_no_severity():
    outcome = decide.conclude_review(scored({"toxicity": 0.9}), review_of("NONE", 0.9))
    assert outcome.result.decision == "allow" and outcome.result.flagged == ["toxicity"]
    assert emitted(outcome.effects) == [("moderation.results", "acme:u1")]


def test_a_skipped_review_falls_back_to_the_classifiers_verdict_and_severity():
    skipped = Review(status="skipped", reason="review stage off")
    outcome = decide.conclude_review(scored({"toxicity": 0.9}), skipped)
    assert outcome.result.decision == "act" and outcome.result.review_skipped
    assert outcome.effects[0].record.severity == pytest.approx(0.9)


def test_a_reviews_severity_lands_in_the_authors_behaviour():
    update = AuthorSeverity(tenant_id="acme", author_id="u1", content_id="c", severity=0.6, at=NOW)
    outcome = decide.record_outcome(update, None, half_life_s=HALF_LIFE)
    assert puts(outcome.effects) == {
        ("behaviour", "acme:u1"): {"score": 0.6, "strikes": 1, "at": NOW, "struck": [NOW]}
    }


def test_one_verdict_builder_carries_what_the_classifier_found():
    item = scored({"toxicity": 0.2})
    item.model, item.cached = "gova-text-x", True
    verdict = verdicts.verdict(item, "allow", now=NOW + 0.25)
    assert (verdict.model, verdict.cached, verdict.scores) == (
        "gova-text-x",
        True,
        {"toxicity": 0.2},
    )
    assert verdict.latency_ms == pytest.approx(250.0)
    assert verdicts.verdict(submission(), "rate_limited").scores == {}


# --- channel context ----------------------------------------------------------------------


def message(cid: str, at: float, text: str = "hi") -> ChannelMessage:
    return ChannelMessage(
        tenant_id="acme", channel_id="films", content_id=cid, author_id="u", text=text, at=at
    )


def test_a_channel_keeps_its_last_messages_in_order_once_each_and_shortened():
    recent = None
    for i, at in enumerate([3.0, 1.0, 2.0, 4.0]):
        [put] = channels.remember(message(f"m{i}", at), recent, keep=3).effects
        recent = put.value
    [put] = channels.remember(message("m3", 4.0, "x" * 900), recent, keep=3).effects  # again
    assert put.key == "acme:films"
    assert [m["content_id"] for m in put.value] == ["m2", "m0", "m3"]
    assert len(put.value[-1]["text"]) == channels.MAX_CHARS


def test_the_reviewed_message_is_left_out_of_its_own_context():
    recent = [{"content_id": c, "author_id": "u", "text": "t", "at": 1.0} for c in ("a", "b")]
    assert [m.content_id for m in channels.context("acme", "films", recent, "b")] == ["a"]
    assert channels.context("acme", "films", None, "b") == []
