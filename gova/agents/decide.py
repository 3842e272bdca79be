"""content.scored → the tenant's policy and the author's behaviour → moderation.results."""

from __future__ import annotations

import time

from gova.agents.base import each_event, emit
from gova.pipeline import app, settings, topics
from gova.schemas import Behaviour, Item, Verdict
from gova.streams import CONTENT_SCORED, MODERATION_RESULTS
from gova.tables.authors import behaviour
from gova.tables.behaviour_score import record


def verdict_for(item: Item, author: Behaviour, flagged: list[str]) -> Verdict:
    return Verdict(
        tenant_id=item.tenant_id,
        content_id=item.event.id,
        author_id=item.event.user_id,
        content_type=item.event.content_type,
        decision="act" if flagged else "allow",
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


async def decide_item(item: Item) -> Verdict:
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
    verdict = verdict_for(item, author, flagged)
    await emit(MODERATION_RESULTS, item.key, verdict)
    return verdict


@app.agent(topics[CONTENT_SCORED.name])
async def decide(stream):
    async for outcome in each_event(stream, "decide", Item, decide_item):
        yield outcome
