"""The media stages' models: the image classifier and the speech recogniser, each loaded
once, off the event loop, by whichever stage asks first (as the text model is in
`gova.worker.resources`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


class _Lazy:
    def __init__(self, load) -> None:
        self._load, self._value, self._lock = load, None, asyncio.Lock()

    async def get(self) -> Any:
        async with self._lock:
            if self._value is None:
                self._value = await asyncio.to_thread(self._load)
                log.info("loaded %s", getattr(self._value, "name", self._value))
        return self._value


def _image_model():
    from gova.models.image import load_image_model
    from gova.worker.app import settings

    return load_image_model(settings.whisper_threads)


def _recogniser():
    from gova.models.audio import load_recogniser
    from gova.worker.app import settings

    return load_recogniser(settings.whisper_model_dir, settings.whisper_threads)


image_model = _Lazy(_image_model)
recogniser = _Lazy(_recogniser)


class MediaGone(LookupError):
    """The item's bytes are not in the content store (expired, or never stored)."""


async def read_media(item: Any) -> bytes:
    """An image or audio item's bytes, from the content store, within the item's tenant."""
    from gova.worker.stages.plumbing import with_storage

    media = item.media
    if media is None:
        raise MediaGone(f"{item.event.content_type} item without a media reference")
    data = await with_storage(lambda s: s.media.get(item.tenant_id, media.sha256))
    if data is None:
        raise MediaGone(f"{media.kind} {media.sha256} is not in the content store (expired?)")
    return data
