"""content.scored → the engine's decision (`gova.core.decide`) → moderation.results, or
content.review for the uncertain band; authors.severity (what a review concluded) → the
author's behaviour.

The parts of a multi-part item (its content and attachments, scored by their own stages)
are joined first (`gova.core.parts`, table `parts`); a timer here sends a `PartsDue` for an
item whose parts have waited GOVA_PARTS_TIMEOUT_S, and decide concludes with those that
came."""

from __future__ import annotations

import time

from pydantic import RootModel

from gova.core import parts
from gova.core.decide import BEHAVIOUR, decide, record_outcome
from gova.schemas import Item, Verdict
from gova.schemas.pipeline import PartsDue
from gova.schemas.review import AuthorSeverity
from gova.streams import AUTHORS_SEVERITY, CONTENT_SCORED
from gova.worker.app import app, settings
from gova.worker.stages.plumbing import applied, each_event, emit
from gova.worker.tables import tables
from gova.worker.topics import topics


class Scored(RootModel[PartsDue | Item]):
    """What content.scored carries: a scored item (or part), or a join that is due."""


async def decide_item(item: Item) -> Verdict | Item:
    state = tables[BEHAVIOUR].get(item.key)
    return await applied(decide(item, state, half_life_s=settings.behaviour_half_life_s))


async def decide_scored_record(record: Scored) -> Verdict | Item | PartsDue:
    scored = record.root
    now = time.time()
    if isinstance(scored, PartsDue):
        key = scored.parts_due
        entry = tables[parts.PARTS].get(key)
        item = await applied(
            parts.expire(key, entry, now, settings.parts_timeout_s, settings.parts_remember_s)
        )
    elif scored.parts > 1:
        key = parts.key_of(scored)
        item = await applied(parts.gather(scored, tables[parts.PARTS].get(key), now))
    else:
        item = scored
    if item is None:  # waiting for the other parts, or concluded already
        return scored
    return await decide_item(item)


@app.timer(interval=settings.parts_sweep_interval_s)
async def parts_due() -> None:
    """Items whose parts waited long enough, and markers old enough to forget: sent, on the
    item's own partition, to decide (the table's writer)."""
    now = time.time()
    for key, entry in list(tables[parts.PARTS].items()):
        if parts.overdue(entry, now, settings.parts_timeout_s, settings.parts_remember_s):
            await emit(CONTENT_SCORED, key.rpartition("|")[0], PartsDue(parts_due=key))


async def record_severity(update: AuthorSeverity) -> AuthorSeverity:
    state = tables[BEHAVIOUR].get(update.key)
    return await applied(record_outcome(update, state, half_life_s=settings.behaviour_half_life_s))


@app.agent(topics[CONTENT_SCORED.name])
async def decide_scored(stream):
    async for outcome in each_event(stream, "decide", Scored, decide_scored_record):
        yield outcome


# Reviews run keyed by channel; their outcome for the author comes back keyed by author, to
# the worker that holds the author's behaviour.
@app.agent(topics[AUTHORS_SEVERITY.name])
async def author_severity(stream):
    async for outcome in each_event(stream, "author_severity", AuthorSeverity, record_severity):
        yield outcome
