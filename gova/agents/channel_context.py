"""content.channels → the last messages of each channel, for the reviewer's context."""

from __future__ import annotations

from gova.agents.base import each_event
from gova.pipeline import app, settings, topics
from gova.schemas.review import ChannelMessage
from gova.streams import CONTENT_CHANNELS
from gova.tables.channels import channels

MAX_CHARS = 500  # per message: context, not the full text


async def remember(msg: ChannelMessage) -> ChannelMessage:
    key = f"{msg.tenant_id}:{msg.channel_id}"
    recent = [m for m in (channels.get(key) or []) if m["content_id"] != msg.content_id]
    recent.append(
        {
            "content_id": msg.content_id,
            "author_id": msg.author_id,
            "text": msg.text[:MAX_CHARS],
            "at": msg.at,
        }
    )
    channels[key] = sorted(recent, key=lambda m: m["at"])[-settings.channel_context_messages :]
    return msg


def recent_messages(tenant_id: str, channel_id: str, before: str) -> list[ChannelMessage]:
    """The channel's recent messages other than `before` (the one under review)."""
    return [
        ChannelMessage(tenant_id=tenant_id, channel_id=channel_id, **m)
        for m in channels.get(f"{tenant_id}:{channel_id}") or []
        if m["content_id"] != before
    ]


@app.agent(topics[CONTENT_CHANNELS.name])
async def channel_context(stream):
    async for outcome in each_event(stream, "channel_context", ChannelMessage, remember):
        yield outcome
