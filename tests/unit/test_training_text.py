"""`gova train text` on a tiny set: graded targets, the Portuguese expert, and an artifact
that loads and comes out the same twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from scipy import sparse

import gova.training.text as training_text
from gova.models.text import ALL_TEXT_CATEGORIES, TextModel
from gova.training.text import _fit, train

PT_INSULTS = ["seu idiota", "sua burra", "seu lixo nojento", "seu imbecil", "sua vagabunda"]
PT_PLAIN = ["o jogo de hoje", "a reunião da escola", "o almoço de domingo", "a viagem para a praia"]
EN_INSULTS = ["you stupid idiot", "you worthless moron", "shut up you pathetic loser"]
EN_PLAIN = ["thanks for fixing the citation", "see you at the meeting", "the article reads well"]


def _rows() -> list[dict]:
    rows = []
    for i, insult in enumerate(PT_INSULTS * 4):
        text = f"{insult}, você não sabe nada sobre {PT_PLAIN[i % len(PT_PLAIN)]} e ninguém liga"
        votes = {"insult": 3 if i % 2 else 2}
        rows.append({"id": f"pt{i}", "text": text, "labels": {"toxic": 1}, "votes": votes})
    for i, plain in enumerate(PT_PLAIN * 5):
        text = f"Alguém sabe o horário d{plain[0]} {plain[2:]}? Eu vou com a minha família {i}"
        # One annotator of three: not toxic, not certain either.
        votes = {"insult": 1 if i % 3 == 0 else 0}
        rows.append({"id": f"pp{i}", "text": text, "labels": {"toxic": 0}, "votes": votes})
    for i, insult in enumerate(EN_INSULTS * 6):
        rows.append({"id": f"en{i}", "text": f"{insult}, number {i}", "labels": {"toxic": 1}})
    for i, plain in enumerate(EN_PLAIN * 6):
        rows.append({"id": f"ep{i}", "text": f"{plain}, number {i}", "labels": {"toxic": 0}})
    return rows


def test_graded_targets_pull_weights_toward_the_annotators():
    X = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    hard, _ = _fit(X, np.array([1.0, 1.0, 0.0, 0.0]), np.ones(4), 10.0)
    graded, _ = _fit(X, np.array([1.0, 1.0, 1 / 3, 1 / 3]), np.ones(4), 10.0)
    # The feature of rows one annotator in three flagged counts against toxicity less.
    assert hard[1] < graded[1] < 0 < graded[0]


class _FrozenClock(datetime):
    """The training code's clock, stopped: two runs straddling UTC midnight get one date."""

    NOW = datetime(2024, 1, 2, 23, 59, 59, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.NOW.astimezone(tz) if tz is not None else cls.NOW.replace(tzinfo=None)


def test_training_writes_a_portuguese_expert_and_is_reproducible(tmp_path, monkeypatch):
    # The version is the training date (UTC) + a hash of data and weights: pin the date.
    monkeypatch.setattr(training_text, "datetime", _FrozenClock)
    # Named like ToLD-Br, whose three annotators' votes become graded targets.
    data = tmp_path / "toldbr_like.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    first = train([data], tmp_path / "a", seeds=False)
    second = train([data], tmp_path / "b", seeds=False)
    assert first["version"].startswith("20240102-")  # the pinned clock is the one read
    assert first["version"] == second["version"]
    assert first["created"] == second["created"] == "2024-01-02T23:59:59+00:00"
    assert first == second  # the whole of model.json
    assert first["pt_experts"] == ["toxicity"]

    model = TextModel(tmp_path / "a")
    weights = np.load(tmp_path / "a" / "weights.npz")
    assert weights["lexical"].shape[1] == len(model.meta["heads"]) + 1
    assert np.abs(weights["lexical"][:, -1]).sum() > 0  # the expert learned n-grams
    assert np.abs(weights["multilingual"]).sum() > 0  # so did the multilingual heads
    toxicity = ALL_TEXT_CATEGORIES.index("toxicity")
    texts = [
        "seu imbecil, você não sabe nada e ninguém liga para você",
        "Alguém sabe o horário do jogo de amanhã? Eu vou com a minha família",
    ]
    scores = model.scores(texts)[:, toxicity]
    assert scores[0] > scores[1]


def test_training_without_portuguese_rows_skips_the_expert(tmp_path, capsys):
    data = tmp_path / "english.jsonl"
    rows = [r for r in _rows() if r["id"].startswith("e")]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    train([data], tmp_path / "m", seeds=False)
    assert "too few Portuguese rows for an expert" in capsys.readouterr().err
    weights = np.load(tmp_path / "m" / "weights.npz")
    assert not weights["lexical"][:, -1].any()
    model = TextModel(tmp_path / "m")
    toxicity = ALL_TEXT_CATEGORIES.index("toxicity")
    scores = model.scores(["you stupid idiot", "see you at the meeting"])[:, toxicity]
    assert scores[0] > scores[1]


def test_calibration_logits_come_from_experts_that_never_saw_the_row():
    from gova.training.data import Example
    from gova.training.text import _cross_fitted_expert, _expert

    n = 60
    # Every row has a word of its own (column i) and a shared one (column n); toxic rows
    # are the even ones. Only an expert that saw a row knows what its own word means.
    lexical = sparse.hstack([sparse.identity(n, format="csr"), np.ones((n, 1))]).tocsr()
    dense = np.zeros((n, 1), dtype=np.float32)
    y = (np.arange(n) % 2 == 0).astype(float)
    examples = [Example(str(i), f"text {i}", "set") for i in range(n)]
    rows, cal = np.arange(n), np.arange(0, n, 3)
    lex, dns, bias = _expert(lexical, dense, rows, y, 10.0)
    seen = lexical[cal] @ lex + bias
    unseen = _cross_fitted_expert(lexical, dense, rows, y, cal, examples, 10.0)
    toxic = y[cal] == 1
    assert (unseen[toxic] < seen[toxic]).all() and (unseen[~toxic] > seen[~toxic]).all()
