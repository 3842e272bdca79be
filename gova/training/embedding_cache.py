"""Embeddings of training and evaluation texts, cached on disk by text hash.

Encoding the public sets takes many minutes on a small CPU; retraining the heads or
re-evaluating a model should not. The cache holds what the encoder returned for exactly that
text, so results with and without it are the same.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gova.models.embeddings import DIM


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class CachedEncoder:
    """Wraps an encoder: known texts come from the cache file, new ones are encoded (with
    progress on stderr, since that is the slow part) and added to it."""

    def __init__(self, encoder, path: Path | None, batch: int = 256) -> None:
        self.encoder = encoder
        self.path = path
        self.batch = batch
        self.known: dict[bytes, np.ndarray] = {}
        if path and path.exists():
            with np.load(path) as saved:
                self.known = dict(zip(map(bytes, saved["keys"]), saved["vectors"], strict=True))

    @property
    def name(self) -> str:
        return self.encoder.name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [_key(t) for t in texts]
        missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in self.known})
        texts_by_key = dict(zip(keys, texts, strict=True))
        started = time.monotonic()
        for start in range(0, len(missing), self.batch):
            chunk = missing[start : start + self.batch]
            vectors = self.encoder.encode([texts_by_key[k] for k in chunk])
            self.known.update(zip(chunk, vectors, strict=True))
            done = start + len(chunk)
            if len(missing) > self.batch:
                rate = done / max(time.monotonic() - started, 1e-9)
                print(
                    f"  embedded {done}/{len(missing)} new texts ({rate:.0f}/s, "
                    f"~{(len(missing) - done) / rate:.0f} s left)",
                    file=sys.stderr,
                    flush=True,
                )
            if done % (self.batch * 20) == 0 or done == len(missing):
                self.save()
        if not keys:
            return np.zeros((0, DIM), np.float32)
        return np.stack([self.known[k] for k in keys])

    def save(self) -> None:
        if not self.path or not self.known:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(list(self.known), dtype="S16"),
            vectors=np.stack(list(self.known.values())).astype(np.float32),
        )
        tmp.replace(self.path)
