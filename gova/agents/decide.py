"""content.scored → the tenant's policy and the author's behaviour → moderation.results, or
content.review when the scores are uncertain (the policy's review band).

The author's behaviour table is also fed by authors.severity: what a review concluded."""

from __future__ import annotations

import time

from gova.agents.base import each_event, emit
from gova.pipeline import app, settings, topics
from gova.schemas import Behaviour, Item, Verdict
from gova.schemas.review import AuthorSeverity, Review
from gova.streams import AUTHORS_SEVERITY, CONTENT_REVIEW, CONTENT_SCORED, MODERATION_RESULTS
from gova.tables.authors import behaviour
from gova.tables.behaviour_score import record


def verdict_for(
    item: Item, author: Behaviour, flagged: list[str], review: Review | None = None
) -> Verdict:
    """The verdict for an item: the reviewer's decision when it reviewed, else the policy's."""
    acted = review.output.acts if review and review.output else bool(flagged)
    return Verdict(
        tenant_id=item.tenant_id,
        content_id=item.event.id,
        author_id=item.event.user_id,
        content_type=item.event.content_type,
        decision="act" if acted else "allow",
        review=review,
        scores=item.scores or {},
        flagged=flagged,
        thresholds=item.policy.thresholds,
        behaviour=author,
        model=item.model,
        language=item.language,
        cached=item.cached,
        content_hash=item.content_hash,
        received_at=item.received_at,
        decided_at=time.time(),
    )


def flagged_severity(item: Item) -> float:
    """What a classifier-only verdict adds to the author's behaviour score."""
    scores = item.scores or {}
    return max((scores[c] for c in item.policy.flagged(scores)), default=0.0)


def record_severity(key: str, at: float, severity: float) -> Behaviour:
    state = record(behaviour.get(key), at, severity, half_life_s=settings.behaviour_half_life_s)
    behaviour[key] = state
    return Behaviour(score=state["score"], strikes=state["strikes"])


async def decide_item(item: Item) -> Verdict | Item:
    if item.scores is None:
        raise ValueError("item reached decide without scores")
    if item.policy.needs_review(item.scores):
        # The reviewer sees the author as they were; its outcome comes back as a severity.
        item.behaviour = record_severity(item.key, item.received_at, 0.0)
        await emit(CONTENT_REVIEW, item.channel_key, item)
        return item
    flagged = item.policy.flagged(item.scores)
    author = record_severity(item.key, item.received_at, flagged_severity(item))
    verdict = verdict_for(item, author, flagged)
    await emit(MODERATION_RESULTS, item.key, verdict)
    return verdict


async def record_outcome(update: AuthorSeverity) -> AuthorSeverity:
    record_severity(f"{update.tenant_id}:{update.author_id}", update.at, update.severity)
    return update


@app.agent(topics[CONTENT_SCORED.name])
async def decide(stream):
    async for outcome in each_event(stream, "decide", Item, decide_item):
        yield outcome


# Reviews run keyed by channel; their outcome for the author comes back keyed by author, to
# the worker that holds the author's behaviour.
@app.agent(topics[AUTHORS_SEVERITY.name])
async def author_severity(stream):
    async for outcome in each_event(stream, "author_severity", AuthorSeverity, record_outcome):
        yield outcome
