"""The content a platform submits (seed 004's ContentEvent)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ContentType = Literal["text", "image", "audio"]
Priority = Literal["low", "normal", "high"]


class ContentMetadata(BaseModel):
    # Platforms attach their own context (channel, guild, thread): keep it, don't reject it.
    model_config = ConfigDict(extra="allow")

    timestamp: datetime | None = None
    source: str = "api"
    priority: Priority = "normal"

    def _extra(self, *names: str) -> str | None:
        extra = self.model_extra or {}
        value = next((extra[n] for n in names if extra.get(n)), None)
        return str(value) if value else None

    @property
    def channel_id(self) -> str | None:
        """The channel it was posted in, when the platform says (for the reviewer's context)."""
        return self._extra("channelId", "channel_id")

    @property
    def guild_id(self) -> str | None:
        """The platform's server (Discord's guild), for actions taken there."""
        return self._extra("guildId", "guild_id")

    @property
    def message_id(self) -> str | None:
        """The platform's own id of the message, for actions on it (delete, reply)."""
        return self._extra("messageId", "message_id")

    @property
    def moderator(self) -> str:
        """Whose guidelines apply: `metadata.moderator`, else the tenant's `default`."""
        return self._extra("moderator") or "default"


#: Attachments one item may carry beside its own content.
MAX_ATTACHMENTS = 4


class Attachment(BaseModel):
    """An image or audio file sent with an item (a message's attachments): classified by its
    own stage, joined with the item's other parts in one verdict."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    content_type: Literal["image", "audio"] = Field(alias="contentType")
    content: str = Field(min_length=1, max_length=24_000_000, description="base64 or data: URL")
    name: str | None = Field(
        None,
        max_length=256,
        description="what the sender calls the file (Discord's attachment id for a Discord "
        "message); the verdict's part carries it",
    )


class ContentEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._:\-]+$")
    user_id: str = Field(alias="userId", min_length=1, max_length=256)
    content_type: ContentType = Field(alias="contentType")
    # Text, or base64 for image/audio (the API's byte limits per type apply after decoding).
    content: str = Field(min_length=1, max_length=24_000_000)
    metadata: ContentMetadata = Field(default_factory=ContentMetadata)
    attachments: list[Attachment] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="files sent with the item; its verdict joins them and names the part "
        "that triggered it (part 0: `content`, 1…: the attachments in order)",
    )
