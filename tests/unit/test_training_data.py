"""Labelled rows read the same from JSON Lines and from a JSON array; bad files say where."""

from __future__ import annotations

import json

import pytest

from gova.training.data import load_examples

ROWS = [
    {"id": "a", "text": "you idiot", "labels": {"toxic": 1}},
    {"id": "b", "text": "see you", "labels": {"toxic": 0}},
]


def test_json_array_and_json_lines_give_the_same_examples(tmp_path):
    (tmp_path / "set.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "set.json").write_text(json.dumps(ROWS))
    lines = load_examples([tmp_path / "set.jsonl"])
    array = load_examples([tmp_path / "other" / "set.json"])
    assert lines == array
    assert [(e.labels, e.benign) for e in lines] == [
        ({"toxicity": 1}, False),
        ({"toxicity": 0}, True),
    ]


def test_bad_rows_name_the_file_and_row(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([ROWS[0], {"text": "no id"}]))
    with pytest.raises(ValueError, match=r"bad.json: row 2: a row needs 'id'"):
        load_examples([bad])
    bad.write_text('{"rows": []}')
    with pytest.raises(ValueError, match="must hold a list of rows"):
        load_examples([bad])
