"""Per-author behaviour: a decayed sum of flagged severities, a strike count, and the times
of the latest strikes (so a moderator's ladder counts only strikes within its window)."""

from __future__ import annotations

import math
from typing import NotRequired, TypedDict

#: Strike times kept per author: enough for any ladder, bounded whatever an author does.
KEPT_STRIKES = 16


class BehaviourState(TypedDict):
    score: float
    strikes: int
    at: float
    struck: NotRequired[list[float]]  # absent in state written before strike windows


def record(
    state: BehaviourState | None, now: float, severity: float, *, half_life_s: float
) -> BehaviourState:
    """Decay the score to `now`, then add `severity` (0 for an allowed item)."""
    if state is None:
        state = {"score": 0.0, "strikes": 0, "at": now}
    elapsed = max(0.0, now - state["at"])
    decayed = state["score"] * math.pow(0.5, elapsed / half_life_s)
    struck = list(state.get("struck", []))
    if severity > 0:
        struck = sorted([*struck, now])[-KEPT_STRIKES:]
    return {
        "score": round(decayed + severity, 6),
        "strikes": state["strikes"] + (1 if severity > 0 else 0),
        "at": max(now, state["at"]),
        "struck": struck,
    }


def strikes_within(state: BehaviourState | None, now: float, window_s: float) -> int:
    """Strikes in the `window_s` seconds up to `now` (at most KEPT_STRIKES)."""
    if state is None:
        return 0
    return sum(1 for t in state.get("struck", []) if now - window_s < t <= now)
