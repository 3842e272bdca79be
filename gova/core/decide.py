"""Deciding a scored item: the policy's verdict, or the reviewer for the uncertain band; and
what each outcome does to the author's behaviour (severity → behaviour, one rule)."""

from __future__ import annotations

from gova.core import verdicts
from gova.core.actions import propose
from gova.core.behaviour import BehaviourState, record, strikes_within
from gova.core.effects import Emit, Outcome, Put
from gova.core.keys import author_key
from gova.core.policy import flagged, flagged_severity, needs_review
from gova.schemas import Behaviour, Item, Verdict
from gova.schemas.review import AuthorSeverity, Review
from gova.streams import AUTHORS_SEVERITY, CONTENT_REVIEW, MODERATION_ACTIONS, MODERATION_RESULTS

#: The changelog table of per-author behaviour, keyed `tenant:author`.
BEHAVIOUR = "behaviour"
#: Strikes older than this do not count on a moderator's ladder (GOVA_STRIKE_WINDOW_S).
STRIKE_WINDOW_S = 30 * 86_400.0


def add_severity(
    state: BehaviourState | None,
    key: str,
    at: float,
    severity: float,
    *,
    half_life_s: float,
    strike_window_s: float = STRIKE_WINDOW_S,
) -> tuple[Behaviour, Put]:
    """The author's behaviour after `severity` at `at`, and the table write that keeps it."""
    new = record(state, at, severity, half_life_s=half_life_s)
    author = Behaviour(
        score=new["score"],
        strikes=new["strikes"],
        recent_strikes=strikes_within(new, at, strike_window_s),
    )
    return author, Put(BEHAVIOUR, key, new)


def _acted(verdict: Verdict, item: Item, strikes: int) -> list[Emit]:
    """The verdict, and (when it acts) the proposal to the item's moderator."""
    effects = [Emit(MODERATION_RESULTS, verdict.key, verdict)]
    if (proposal := propose(item, verdict, strikes)) is not None:
        effects.append(Emit(MODERATION_ACTIONS, proposal.moderator_key, proposal))
    return effects


def decide(
    item: Item,
    state: BehaviourState | None,
    *,
    half_life_s: float,
    strike_window_s: float = STRIKE_WINDOW_S,
) -> Outcome:
    """The policy's verdict for a scored item (and its moderator's proposal when it acts), or
    the item sent on for review."""
    if item.scores is None:
        raise ValueError("item reached decide without scores")
    window = {"half_life_s": half_life_s, "strike_window_s": strike_window_s}
    if item.part_results is not None:  # a joined multi-part item: each part by its policy
        hits = sorted({c for r in item.part_results for c in r.flagged})
        severity = max((r.scores[c] for r in item.part_results for c in r.flagged), default=0.0)
        text = next((r.scores for r in item.part_results if r.part == 0), {})
        review = not hits and item.event.content_type != "image" and needs_review(item.policy, text)
    else:
        hits = flagged(item.policy, item.scores)
        severity = flagged_severity(item.policy, item.scores)
        review = needs_review(item.policy, item.scores)
    if review:
        # The reviewer sees the author as they were; its outcome comes back as a severity.
        author, put = add_severity(state, item.key, item.received_at, 0.0, **window)
        item = item.model_copy(update={"behaviour": author})
        return Outcome(item, [put, Emit(CONTENT_REVIEW, item.review_key, item)])
    author, put = add_severity(state, item.key, item.received_at, severity, **window)
    verdict = verdicts.verdict(item, verdicts.decision_for(hits), behaviour=author, flagged=hits)
    return Outcome(verdict, [put, *_acted(verdict, item, author.recent_strikes)])


def review_severity(item: Item, review: Review) -> float:
    """What a reviewed item adds to its author's behaviour: the reviewer's severity when it
    acted (0 when it chose no action), else the classifier's."""
    if review.output is not None:
        return review.output.severity_score if review.output.acts else 0.0
    return flagged_severity(item.policy, item.scores or {})


def conclude_review(item: Item, review: Review) -> Outcome:
    """The verdict after a review (reviewed or skipped), and the severity it sends back to
    the worker holding the author's behaviour (reviews run keyed by channel)."""
    hits = flagged(item.policy, item.scores or {})
    verdict: Verdict = verdicts.verdict(
        item,
        verdicts.decision_for(hits, review),
        behaviour=item.behaviour,
        flagged=hits,
        review=review,
    )
    effects: list = []
    if (severity := review_severity(item, review)) > 0:
        update = AuthorSeverity(
            tenant_id=item.tenant_id,
            author_id=item.event.user_id,
            content_id=item.event.id,
            severity=severity,
            at=item.received_at,
        )
        effects.append(Emit(AUTHORS_SEVERITY, update.key, update))
    # This item's strike lands on the author's partition later; the ladder counts it now.
    strikes = (item.behaviour.recent_strikes if item.behaviour else 0) + (severity > 0)
    effects += _acted(verdict, item, strikes)
    return Outcome(verdict, effects)


def record_outcome(
    update: AuthorSeverity, state: BehaviourState | None, *, half_life_s: float
) -> Outcome:
    """A review's severity into the author's behaviour."""
    key = author_key(update.tenant_id, update.author_id)
    _, put = add_severity(state, key, update.at, update.severity, half_life_s=half_life_s)
    return Outcome(update, [put])
