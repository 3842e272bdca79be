"""Real media files made in the tests: pictures drawn with Pillow, speech spoken by Debian's
espeak-ng, re-encoded with PyAV (FFmpeg's codecs) into each container the API takes."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess

import numpy as np

LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"


def picture(width: int = 320, height: int = 240, seed: int = 0):
    """A picture with shapes and gradients (so PDQ has structure to hash), as a PIL image."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    zero = np.zeros((height, width, 1))
    channels = [x * 255 + zero, y * 255 + zero, (1 - x) * 200 + zero]
    base = np.concatenate(channels, axis=2).astype(np.uint8)
    image = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        x1, y1 = x0 + int(rng.integers(10, width // 2)), y0 + int(rng.integers(10, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def encoded(image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def gif(frames: int = 10, seed: int = 0) -> bytes:
    images = [picture(160, 120, seed=seed + i) for i in range(frames)]
    return encoded(images[0], "GIF", save_all=True, append_images=images[1:], duration=50)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def speech(text: str) -> bytes:
    """`text` spoken by espeak-ng, as its WAV (22.05 kHz mono)."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: `make test` installs it (apt-get)")
    return subprocess.run(
        ["espeak-ng", "--stdout", "-s", "150", text], capture_output=True, check=True, timeout=60
    ).stdout


def reencode(wav: bytes, container: str, codec: str, rate: int = 48_000) -> bytes:
    """A WAV re-encoded with PyAV into `container` with `codec` (mp3, ogg/opus, flac, webm)."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format=container) as sink:
        stream = sink.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    sink.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return out.getvalue()


def tone(seconds: float, amplitude: float = 0.5, rate: int = 16_000) -> bytes:
    """A 440 Hz tone as 16-bit WAV (amplitude 1.0 or more clips)."""
    import wave

    t = np.arange(int(seconds * rate)) / rate
    samples = np.clip(amplitude * np.sin(2 * np.pi * 440 * t), -1, 1)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return out.getvalue()
