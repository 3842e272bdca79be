"""content.raw → the engine's admission (`gova.core.ingest`) → content.text /
content.channels, or a rate-limited verdict to moderation.results."""

from __future__ import annotations

from gova.core.ingest import RATE_LIMITS, admit
from gova.schemas import Item, Submission, Verdict
from gova.streams import CONTENT_RAW
from gova.worker.app import app, settings
from gova.worker.stages.plumbing import applied, each_event
from gova.worker.tables import tables
from gova.worker.topics import topics


async def route(sub: Submission) -> Item | Verdict:
    burst, per_s = settings.rate_limit_burst, settings.rate_limit_per_s
    return await applied(admit(sub, tables[RATE_LIMITS].get(sub.key), burst=burst, per_s=per_s))


@app.agent(topics[CONTENT_RAW.name])
async def ingest(stream):
    async for outcome in each_event(stream, "ingest", Submission, route):
        yield outcome
