"""content.scored → the engine's decision (`gova.core.decide`) → moderation.results, or
content.review for the uncertain band; authors.severity (what a review concluded) → the
author's behaviour."""

from __future__ import annotations

from gova.core.decide import BEHAVIOUR, decide, record_outcome
from gova.schemas import Item, Verdict
from gova.schemas.review import AuthorSeverity
from gova.streams import AUTHORS_SEVERITY, CONTENT_SCORED
from gova.worker.app import app, settings
from gova.worker.stages.plumbing import applied, each_event
from gova.worker.tables import tables
from gova.worker.topics import topics


async def decide_item(item: Item) -> Verdict | Item:
    state = tables[BEHAVIOUR].get(item.key)
    return await applied(decide(item, state, half_life_s=settings.behaviour_half_life_s))


async def record_severity(update: AuthorSeverity) -> AuthorSeverity:
    state = tables[BEHAVIOUR].get(update.key)
    return await applied(record_outcome(update, state, half_life_s=settings.behaviour_half_life_s))


@app.agent(topics[CONTENT_SCORED.name])
async def decide_scored(stream):
    async for outcome in each_event(stream, "decide", Item, decide_item):
        yield outcome


# Reviews run keyed by channel; their outcome for the author comes back keyed by author, to
# the worker that holds the author's behaviour.
@app.agent(topics[AUTHORS_SEVERITY.name])
async def author_severity(stream):
    async for outcome in each_event(stream, "author_severity", AuthorSeverity, record_severity):
        yield outcome
