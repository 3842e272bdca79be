"""The one place a verdict is built, whichever stage reaches it."""

from __future__ import annotations

import time

from gova.core import parts
from gova.schemas import Behaviour, Item, Submission, Verdict
from gova.schemas.pipeline import Decision
from gova.schemas.review import Review


def verdict(
    sub: Submission,
    decision: Decision,
    *,
    behaviour: Behaviour | None = None,
    flagged: list[str] | None = None,
    review: Review | None = None,
    now: float | None = None,
) -> Verdict:
    """The verdict for a submission; an `Item` also brings what the classifier found."""
    scored: dict = {}
    if isinstance(sub, Item):
        scored = {
            "scores": sub.scores or {},
            "model": sub.model,
            "language": sub.language,
            "cached": sub.cached,
            "content_hash": sub.content_hash,
        }
        if sub.part_results is not None:
            scored["parts"] = sub.part_results
            scored["triggered_by"] = parts.triggered_by(sub.part_results)
            scored["parts_missing"] = sub.parts_missing
    return Verdict(
        tenant_id=sub.tenant_id,
        content_id=sub.event.id,
        author_id=sub.event.user_id,
        content_type=sub.event.content_type,
        decision=decision,
        flagged=flagged or [],
        thresholds=sub.policy.thresholds,
        behaviour=behaviour or Behaviour(),
        review=review,
        media=sub.media,
        received_at=sub.received_at,
        decided_at=time.time() if now is None else now,
        **scored,
    )


def decision_for(flagged: list[str], review: Review | None = None) -> Decision:
    """`act` when the reviewer chose an action, or (no review answer) when a category is
    flagged; else `allow`."""
    if review is not None and review.output is not None:
        return "act" if review.output.acts else "allow"
    return "act" if flagged else "allow"
