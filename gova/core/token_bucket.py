"""Token bucket arithmetic, kept pure so replays of the same events give the same answers."""

from __future__ import annotations

from typing import TypedDict


class Bucket(TypedDict):
    tokens: float
    at: float


def take_token(
    bucket: Bucket | None, now: float, *, burst: float, per_s: float
) -> tuple[bool, Bucket]:
    """Refill by elapsed time, then take one token if there is one."""
    if bucket is None:
        tokens, at = burst, now
    else:
        at = max(bucket["at"], now)
        tokens = min(burst, bucket["tokens"] + max(0.0, now - bucket["at"]) * per_s)
    if tokens >= 1.0:
        return True, {"tokens": tokens - 1.0, "at": at}
    return False, {"tokens": tokens, "at": at}
