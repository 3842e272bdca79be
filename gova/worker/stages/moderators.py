"""moderator.events → the moderator table (`gova.core.moderators`): a started, stopped or
reconfigured moderator reaches the planner within seconds, and survives restarts in the
table's changelog."""

from __future__ import annotations

from gova.core.actions import MODERATORS
from gova.core.moderators import apply_event
from gova.schemas.actions import ModeratorEvent
from gova.streams import MODERATOR_EVENTS
from gova.worker.app import app
from gova.worker.stages.plumbing import applied, each_event
from gova.worker.tables import tables
from gova.worker.topics import topics


async def apply(event: ModeratorEvent) -> ModeratorEvent:
    return await applied(apply_event(event, tables[MODERATORS].get(event.moderator_key)))


@app.agent(topics[MODERATOR_EVENTS.name])
async def moderator_lifecycle(stream):
    async for outcome in each_event(stream, "moderator_lifecycle", ModeratorEvent, apply):
        yield outcome
