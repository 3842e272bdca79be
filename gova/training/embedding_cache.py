"""Embeddings of training texts, cached on disk by text hash.

Encoding the public sets takes minutes on a small CPU; retraining the heads should not.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def embed_cached(
    texts: Sequence[str], encoder, cache_file: Path | None, batch: int = 256
) -> np.ndarray:
    """Embed `texts`, reusing and extending `cache_file` (an .npz of keys and vectors)."""
    known: dict[bytes, np.ndarray] = {}
    if cache_file and cache_file.exists():
        with np.load(cache_file) as saved:
            known = dict(zip(map(bytes, saved["keys"]), saved["vectors"], strict=True))
    keys = [_key(t) for t in texts]
    missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    started = time.monotonic()
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        for (key, _), vector in zip(chunk, encoder.encode([t for _, t in chunk]), strict=True):
            known[key] = vector
        done = start + len(chunk)
        rate = done / max(time.monotonic() - started, 1e-9)
        print(
            f"  embedded {done}/{len(missing)} new texts ({rate:.0f}/s, "
            f"~{(len(missing) - done) / rate:.0f} s left)",
            file=sys.stderr,
            flush=True,
        )
        if cache_file and (done % (batch * 20) == 0 or done == len(missing)):
            _save(cache_file, known)
    return np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)


def _save(cache_file: Path, known: dict[bytes, np.ndarray]) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        keys=np.array(list(known), dtype="S16"),
        vectors=np.stack(list(known.values())).astype(np.float32),
    )
    tmp.replace(cache_file)
