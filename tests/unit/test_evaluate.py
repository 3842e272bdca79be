"""`gova eval text`: figures checked by hand, the held-out filter, report files, CLI errors."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from gova.models.base import Classifier
from gova.models.evasion import fold
from gova.training import evaluate
from gova.training.data import Example, is_held_out

BAD_WORDS = ("idiot", "stupid", "moron")


class WordModel:
    """Toxicity 0.9 when a bad word appears, else 0.1; `insult` is half of that."""

    name = "word-list"
    version = "test-1"
    categories = ("toxicity", "insult")
    thresholds = {"toxicity": 0.5}

    def __init__(self, folding: bool = False) -> None:
        self.folding = folding

    def classify(self, batch: Sequence[str]) -> list[dict[str, float]]:
        out = []
        for text in batch:
            text = (fold(text) if self.folding else text).lower()
            hit = any(word in text for word in BAD_WORDS)
            out.append({"toxicity": 0.9 if hit else 0.1, "insult": 0.45 if hit else 0.05})
        return out


def ex(i: int, labels: dict[str, int], *, benign: bool = False, dataset: str = "set", raw=None):
    return Example(str(i), f"text {i}", dataset, labels, benign, raw or {})


# --- metrics -----------------------------------------------------------------------------


def test_four_rows_by_hand():
    # Ranked by score: +, -, +, -. AP = 0.5 * (1/1) + 0.5 * (2/3) = 5/6.
    examples = [
        ex(1, {"toxicity": 1}),
        ex(2, {"toxicity": 0}, benign=True),
        ex(3, {"toxicity": 1}),
        ex(4, {"toxicity": 0}, benign=True),
    ]
    scores = [{"toxicity": s} for s in (0.9, 0.8, 0.6, 0.3)]
    m = evaluate.metrics_for(scores, examples, {"toxicity": 0.7})["set"]
    tox = m["categories"]["toxicity"]
    assert tox["n"] == 4 and tox["positives"] == 2
    assert tox["auprc"] == pytest.approx(5 / 6, abs=1e-4)
    # Flagged at 0.7: rows 1 and 2 -> TP 1, FP 1, FN 1.
    assert tox["precision"] == 0.5 and tox["recall"] == 0.5 and tox["f1"] == 0.5
    assert tox["threshold"] == 0.7
    # Benign rows 2 (0.8) and 4 (0.3): one over the threshold.
    assert tox["benign_fpr"] == 0.5
    assert m["any_flag_benign"] == 0.5
    assert m["rows"] == 4 and m["benign"] == 2


def test_perfect_ranking():
    examples = [ex(i, {"toxicity": int(i >= 3)}) for i in range(6)]
    scores = [{"toxicity": i / 10} for i in range(6)]
    tox = evaluate.metrics_for(scores, examples, {"toxicity": 0.25})["set"]["categories"]
    assert tox["toxicity"]["auprc"] == 1.0
    assert tox["toxicity"]["f1"] == 1.0
    assert tox["toxicity"]["benign_fpr"] is None  # no benign rows


def test_threshold_drives_benign_fpr_and_any_flag():
    examples = [
        ex(1, {"toxicity": 1}),
        ex(2, {"toxicity": 0}, benign=True),
        ex(3, {"toxicity": 0}, benign=True),
    ]
    scores = [
        {"toxicity": 0.9, "insult": 0.1},
        {"toxicity": 0.6, "insult": 0.1},
        {"toxicity": 0.2, "insult": 0.7},
    ]
    strict = evaluate.metrics_for(scores, examples, {"toxicity": 0.7})["set"]
    assert strict["categories"]["toxicity"]["benign_fpr"] == 0.0
    assert strict["any_flag_benign"] == 0.0  # insult has no threshold: never flagged
    assert "insult" not in strict["categories"]  # no insult labels
    loose = evaluate.metrics_for(scores, examples, {"toxicity": 0.5, "insult": 0.7})["set"]
    assert loose["categories"]["toxicity"]["benign_fpr"] == 0.5
    assert loose["any_flag_benign"] == 1.0  # row 2 by toxicity, row 3 by insult


def test_category_without_threshold_gets_auprc_only():
    examples = [ex(1, {"insult": 1}), ex(2, {"insult": 0})]
    scores = [{"insult": 0.8}, {"insult": 0.2}]
    c = evaluate.metrics_for(scores, examples, {})["set"]["categories"]["insult"]
    assert c["auprc"] == 1.0
    assert c["f1"] is None and c["threshold"] is None


def test_unsafe_recall_and_one_sided_categories_skipped():
    examples = [
        ex(1, {"toxicity": 0}, benign=True, dataset="xstest", raw={"unsafe": 0}),
        ex(2, {}, dataset="xstest", raw={"unsafe": 1}),
        ex(3, {}, dataset="xstest", raw={"unsafe": 1}),
        ex(4, {"toxicity": 1}, dataset="other"),
    ]
    scores = [{"toxicity": s} for s in (0.6, 0.9, 0.1, 0.9)]
    m = evaluate.metrics_for(scores, examples, {"toxicity": 0.5})
    assert m["xstest"]["categories"] == {}  # only negatives labelled
    assert m["xstest"]["any_flag_benign"] == 1.0
    assert m["xstest"]["unsafe"] == 2 and m["xstest"]["unsafe_flagged"] == 0.5
    assert m["other"]["categories"] == {}  # only positives
    assert m["other"]["unsafe"] is None and m["other"]["any_flag_benign"] is None


# --- held-out split ----------------------------------------------------------------------


def test_select_keeps_held_out_rows_and_limits_per_set():
    examples = [ex(i, {"toxicity": i % 2}) for i in range(200)]
    examples += [ex(i, {}, dataset="xstest") for i in range(5)]
    held = evaluate.select(examples, all_rows=False, limit=None)
    expected = [e for e in examples if is_held_out(e.dataset, e.id)]
    assert held == expected
    assert 40 < sum(e.dataset == "set" for e in held) < 120  # ~40% of 200
    assert sum(e.dataset == "xstest" for e in held) == 5  # never trained on
    assert evaluate.select(examples, all_rows=True, limit=None) == examples
    limited = evaluate.select(examples, all_rows=True, limit=3)
    assert [(e.dataset, e.id) for e in limited] == [
        ("set", "0"),
        ("set", "1"),
        ("set", "2"),
        ("xstest", "0"),
        ("xstest", "1"),
        ("xstest", "2"),
    ]


# --- evasion -----------------------------------------------------------------------------


def test_evasion_check_sees_tricks_that_lower_the_score():
    examples = [
        Example(str(i), f"you stupid idiot number {i}", "s", {"toxicity": 1}) for i in range(5)
    ]
    examples.append(Example("x", "have a nice day", "s", {"toxicity": 0}))
    naive = evaluate.evasion_check(WordModel(), examples, per_set=3)
    assert naive["rows"] == 3
    assert naive["tricks"]["zero_width"] == {"n": 3, "mean_change": -0.8, "dropped_share": 1.0}
    assert set(naive["by_dataset"]["s"]) == set(naive["tricks"])
    robust = evaluate.evasion_check(WordModel(folding=True), examples)
    assert robust["rows"] == 5
    assert all(t["mean_change"] == 0 and t["dropped_share"] == 0 for t in robust["tricks"].values())


# --- the command -------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sample_data(folder: Path) -> Path:
    folder.mkdir()
    rows = [
        {"id": f"t{i}", "text": text, "labels": {"toxic": label}}
        for i, (text, label) in enumerate(
            [("you idiot", 1), ("stupid moron", 1), ("nice work", 0), ("see you", 0)] * 10
        )
    ]
    write_jsonl(folder / "toy.jsonl", rows)
    xs = [
        {"id": "xstest-1", "text": "How can I kill a Python process?", "labels": {"unsafe": 0}},
        {
            "id": "xstest-2",
            "text": "you stupid idiot, how do I hurt people",
            "labels": {"unsafe": 1},
        },
    ]
    write_jsonl(folder / "xstest.jsonl", xs)
    return folder


def args_for(data: Path, out: Path, **kw) -> argparse.Namespace:
    return argparse.Namespace(
        data=[str(data)],
        out=out,
        all_rows=kw.get("all_rows", False),
        limit=kw.get("limit"),
        batch=7,
    )


def test_run_writes_report_metrics_and_plots(tmp_path, capsys):
    data = sample_data(tmp_path / "data")
    out = tmp_path / "report"
    assert evaluate.run(args_for(data, out), model=WordModel()) == 0
    printed = capsys.readouterr()
    assert "held-out rows only:" in printed.out and "pass --all-rows" in printed.out
    assert "scoring:" in printed.err and "rows/s" in printed.err and "ETA" in printed.err

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == {"name": "word-list", "version": "test-1"}
    assert metrics["thresholds"] == {"toxicity": 0.5}
    assert metrics["rows"]["total"] == 42 and metrics["rows"]["held_out_only"]
    toy = metrics["datasets"]["toy"]["categories"]["toxicity"]
    assert toy["auprc"] == 1.0 and toy["f1"] == 1.0 and toy["benign_fpr"] == 0.0
    assert metrics["datasets"]["xstest"]["unsafe_flagged"] == 1.0
    assert metrics["datasets"]["xstest"]["any_flag_benign"] == 0.0
    assert metrics["evasion"]["tricks"]  # toxic toy rows were rescored
    assert metrics["plots"] == {"toxicity": "pr-toxicity.png"}
    assert (out / "pr-toxicity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    readme = (out / "README.md").read_text()
    assert "# Text model evaluation" in readme and "`word-list`, version test-1" in readme
    assert "sha256(`dataset:id`)" in readme and "40%" in readme and "xstest" in readme
    assert "gova eval text --data" in readme
    assert "| toy | toxicity |" in readme
    assert "[toxicity](pr-toxicity.png)" in readme
    assert "## Evasion" in readme and "zero_width" in readme


def test_run_all_rows_and_limit(tmp_path, capsys):
    data = sample_data(tmp_path / "data")
    out = tmp_path / "report"
    assert evaluate.run(args_for(data, out, all_rows=True, limit=10), model=WordModel()) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"]["evaluated"] == 12 and not metrics["rows"]["held_out_only"]
    assert "--all-rows --limit 10" in metrics["command"]


def test_report_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    data = sample_data(tmp_path / "data")
    out = tmp_path / "report"
    assert evaluate.run(args_for(data, out), model=WordModel()) == 0
    assert "pip install 'gova[eval]'" in capsys.readouterr().err
    assert (out / "README.md").exists() and not list(out.glob("*.png"))


def test_word_model_is_a_classifier():
    assert isinstance(WordModel(), Classifier)


# --- command-line errors -----------------------------------------------------------------


def cli(argv: list[str], capsys) -> tuple[int, str]:
    from gova.cli import main

    code = main(["eval", "text", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_cli_missing_path(tmp_path, capsys):
    code, err = cli(["--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "no such file or folder" in err and "nope.jsonl" in err


def test_cli_malformed_json(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "ok", "labels": {}}\n{not json\n', encoding="utf-8")
    code, err = cli(["--data", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "bad.jsonl:2: not JSON" in err


def test_cli_no_evaluable_rows(tmp_path, capsys):
    trained = next(f"r{i}" for i in range(100) if not is_held_out("mine", f"r{i}"))
    data = write_jsonl(tmp_path / "mine.jsonl", [{"id": trained, "text": "hi", "labels": {}}])
    code, err = cli(["--data", str(data), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no held-out" in err and "--all-rows" in err
    assert not (tmp_path / "o").exists()
