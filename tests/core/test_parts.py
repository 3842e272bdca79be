"""Multi-part items in the engine: ingest sends each part to its own stage, decide joins them
(or concludes without a lost part once its wait is over) and the verdict names the part
that triggered it. No services."""

from __future__ import annotations

from gova.core import decide, ingest, parts
from gova.core.effects import Delete, Emit, Put
from gova.schemas import ContentEvent, Item, Policy, Submission
from gova.schemas.media import Media

NOW = 1_700_000_000.0
TEXT_POLICY = Policy(thresholds={"toxicity": 0.8, "sexual": 0.7}, review_band=(0.35, 0.85))
IMAGE_POLICY = Policy(thresholds={"sexual": 0.9, "violence/graphic": 0.8})
REMEMBER_S = 3600.0


def image(sha: str = "ab") -> Media:
    return Media(kind="image", format="png", size=3, sha256=sha)


def multipart(n_images: int = 1) -> Submission:
    return Submission(
        tenant_id="acme",
        event=ContentEvent(
            id="m1",
            userId="u1",
            contentType="text",
            content="look at this",
            attachments=[
                {"contentType": "image", "content": f"sha256:{i}"} for i in range(n_images)
            ],
        ),
        received_at=NOW,
        policy=TEXT_POLICY,
        attachments=[image(f"{i:02x}") for i in range(n_images)],
        image_policy=IMAGE_POLICY,
    )


def scored_parts(sub: Submission, text: dict, images: list[dict]) -> list[Item]:
    outcome = ingest.admit(sub, None, burst=5, per_s=1)
    sent = [e.record for e in outcome.effects if isinstance(e, Emit)]
    out = []
    for item in sent:
        scores = text if item.part == 0 else images[item.part - 1]
        policy = IMAGE_POLICY if item.part else item.policy
        out.append(item.model_copy(update={"scores": scores, "policy": policy}))
    return out


def test_ingest_sends_each_part_to_its_stage_as_part_n_of_the_item():
    outcome = ingest.admit(multipart(2), None, burst=5, per_s=1)
    emitted = [
        (e.topic.name, e.record.part, e.record.parts)
        for e in outcome.effects
        if isinstance(e, Emit)
    ]
    assert emitted == [("content.text", 0, 3), ("content.image", 1, 3), ("content.image", 2, 3)]
    image_part = next(e.record for e in outcome.effects if isinstance(e, Emit) and e.record.part)
    assert image_part.media.sha256 == "00" and image_part.content_hash == "00"
    assert image_part.event.id == "m1"  # one item: one verdict


def test_parts_are_joined_and_the_verdict_names_the_part_that_triggered():
    text, picture = scored_parts(
        multipart(), {"toxicity": 0.1, "sexual": 0.1}, [{"sexual": 0.95, "violence/graphic": 0.1}]
    )
    state: dict | None = None
    first = parts.gather(picture, state, NOW)  # parts arrive in any order
    assert first.result is None and isinstance(first.effects[0], Put)
    state = first.effects[0].value
    second = parts.gather(text, state, NOW + 1)
    assert second.effects == [Put(parts.PARTS, "acme:u1|m1", {"concluded_at": NOW + 1})]
    joined = second.result
    assert [r.part for r in joined.part_results] == [0, 1]
    assert joined.part_results[1].flagged == ["sexual"]  # by the image's own threshold
    assert joined.scores["sexual"] == 0.95 and joined.parts_missing == []

    verdict = decide.decide(joined, None, half_life_s=86_400).result
    assert verdict.decision == "act" and verdict.flagged == ["sexual"]
    assert verdict.triggered_by == 1 and verdict.content_type == "text"
    assert verdict.parts[1].content_type == "image" and verdict.parts[1].media.sha256 == "00"


def test_a_score_over_the_text_threshold_in_an_image_does_not_flag_by_the_text_policy():
    text, picture = scored_parts(multipart(), {"toxicity": 0.1}, [{"sexual": 0.75}])
    state = parts.gather(text, None, NOW).effects[0].value
    joined = parts.gather(picture, state, NOW).result
    verdict = decide.decide(joined, None, half_life_s=86_400).result
    # 0.75 is over the text's 0.7 for sexual, under the image model's 0.9: allowed.
    assert verdict.decision == "allow" and verdict.triggered_by is None


def test_a_lost_part_does_not_hold_the_verdict_past_the_timeout():
    text, _ = scored_parts(multipart(), {"toxicity": 0.95}, [{"sexual": 0.0}])
    state = parts.gather(text, None, NOW).effects[0].value
    key = "acme:u1|m1"
    assert (
        not parts.overdue(state, NOW + 5, 10, REMEMBER_S)
        and parts.expire(key, state, NOW + 5, 10, REMEMBER_S).result is None
    )
    late = parts.expire(key, state, NOW + 10, 10, REMEMBER_S)
    assert late.effects == [Put(parts.PARTS, key, {"concluded_at": NOW + 10})]
    verdict = decide.decide(late.result, None, half_life_s=86_400).result
    assert verdict.decision == "act" and verdict.triggered_by == 0
    assert verdict.parts_missing == [1]
    assert parts.expire(key, None, NOW + 20, 10, REMEMBER_S).result is None  # forgotten


def test_a_part_delivered_again_after_the_join_is_dropped_until_forgotten():
    text, picture = scored_parts(multipart(), {"toxicity": 0.95}, [{"sexual": 0.0}])
    key = "acme:u1|m1"
    state = parts.gather(text, None, NOW).effects[0].value
    joined = parts.gather(picture, state, NOW + 1)
    assert joined.result is not None
    marker = joined.effects[0].value
    assert "items" not in marker  # nothing of the content is kept

    again = parts.gather(text, marker, NOW + 2)  # the text part redelivered
    assert again.result is None and again.effects == []
    assert parts.expire(key, marker, NOW + 100, 10, REMEMBER_S).result is None
    assert not parts.overdue(marker, NOW + REMEMBER_S, 10, REMEMBER_S)
    forget = parts.expire(key, marker, NOW + 1 + REMEMBER_S, 10, REMEMBER_S)
    assert forget.result is None and forget.effects == [Delete(parts.PARTS, key)]
