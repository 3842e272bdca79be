"""A policy applied to scores: what is flagged, what goes to the reviewer, how severe it is."""

from __future__ import annotations

from collections.abc import Mapping

from gova.schemas import Policy


def flagged(policy: Policy, scores: Mapping[str, float]) -> list[str]:
    """The categories whose score reached the policy's threshold, sorted."""
    limits = policy.thresholds
    return sorted(c for c, s in scores.items() if c in limits and s >= limits[c])


def needs_review(policy: Policy, scores: Mapping[str, float]) -> bool:
    """Uncertain: the highest score lies in the review band (`0,1` reviews everything)."""
    if policy.review_band is None:
        return False
    low, high = policy.review_band
    top = max(scores.values(), default=0.0)
    return low <= top < high or (high >= 1.0 and top >= low)


def flagged_severity(policy: Policy, scores: Mapping[str, float]) -> float:
    """What a classifier-only verdict adds to the author's behaviour score: the highest
    flagged score, 0 when nothing is flagged."""
    return max((scores[c] for c in flagged(policy, scores)), default=0.0)
