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


class ContentEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._:\-]+$")
    user_id: str = Field(alias="userId", min_length=1, max_length=256)
    content_type: ContentType = Field(alias="contentType")
    content: str = Field(min_length=1, max_length=1_000_000)
    metadata: ContentMetadata = Field(default_factory=ContentMetadata)
