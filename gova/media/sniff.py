"""What a file is, from its first bytes (its magic numbers), never from what it claims.

Pure Python, no decoders: the API can refuse a file that is not what its `contentType` says
before any library parses it.
"""

from __future__ import annotations

IMAGE_FORMATS = ("jpeg", "png", "webp", "gif")
AUDIO_FORMATS = ("wav", "mp3", "ogg", "opus", "flac", "webm")


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, format) of `data`, kind "image" or "audio"; None for anything else."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio", "wav"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    if head.startswith(b"OggS"):
        # The first page holds the codec's identification header.
        return "audio", "opus" if b"OpusHead" in data[:128] else "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM
        return ("audio", "webm") if b"webm" in data[:64] else None
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return "audio", "mp3"
    return None


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header: 11 sync bits, a valid version, layer III."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer, bitrate = (head[1] >> 3) & 3, (head[1] >> 1) & 3, head[2] >> 4
    return version != 1 and layer == 1 and bitrate not in (0, 15)


def describe(found: tuple[str, str] | None) -> str:
    """How a sniffed file is named in an error message."""
    if found is None:
        return "not a recognised image or audio format"
    kind, fmt = found
    return f"{fmt.upper()} {kind}"


# Writers that stream to a pipe (espeak-ng --stdout, sox, ffmpeg) put a placeholder here.
STREAMED = 0x7FFF0000


def riff_streamed(data: bytes) -> bool:
    """A RIFF file written to a pipe: its sizes are placeholders, not what it holds."""
    size = int.from_bytes(data[4:8], "little")
    return data.startswith(b"RIFF") and (size == 0 or size >= STREAMED)


def riff_shortfall(data: bytes) -> tuple[int, int] | None:
    """For a RIFF file (WAV) whose `data` chunk declares more bytes than the file holds:
    (declared, present). None when complete, streamed (a placeholder size) or not RIFF."""
    if not data.startswith(b"RIFF"):
        return None
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        if chunk == b"data":
            present = len(data) - at - 8
            if size == 0 or size >= STREAMED or size <= present:
                return None
            return size, present
        at += 8 + size + (size & 1)
    return None
