"""A channel's recent messages, kept for the reviewer's context."""

from __future__ import annotations

from gova.core.effects import Outcome, Put
from gova.schemas.review import ChannelMessage

#: The changelog table of recent messages per channel, keyed `tenant:channel`.
CHANNELS = "channels"
MAX_CHARS = 500  # per message: context, not the full text


def remember(msg: ChannelMessage, recent: list[dict] | None, *, keep: int) -> Outcome:
    """The channel's last `keep` messages, oldest first, with `msg` in (once)."""
    kept = [m for m in (recent or []) if m["content_id"] != msg.content_id]
    kept.append(
        {
            "content_id": msg.content_id,
            "author_id": msg.author_id,
            "text": msg.text[:MAX_CHARS],
            "at": msg.at,
        }
    )
    kept = sorted(kept, key=lambda m: m["at"])[-keep:]
    return Outcome(msg, [Put(CHANNELS, msg.key, kept)])


def context(
    tenant_id: str, channel_id: str, recent: list[dict] | None, before: str
) -> list[ChannelMessage]:
    """The channel's recent messages other than `before` (the one under review)."""
    return [
        ChannelMessage(tenant_id=tenant_id, channel_id=channel_id, **m)
        for m in recent or []
        if m["content_id"] != before
    ]
