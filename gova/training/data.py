"""Labelled JSONL → examples with Gova's categories, and the fixed train / held-out split.

A row is `{"id", "text", "labels": {label: 0|1}, ...}`; a missing label means unknown. Each
public set names its labels its own way, so `LABELS` says which of Gova's categories a label
speaks for. The split is a hash of the row id: stable across runs, machines and file order,
so `gova train text` and `gova eval text` always agree on which rows were never trained on.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: label → the categories a positive speaks for; a negative speaks only for the first.
#: Only sets that label toxicity itself teach `toxicity` (Perspective's sense: rude or
#: disrespectful); Davidson's and OLID's "offensive" (any slur or swear word, banter
#: included) is a different notion and teaches insult and harassment instead.
LABELS: dict[str, tuple[str, ...]] = {
    "toxic": ("toxicity",),
    "offensive": ("insult", "harassment"),
    "hate": ("hate", "harassment"),
    "insult": ("insult", "harassment"),
    "obscene": ("profanity",),
    "homophobia": ("hate", "harassment"),
    "racism": ("hate", "harassment"),
    "misogyny": ("hate", "harassment"),
    "xenophobia": ("hate", "harassment"),
    "unsafe": ("unsafe",),
}
#: labels whose positive (value 1) or negative (value 0) marks a row harmless as a whole.
BENIGN_WHEN = {"neither": 1, "normal": 1, "toxic": 0, "toxicity": 0, "unsafe": 0}
#: Sets whose `offensive: 0` means "not offensive at all" (OLID), unlike Davidson's classes.
BENIGN_OFFENSIVE_ZERO = ("tweeteval_offensive",)
#: Sets whose rows labelled 0 on everything they label are harmless rows (GAHD's and
#: Stormfront's "not hate": the sets' README says the converters put them on the benign route).
BENIGN_ALL_ZERO = ("gahd", "vicomtech")
#: Sets only ever evaluated on, never trained on (over-flagging checks).
EVAL_ONLY = ("xstest",)
#: Share of every other set held out from training (by id hash).
HELD_OUT_SHARE = 0.4
#: Annotators per row, for sets whose `votes` give counts but not the total.
ANNOTATORS = {"toldbr": 3}
#: Votes that say "harmless", not a harm.
BENIGN_VOTES = ("count", "neither", "normal")


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    dataset: str
    labels: dict[str, int] = field(default_factory=dict)
    #: True: labelled harmless overall (a false positive on it is a false alarm).
    benign: bool = False
    #: The row's own labels, as the file gives them (for sets scored on a label of their own).
    raw: dict[str, int] = field(default_factory=dict)
    #: The row's `lang`, when the file gives one.
    lang: str | None = None
    #: Share of annotators who flagged the row's most-flagged harm, when the file gives
    #: `votes`: a graded target for `toxicity` (ToLD-Br's "toxic" is ≥2 of 3 votes, so a
    #: comment one annotator found insulting is neither clean nor certain).
    agreement: float | None = None

    @property
    def held_out(self) -> bool:
        return is_held_out(self.dataset, self.id)


#: Sets whose rows are translations of one another: all translations of a prompt fall on the
#: same side of the split (by the id with its language part removed), or held-out figures
#: would score the translation of a training row.
TRANSLATED = {
    "multijail": lambda row_id: row_id.rsplit(":", 1)[0],  # multijail:<n>:<lang>
    "xsafety": lambda row_id: ":".join(row_id.split(":")[:2] + row_id.split(":")[3:]),
}


def split_key(dataset: str, row_id: str) -> str:
    for prefix, group in TRANSLATED.items():
        if dataset.startswith(prefix):
            return group(row_id)
    return row_id


def is_held_out(dataset: str, row_id: str) -> bool:
    if dataset.startswith(EVAL_ONLY):
        return True
    digest = hashlib.sha256(f"{dataset}:{split_key(dataset, row_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HELD_OUT_SHARE


def dataset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def to_example(row: dict, dataset: str) -> Example:
    raw = {k: int(v) for k, v in (row.get("labels") or {}).items() if v is not None}
    benign = any(raw.get(label) == value for label, value in BENIGN_WHEN.items())
    if dataset.startswith(BENIGN_OFFENSIVE_ZERO) and raw.get("offensive") == 0:
        benign = True
    if dataset.startswith(BENIGN_ALL_ZERO) and raw and not any(raw.values()):
        benign = True
    labels: dict[str, int] = {}
    for label, value in raw.items():
        # A user's own data may use Gova's category names directly.
        cats = LABELS.get(label) or ((label,) if label in _own_categories() else ())
        if not cats:
            continue
        if value:
            labels.update(dict.fromkeys(cats, 1))
        else:
            labels.setdefault(cats[0], 0)
    if benign:  # harmless: 0 for every category the set's labels speak for
        for label in raw:
            for cat in LABELS.get(label, ()):
                labels.setdefault(cat, 0)
    # Written seeds label every category they speak for: a swearing seed is not unsafe.
    unsafe = any_unsafe(labels, benign or dataset == SEEDS_SET)
    if unsafe is not None:
        labels[UNSAFE] = unsafe
    lang = str(row["lang"]) if row.get("lang") else None
    agreement = _agreement(row, dataset)
    return Example(str(row["id"]), str(row["text"]), dataset, labels, benign, raw, lang, agreement)


#: The derived label "some OpenAI category applies" (what `/v1/moderations` answers with
#: `flagged`): 1 when one of the row's OpenAI-category labels is 1, 0 when the row is labelled
#: harmless or every OpenAI category is labelled 0, unknown otherwise. xstest's own
#: `unsafe` label is the same notion.
UNSAFE = "unsafe"
#: The written seeds' data set name (`gova.training.text.load_seeds`).
SEEDS_SET = "gova_seeds"


def any_unsafe(labels: dict[str, int], benign: bool) -> int | None:
    from gova.models.text import OPENAI_CATEGORIES

    known = [labels[c] for c in OPENAI_CATEGORIES if c in labels]
    if any(known):
        return 1
    if benign or len(known) == len(OPENAI_CATEGORIES):
        return 0
    return None


def _agreement(row: dict, dataset: str) -> float | None:
    votes = row.get("votes")
    if not isinstance(votes, dict):
        return None
    total = votes.get("count") or next(
        (n for prefix, n in ANNOTATORS.items() if dataset.startswith(prefix)), None
    )
    harms = [v for k, v in votes.items() if k not in BENIGN_VOTES and isinstance(v, int | float)]
    if not total or not harms:
        return None
    return min(max(harms) / total, 1.0)


def _own_categories() -> frozenset[str]:
    from gova.models.text import ALL_TEXT_CATEGORIES

    return frozenset(ALL_TEXT_CATEGORIES)


def read_rows(path: Path) -> Iterable[dict]:
    """Rows of a JSON Lines file (optionally gzipped) or of a JSON array (`.json`)."""
    if path.suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        if not isinstance(rows, list):
            raise ValueError(f"{path}: a .json file must hold a list of rows")
        yield from (_checked(row, f"{path}: row {n}") for n, row in enumerate(rows, 1))
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
            yield _checked(row, f"{path}:{number}")


def _checked(row: object, where: str) -> dict:
    if not isinstance(row, dict) or "text" not in row or "id" not in row:
        raise ValueError(f"{where}: a row needs 'id', 'text' and 'labels'")
    return row


def expand(paths: Sequence[str | Path]) -> list[Path]:
    """Files and folders (their *.jsonl and *.jsonl.gz) → files, in a stable order."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files += sorted([*entry.glob("*.jsonl"), *entry.glob("*.jsonl.gz")])
        elif entry.exists():
            files.append(entry)
        else:
            raise FileNotFoundError(f"no such file or folder: {entry}")
    if not files:
        raise FileNotFoundError(f"no *.jsonl or *.jsonl.gz files in {', '.join(map(str, paths))}")
    return files


def load_examples(paths: Sequence[str | Path]) -> list[Example]:
    return [
        to_example(row, dataset_name(path)) for path in expand(paths) for row in read_rows(path)
    ]
