"""What the pipeline knows about an image or audio item: the stored bytes' reference, what
the API's inspection found, and what the media stages add (hash, transcript, levels).

The bytes themselves never travel through topics: the API stores them once in the content
store (`gova.storage.interface.MediaStore`) and every record carries this reference.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MediaKind = Literal["image", "audio"]
ImageFormat = Literal["jpeg", "png", "webp", "gif"]
AudioFormat = Literal["wav", "mp3", "ogg", "opus", "flac", "webm"]


class Segment(BaseModel):
    """A stretch of speech: its time range in the clip (seconds) and its words."""

    start: float
    end: float
    text: str
    scores: dict[str, float] | None = None


class AudioLevels(BaseModel):
    """Loudness and clipping of the decoded clip (16 kHz mono): what it measures is signal
    level, not what is said: a scream and a loud jingle read alike."""

    rms_dbfs: float  # whole clip, dB relative to full scale
    peak_dbfs: float
    loud_fraction: float  # share of 50 ms windows louder than -10 dBFS RMS
    clipped_fraction: float  # share of samples at or within 0.1% of full scale


class HashMatch(BaseModel):
    """The nearest hash-bank entry within the match distance (PDQ Hamming distance)."""

    entry_id: str
    label: str
    category: str
    distance: int


class Media(BaseModel):
    kind: MediaKind
    format: str
    size: int = Field(description="bytes")
    sha256: str
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    duration_s: float | None = None
    # Added by the image stage.
    pdq: str | None = Field(None, description="PDQ hash, 64 hex digits")
    pdq_quality: int | None = None
    match: HashMatch | None = None
    near_duplicate_of: str | None = Field(
        None, description="an earlier item of this tenant the image is a near-duplicate of"
    )
    # Added by the audio stage.
    transcript: str | None = None
    language: str | None = None
    segments: list[Segment] | None = None
    offending_segment: Segment | None = None
    levels: AudioLevels | None = None

    @property
    def ref(self) -> str:
        """The content store's key (within the tenant)."""
        return self.sha256
