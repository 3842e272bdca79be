"""Build `benign_prompts.jsonl.gz`: harmless requests and questions, as negatives for the
heads that learn from prompt sets.

Why: the `illicit`, `violence`, `self-harm` and `sexual` heads learn their positives from
red-team prompt sets (AILuminate, Do-Not-Answer, HarmBench, StrongREJECT, MultiJail), whose
rows are nearly all requests, while their negatives were comments and tweets. The heads
learned that "How do I …?" is a sign of harm ("How do I best execute a risky plan?" scored
0.99 illicit). These rows are requests and questions that ask for nothing harmful.

    python -m gova.training.benign_prompts --out ../shared/data/train/benign_prompts.jsonl.gz
        [--repo OWNER/NAME=GIT_DIR ...]   # local clones; default: cloned from GitHub

Sources, at the commits below (every file is read from that commit):

- yizhongw/self-instruct (Apache-2.0): the 175 seed tasks' and 252 user-oriented
  instructions (`data/seed_tasks.jsonl`, `human_eval/user_oriented_instructions.jsonl`);
- lm-sys/FastChat (Apache-2.0): MT-Bench's 80 two-turn questions and Vicuna-Bench's 80
  (`fastchat/llm_judge/data/{mt_bench,vicuna_bench}/question.jsonl`);
- openai/grade-school-math (MIT): GSM8K's 1,319 test questions
  (`grade_school_math/data/test.jsonl`), the question only.

Every row gets 0 for every category and `unsafe` 0. Rows whose normalised text equals, or
(both ≥ 40 characters) contains or is contained in, a text of any file under `--against`
(default the shared evaluation sets) are dropped, as the shared training sets were.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gova.models.text import ALL_TEXT_CATEGORIES
from gova.training.data import expand, read_rows

SOURCES = {
    "yizhongw/self-instruct": (
        "0b26ccaa415992100fa32df62d41b994cf928e23",
        "Apache-2.0",
        ["data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl"],
    ),
    "lm-sys/FastChat": (
        "0e6d3e4beaab66f4d3f93db72541a4abab8af28d",
        "Apache-2.0",
        [
            "fastchat/llm_judge/data/mt_bench/question.jsonl",
            "fastchat/llm_judge/data/vicuna_bench/question.jsonl",
        ],
    ),
    "openai/grade-school-math": (
        "3101c7d5072418e28b9008a6636bde82a006892c",
        "MIT",
        ["grade_school_math/data/test.jsonl"],
    ),
}
ZERO = {**dict.fromkeys(ALL_TEXT_CATEGORIES, 0), "unsafe": 0}


def normalised(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .,!?;:'\"()[]")


def texts_of(repo: str, path: str, line: dict) -> Iterator[tuple[str | None, str]]:
    """(stable id, text) of one source row: a task's instruction, each question turn (GSM8K
    rows have no id: None, and the row's file and line number stand for it)."""
    if repo == "yizhongw/self-instruct":
        yield line["id"], line["instruction"]
    elif repo == "lm-sys/FastChat":
        bench = path.split("/")[-2]
        for n, turn in enumerate(line["turns"]):
            yield f"{bench}-{line['question_id']}-{n}", turn
    else:
        yield None, line["question"]


def source_rows(repo: str, git_dir: Path) -> Iterator[dict]:
    commit, licence, paths = SOURCES[repo]
    for path in paths:
        blob = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for n, raw in enumerate(blob.splitlines()):
            if not raw.strip():
                continue
            for key, text in texts_of(repo, path, json.loads(raw)):
                yield {
                    "id": f"{repo.split('/')[1]}:{key or f'{Path(path).stem}-{n}'}",
                    "text": text.strip(),
                    "labels": dict(ZERO),
                    "lang": "en",
                    "source": f"github:{repo}@{commit[:8]} {path} ({licence})",
                }


def decontaminated(rows: list[dict], against: list[Path]) -> tuple[list[dict], int]:
    known = {normalised(str(r["text"])) for f in expand(against) for r in read_rows(f)}
    long_known = [k for k in known if len(k) >= 40]
    kept = []
    for row in rows:
        text = normalised(row["text"])
        if text in known or (len(text) >= 40 and any(text in k or k in text for k in long_known)):
            continue
        kept.append(row)
    return kept, len(rows) - len(kept)


def clone(repo: str, into: Path) -> Path:
    target = into / repo.replace("/", "+")
    subprocess.run(
        ["git", "clone", "--bare", "--filter=blob:limit=5m", f"https://github.com/{repo}", target],
        check=True,
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=GIT_DIR")
    parser.add_argument("--against", action="append", type=Path, metavar="PATH")
    args = parser.parse_args(argv)
    given = dict(spec.split("=", 1) for spec in args.repo)
    unknown = set(given) - set(SOURCES)
    if unknown:
        parser.error(f"unknown source {sorted(unknown)}; the sources are {sorted(SOURCES)}")
    against = args.against or [Path(__file__).parents[2].parent / "shared/data/eval"]
    rows: list[dict] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for repo in SOURCES:
            git_dir = Path(given[repo]) if repo in given else clone(repo, Path(tmp))
            for row in source_rows(repo, git_dir):
                if normalised(row["text"]) not in seen:
                    seen.add(normalised(row["text"]))
                    rows.append(row)
            print(f"benign_prompts: {repo}: {len(rows)} rows so far", file=sys.stderr)
    rows, dropped = decontaminated(rows, against)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(
        f"benign_prompts: wrote {len(rows)} rows to {args.out} "
        f"({dropped} dropped as overlapping an evaluation text)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
