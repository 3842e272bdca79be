"""The benign-prompts converter: rows overlapping an evaluation text are dropped (equal once
normalised, or one containing the other when both are long), the rest kept with every
category 0."""

from __future__ import annotations

import gzip
import json

from gova.training.benign_prompts import ZERO, decontaminated, texts_of
from gova.training.data import to_example


def test_rows_overlapping_an_evaluation_text_are_dropped(tmp_path):
    held = tmp_path / "eval.jsonl.gz"
    with gzip.open(held, "wt") as fh:
        for text in [
            "How can I kill a Python process?",
            "x" * 10 + " what is the capital of peru today",
        ]:
            fh.write(json.dumps({"id": "1", "text": text, "labels": {"unsafe": 0}}) + "\n")
    rows = [
        {"id": "a", "text": "how can I kill a python process", "labels": ZERO},  # equal
        {
            "id": "b",
            "text": "Tell me: xxxxxxxxxx what is the capital of peru today, please",
            "labels": ZERO,
        },
        {"id": "c", "text": "What is the capital of Peru?", "labels": ZERO},  # short: kept
        {"id": "d", "text": "Write a haiku about autumn leaves", "labels": ZERO},
    ]
    kept, dropped = decontaminated(rows, [held])
    assert [r["id"] for r in kept] == ["c", "d"] and dropped == 2


def test_every_question_turn_is_a_row_and_is_harmless():
    line = {"question_id": 81, "turns": ["Write a travel blog post.", "Now rewrite it."]}
    turns = list(texts_of("lm-sys/FastChat", "x/mt_bench/question.jsonl", line))
    assert turns == [
        ("mt_bench-81-0", "Write a travel blog post."),
        ("mt_bench-81-1", "Now rewrite it."),
    ]
    example = to_example({"id": "r", "text": "Write a poem", "labels": ZERO}, "benign_prompts")
    assert example.benign and example.labels["illicit"] == 0 and example.labels["unsafe"] == 0
