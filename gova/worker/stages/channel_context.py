"""content.channels → the last messages of each channel (`gova.core.channels`), for the
reviewer's context."""

from __future__ import annotations

from gova.core.channels import CHANNELS, context, remember
from gova.core.keys import channel_key
from gova.schemas.review import ChannelMessage
from gova.streams import CONTENT_CHANNELS
from gova.worker.app import app, settings
from gova.worker.stages.plumbing import applied, each_event
from gova.worker.tables import tables
from gova.worker.topics import topics


async def remember_message(msg: ChannelMessage) -> ChannelMessage:
    recent = tables[CHANNELS].get(msg.key)
    return await applied(remember(msg, recent, keep=settings.channel_context_messages))


def recent_messages(tenant_id: str, channel_id: str, before: str) -> list[ChannelMessage]:
    """The channel's recent messages other than `before`, from this worker's partition of
    the table (content.review is keyed like content.channels)."""
    recent = tables[CHANNELS].get(channel_key(tenant_id, channel_id))
    return context(tenant_id, channel_id, recent, before)


@app.agent(topics[CONTENT_CHANNELS.name])
async def channel_context(stream):
    async for outcome in each_event(stream, "channel_context", ChannelMessage, remember_message):
        yield outcome
