"""The pure parts: token bucket, behaviour decay, policy thresholds, folding and keys, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gova.core.behaviour import record
from gova.core.keys import content_hash
from gova.core.policy import flagged, needs_review
from gova.core.token_bucket import take_token
from gova.models.evasion import fold
from gova.schemas import Policy


def test_bucket_allows_a_burst_then_refills_with_time():
    bucket, answers = None, []
    for _ in range(4):
        ok, bucket = take_token(bucket, 100.0, burst=3, per_s=0.5)
        answers.append(ok)
    assert answers == [True, True, True, False]
    assert take_token(bucket, 101.0, burst=3, per_s=0.5)[0] is False  # half a token
    ok, bucket = take_token(bucket, 102.0, burst=3, per_s=0.5)
    assert ok and bucket["tokens"] == pytest.approx(0.0)
    ok, bucket = take_token(bucket, 1_000.0, burst=3, per_s=0.5)
    assert ok and bucket["tokens"] == pytest.approx(2.0)  # capped at the burst


def test_bucket_ignores_clock_going_backwards():
    _, bucket = take_token(None, 100.0, burst=1, per_s=1)
    ok, after = take_token(bucket, 50.0, burst=1, per_s=1)
    assert not ok and after["at"] == 100.0


def test_behaviour_decays_by_half_life_and_counts_strikes():
    s = record(None, 0.0, 0.9, half_life_s=10.0)
    assert (s["score"], s["strikes"]) == (0.9, 1)
    s = record(s, 10.0, 0.0, half_life_s=10.0)
    assert s["score"] == pytest.approx(0.45) and s["strikes"] == 1
    s = record(s, 20.0, 0.8, half_life_s=10.0)
    assert s["score"] == pytest.approx(0.225 + 0.8) and s["strikes"] == 2


def test_policy_merges_overrides_and_flags_at_threshold():
    policy = Policy(thresholds={"toxicity": 0.5}).merged_over({"toxicity": 0.8, "spam": 0.9})
    assert policy.thresholds == {"toxicity": 0.5, "spam": 0.9}
    assert flagged(policy, {"toxicity": 0.5, "spam": 0.89, "other": 1.0}) == ["toxicity"]
    with pytest.raises(ValidationError, match="thresholds must lie in"):
        Policy(thresholds={"toxicity": 1.5})


@pytest.mark.parametrize(
    ("band", "top", "expected"),
    [
        ((0.35, 0.85), 0.35, True),
        ((0.35, 0.85), 0.85, False),
        ((0.35, 0.85), 0.1, False),
        ((0.0, 1.0), 1.0, True),  # `0,1` sends every item
        ((0.0, 1.0), 0.0, True),
        ((0.0, 0.0), 0.0, False),  # an empty band sends none
        (None, 0.5, False),
    ],
)
def test_review_band(band, top, expected):
    assert needs_review(Policy(review_band=band), {"toxicity": top, "other": 0.0}) is expected


def test_review_band_must_be_ordered():
    with pytest.raises(ValidationError, match="review_band"):
        Policy(review_band=(0.9, 0.1))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  hello   world \n", "hello world"),
        ("he\u200bllo", "hello"),
        ("\U0001d41f\U0001d42e\U0001d41c\U0001d424", "fuck"),  # mathematical bold letters
        ("ｆｕｌｌ width", "full width"),
    ],
)
def test_fold_normalises_unicode_and_spacing(raw, expected):
    assert fold(raw) == expected


def test_identical_text_hashes_alike_after_folding():
    assert content_hash(fold(" a  b ")) == content_hash(fold("a b"))
    assert content_hash(fold("a b")) != content_hash(fold("a c"))


def test_external_services_come_from_the_environment(monkeypatch, tmp_path):
    from gova.settings import Settings

    monkeypatch.setenv("KAFKA_BROKER", "kafka.internal:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/gova")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    s = Settings()
    assert (s.broker(), s.database(), s.redis()) == (
        "kafka.internal:9092",
        "postgresql://u:p@db/gova",
        "redis://cache:6379/1",
    )
    assert s.tansu_workarounds is False
    for var in ("KAFKA_BROKER", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("GOVA_DATA_DIR", str(tmp_path))
    embedded = Settings()
    assert embedded.tansu_workarounds is True
    assert embedded.database().endswith(f"host={tmp_path.resolve() / 'pg'}")
