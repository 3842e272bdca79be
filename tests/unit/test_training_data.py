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
        ({"toxicity": 0, "unsafe": 0}, True),  # harmless overall: no OpenAI category
    ]


def test_bad_rows_name_the_file_and_row(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([ROWS[0], {"text": "no id"}]))
    with pytest.raises(ValueError, match=r"bad.json: row 2: a row needs 'id'"):
        load_examples([bad])
    bad.write_text('{"rows": []}')
    with pytest.raises(ValueError, match="must hold a list of rows"):
        load_examples([bad])


def test_agreement_comes_from_votes_and_the_annotator_count(tmp_path):
    rows = [
        # ToLD-Br gives per-category counts of its three annotators, no total.
        {"id": "1", "text": "a", "labels": {"toxic": 0}, "votes": {"insult": 1, "obscene": 0}},
        {"id": "2", "text": "b", "labels": {"toxic": 1}, "votes": {"insult": 2, "racism": 3}},
        {"id": "3", "text": "c", "labels": {"toxic": 0}},
    ]
    (tmp_path / "toldbr_pt.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    # Davidson-style: the total is in the votes; "neither" is not a harm.
    other = [{"id": "d", "text": "d", "labels": {}, "votes": {"count": 4, "neither": 3, "x": 1}}]
    (tmp_path / "mine.jsonl").write_text(json.dumps(other[0]))
    (tmp_path / "nototal.jsonl").write_text(json.dumps(rows[0]))
    agreement = {e.dataset + e.id: e.agreement for e in load_examples([tmp_path])}
    assert agreement == {
        "mined": 0.25,
        "nototal1": None,  # counts without a total: unknown, the hard label is used
        "toldbr_pt1": pytest.approx(1 / 3),
        "toldbr_pt2": 1.0,
        "toldbr_pt3": None,
    }
