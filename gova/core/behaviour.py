"""Per-author behaviour: a decayed sum of flagged severities and a strike count."""

from __future__ import annotations

import math
from typing import TypedDict


class BehaviourState(TypedDict):
    score: float
    strikes: int
    at: float


def record(
    state: BehaviourState | None, now: float, severity: float, *, half_life_s: float
) -> BehaviourState:
    """Decay the score to `now`, then add `severity` (0 for an allowed item)."""
    if state is None:
        state = {"score": 0.0, "strikes": 0, "at": now}
    elapsed = max(0.0, now - state["at"])
    decayed = state["score"] * math.pow(0.5, elapsed / half_life_s)
    return {
        "score": round(decayed + severity, 6),
        "strikes": state["strikes"] + (1 if severity > 0 else 0),
        "at": max(now, state["at"]),
    }
