"""content.scored → the tenant's policy and the author's behaviour → moderation.results, or
content.review when the scores are uncertain (the policy's review band)."""

from __future__ import annotations

import time

from gova.agents.base import each_event, emit
from gova.pipeline import app, settings, topics
from gova.schemas import Behaviour, Item, Verdict
from gova.schemas.review import Review
from gova.streams import CONTENT_REVIEW, CONTENT_SCORED, MODERATION_RESULTS
from gova.tables.authors import behaviour
from gova.tables.behaviour_score import record


def verdict_for(
    item: Item, author: Behaviour, flagged: list[str], review: Review | None = None
) -> Verdict:
    """The verdict for an item: the reviewer's decision when it reviewed, else the policy's."""
    if review is not None and review.output is not None:
        acted = review.output.action.type != "NONE"
    else:
        acted = bool(flagged)
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
        cached=item.cached,
        content_hash=item.content_hash,
        received_at=item.received_at,
        decided_at=time.time(),
    )


async def decide_item(item: Item) -> Verdict | Item:
    if item.scores is None:
        raise ValueError("item reached decide without scores")
    flagged = item.policy.flagged(item.scores)
    severity = max((item.scores[c] for c in flagged), default=0.0)
    state = record(
        behaviour.get(item.key),
        item.received_at,
        severity,
        half_life_s=settings.behaviour_half_life_s,
    )
    behaviour[item.key] = state
    author = Behaviour(score=state["score"], strikes=state["strikes"])
    if item.policy.needs_review(item.scores):
        item.behaviour = author
        await emit(CONTENT_REVIEW, item.channel_key, item)
        return item
    verdict = verdict_for(item, author, flagged)
    await emit(MODERATION_RESULTS, item.key, verdict)
    return verdict


@app.agent(topics[CONTENT_SCORED.name])
async def decide(stream):
    async for outcome in each_event(stream, "decide", Item, decide_item):
        yield outcome
