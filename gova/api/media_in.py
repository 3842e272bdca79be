"""Image and audio items on the way in: the modality's extra, base64, what the bytes are,
the limits, and the content store.

Every check happens before the item is accepted, so a caller learns what is wrong from the
answer (413 for a limit, 422 otherwise, the field and the limit named) and no worker ever
meets a file it cannot decode. The bytes are stored once (per tenant and sha256) and the
item goes on with a reference in place of its content.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from dataclasses import dataclass, field
from functools import cache

from fastapi import HTTPException

from gova.api.state import ApiState
from gova.media.inspect import MediaError, byte_limit, inspect, missing_extra
from gova.models.text import deployment_thresholds
from gova.schemas import ContentEvent, Policy
from gova.schemas.media import Media

MEDIA_TYPES = ("image", "audio")
# A data: URL is taken as its base64 payload (`data:image/png;base64,...`).
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w=.+-]+)*;base64,", re.ASCII)
# Decoding is CPU and memory: at most this many files are inspected at once per process.
_INSPECTING = 2


@cache
def _semaphore() -> asyncio.Semaphore:
    return asyncio.Semaphore(_INSPECTING)


def modalities() -> set[str]:
    """The content types this deployment processes: text, and each media type whose extra
    is installed."""
    return {"text", *(kind for kind in MEDIA_TYPES if missing_extra(kind) is None)}


def check_enabled(kind: str, where: str) -> None:
    if kind in MEDIA_TYPES and (why := missing_extra(kind)):
        raise HTTPException(422, f"{where}.contentType: {why}")


def decode_base64(kind: str, content: str, state: ApiState, where: str) -> bytes:
    """The file's bytes; over the byte limit is refused before decoding."""
    payload = _DATA_URL.sub("", content, count=1)
    limit, name = byte_limit(kind, state.settings)
    if len(payload) * 3 // 4 - 2 > limit:
        raise HTTPException(
            413,
            f"{where}.content: {kind} is over {len(payload) * 3 // 4 - 2:,} bytes, over the "
            f"limit {name}={limit:,}",
        )
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(
            422,
            f"{where}.content: {kind} content must be base64 (standard alphabet, padded) or a "
            "data: URL with ;base64",
        ) from None


async def inspected(kind: str, data: bytes, state: ApiState, where: str) -> Media:
    async with _semaphore():
        try:
            return await asyncio.to_thread(inspect, kind, data, state.settings)
        except MediaError as exc:
            raise HTTPException(exc.status, f"{where}.content: {exc}") from None


@dataclass
class Accepted:
    """An item's stored files: its content's (an image or audio item) and its attachments'."""

    media: Media | None = None
    attachments: list[Media] = field(default_factory=list)


async def accept(
    state: ApiState, tenant_id: str, events: list[ContentEvent], where: str = "body"
) -> dict[str, Accepted]:
    """Check and store every image and audio file of `events` (items and attachments); what
    was stored, by item id. Nothing is stored unless every file passes (one bad file refuses
    the request)."""
    found: dict[str, Accepted] = {}
    files: list[tuple[Media, bytes]] = []
    many = len(events) > 1

    async def one(kind: str, content: str, at: str) -> Media:
        check_enabled(kind, at)
        data = decode_base64(kind, content, state, at)
        media = await inspected(kind, data, state, at)
        files.append((media, data))
        return media

    for event in events:
        at = f"{where}.items[id={event.id}]" if many else where
        accepted = Accepted()
        if event.content_type in MEDIA_TYPES:
            accepted.media = await one(event.content_type, event.content, at)
        for n, attachment in enumerate(event.attachments):
            where_n = f"{at}.attachments.{n}"
            accepted.attachments.append(
                await one(attachment.content_type, attachment.content, where_n)
            )
        if accepted.media or accepted.attachments:
            found[event.id] = accepted
    expires = time.time() + state.settings.media_retention_s
    for media, data in files:
        await state.storage.media.put(
            tenant_id, media.sha256, media.kind, media.format, data, expires
        )
    return found


def referenced(event: ContentEvent, accepted: Accepted | None) -> ContentEvent:
    """The event as it travels: a file's content is its reference, never its bytes."""
    if accepted is None:
        return event
    update: dict = {}
    if accepted.media is not None:
        update["content"] = f"sha256:{accepted.media.sha256}"
    if accepted.attachments:
        update["attachments"] = [
            a.model_copy(update={"content": f"sha256:{m.sha256}"})
            for a, m in zip(event.attachments, accepted.attachments, strict=True)
        ]
    return event.model_copy(update=update)


def media_fields(accepted: Accepted | None, tenant_policy: Policy, state: ApiState) -> dict:
    """The Submission's media fields: the files' references, and the policy images use."""
    if accepted is None:
        return {}
    images = [m for m in [accepted.media, *accepted.attachments] if m and m.kind == "image"]
    return {
        "media": accepted.media,
        "attachments": accepted.attachments,
        "image_policy": policy_for_images(tenant_policy, state) if images else None,
    }


def policy_for(event: ContentEvent, policy: Policy, tenant_policy: Policy, state: ApiState):
    """An image's policy: the image model's thresholds (the tenant's own win) and no LLM
    review (the reviewer reads text). Audio is judged on its transcript, as text."""
    if event.content_type != "image":
        return policy
    return policy_for_images(tenant_policy, state)


def policy_for_images(tenant_policy: Policy, state: ApiState) -> Policy:
    s = state.settings
    merged = tenant_policy.merged_over({**deployment_thresholds(s), **s.image_thresholds})
    return merged.model_copy(update={"review_band": None})
