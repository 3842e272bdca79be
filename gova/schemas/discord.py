"""Discord's message object as Gova reads it, and the content item a message becomes.

One definition for both ways messages come in: `POST /api/v1/discord/messages` (relays and
bots that exist already) and `gova discord-bridge` (the gateway's MESSAGE_CREATE and
MESSAGE_UPDATE dispatches). Only the fields Gova reads are declared; the rest is accepted
and ignored, since Discord adds fields without notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gova.schemas.actions import ModeratorConfig
from gova.schemas.content import Attachment, ContentEvent

SNOWFLAKE = r"^[0-9]{1,20}$"


class DiscordAuthor(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=SNOWFLAKE)
    bot: bool = False


class DiscordAttachment(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=SNOWFLAKE)
    filename: str = Field(max_length=1_000)
    content_type: str | None = Field(None, max_length=200)
    size: int | None = Field(None, ge=0)
    url: str | None = Field(None, max_length=2_000)
    proxy_url: str | None = Field(None, max_length=2_000)


class DiscordMessage(BaseModel):
    """The fields of Discord's message object Gova reads; the rest is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=SNOWFLAKE)
    channel_id: str = Field(pattern=SNOWFLAKE)
    guild_id: str = Field(pattern=SNOWFLAKE)
    author: DiscordAuthor
    content: str = Field("", max_length=4_000)
    attachments: list[DiscordAttachment] = Field(default_factory=list, max_length=10)


def watches(config: ModeratorConfig, message: DiscordMessage) -> bool:
    """A discord moderator of this guild, watching all channels or this one."""
    target = config.discord
    return (
        config.platform == "discord"
        and target is not None
        and target.guild_id == message.guild_id
        and (not target.channel_ids or message.channel_id in target.channel_ids)
    )


def item_id(message: DiscordMessage, edit: str | None = None) -> str:
    return f"discord-{message.id}" + (f".edit-{edit}" if edit else "")


def content_event(
    message: DiscordMessage,
    moderator: str,
    *,
    edit: str | None = None,
    files: Sequence[Attachment] = (),
    skipped: Sequence[dict[str, str]] = (),
) -> ContentEvent | None:
    """The item for a message; an edit (`edit` names it, e.g. its edit time in ms) is an item
    of its own, so the edited text gets a verdict rather than the first text's again.

    `files` are the attachments fetched (`gova.integrations.discord_attachments`), each named
    by its Discord id: the item's attachments, or, in a message without text, its content
    (the first; `metadata.content_attachment` names it) and attachments. `skipped` (the
    attachments not fetched, with why) goes to `metadata.attachments_skipped`. None when
    there is nothing to moderate (no text and no file)."""
    text = message.content if message.content.strip() else ""
    if not text and not files:
        return None
    metadata: dict[str, Any] = {
        "source": "discord",
        "moderator": moderator,
        "guildId": message.guild_id,
        "channelId": message.channel_id,
        "messageId": message.id,
    }
    if message.attachments:
        metadata["attachments"] = [a.model_dump(exclude_none=True) for a in message.attachments]
    if skipped:
        metadata["attachments_skipped"] = list(skipped)
    if text:
        kind, content, rest = "text", text, list(files)
    else:
        first, *rest = files
        kind, content = first.content_type, first.content
        metadata["content_attachment"] = first.name
    return ContentEvent(
        id=item_id(message, edit),
        userId=message.author.id,
        contentType=kind,
        content=content,
        metadata=metadata,
        attachments=rest,
    )
