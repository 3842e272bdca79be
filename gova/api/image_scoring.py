"""Image scoring inside the API process, for `/v1/moderations` image parts (answered at once,
outside the pipeline): the image model loaded once per process on first use, off the event
loop; the same checks and limits as a submitted image (`gova.api.media_in`)."""

from __future__ import annotations

import asyncio

from gova.api import media_in
from gova.api.state import ApiState

_model = None
_loading = asyncio.Lock()


async def _image_model():
    global _model
    if _model is None:
        async with _loading:
            if _model is None:
                from gova.models.image import load_image_model

                _model = await asyncio.to_thread(load_image_model)
    return _model


async def score_data_urls(urls: list[str], state: ApiState, where: str) -> list[dict[str, float]]:
    """Scores per image (each category's highest over an animation's sampled frames)."""
    from gova.media.inspect import image_frames

    decoded = []
    for i, url in enumerate(urls):
        at = f"{where}.{i}.image_url.url" if len(urls) > 1 else f"{where}.image_url.url"
        media_in.check_enabled("image", at)
        data = media_in.decode_base64("image", url, state, at)
        media = await media_in.inspected("image", data, state, at)
        decoded.append((data, media.format))
    model = await _image_model()

    def run() -> list[dict[str, float]]:
        out = []
        for data, fmt in decoded:
            frames = image_frames(data, fmt, state.settings)
            per_frame = model.classify(frames)
            out.append({c: max(s[c] for s in per_frame) for c in model.categories})
        return out

    return await asyncio.to_thread(run)
