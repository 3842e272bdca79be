"""MiniLM runs every text at its own length: no pads attended to, none averaged in."""

from __future__ import annotations

import numpy as np
import pytest

from gova.models.embeddings import MAX_TOKENS, MiniLMEncoder

TEXTS = [
    "ok",
    "you are a stupid worthless idiot",
    "the patch notes say the bug is fixed, see the changelog for the full list of changes",
    "word " * 300,  # truncated to MAX_TOKENS
    "",
    "have a wonderful day",
]


class Recording:
    """Wraps the onnxruntime session and records every row it is asked to run."""

    def __init__(self, session) -> None:
        self.session = session
        self.rows: list[tuple[list[int], int]] = []  # (the row's ids, its mask's sum)
        self.widths: list[int] = []

    def run(self, names, feeds):
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        self.widths.append(ids.shape[1])
        for row_ids, row_mask in zip(ids, mask, strict=True):
            n = int(row_mask.sum())
            # The mask covers a prefix: real tokens first, then the chunk's padding.
            assert row_mask[:n].all() and not row_mask[n:].any()
            self.rows.append((row_ids[:n].tolist(), n))
        return self.session.run(names, feeds)


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder(chunk=4)


def own_tokens(encoder: MiniLMEncoder, text: str) -> list[int]:
    """The text's word pieces as the vocabulary gives them, counted from scratch."""
    from tokenizers import Tokenizer

    from gova.models.embeddings import TOKENIZER_PATH

    tok = Tokenizer.from_file(str(TOKENIZER_PATH))
    tok.no_padding()
    tok.no_truncation()
    ids = tok.encode(text).ids
    if len(ids) > MAX_TOKENS:  # [CLS] the first pieces [SEP]
        ids = ids[: MAX_TOKENS - 1] + ids[-1:]
    return ids


def test_every_text_is_encoded_at_its_own_length(encoder, monkeypatch):
    recording = Recording(encoder._session)
    monkeypatch.setattr(encoder, "_session", recording)
    encoder.encode(TEXTS)
    assert len(recording.rows) == len(TEXTS)
    seen = sorted(recording.rows)
    wanted = sorted((own_tokens(encoder, t), len(own_tokens(encoder, t))) for t in TEXTS)
    assert seen == wanted
    pad = 0
    assert all(pad not in ids for ids, _ in recording.rows)
    # Length-sorted chunks: a chunk is as wide as its longest text, not 128.
    assert min(recording.widths) < 10
    assert max(recording.widths) == MAX_TOKENS


def test_an_embedding_does_not_depend_on_its_batch(encoder):
    together = encoder.encode(TEXTS)
    alone = np.vstack([encoder.encode([t]) for t in TEXTS])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_the_embedding_is_the_mean_of_the_texts_own_token_states(encoder):
    text = TEXTS[1]
    ids = np.array([own_tokens(encoder, text)], dtype=np.int64)
    (hidden,) = encoder._session.run(
        None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
    )
    mean = hidden[0].mean(axis=0)
    assert np.allclose(encoder.encode([text])[0], mean / np.linalg.norm(mean), atol=1e-5)
