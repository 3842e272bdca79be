"""How many items the default policy would send to the LLM reviewer, per evaluation set.

    .venv/bin/python -m bench.escalation [--data ../shared/data/eval] [--band 0.35,0.85]

Scores every row's text with the text classifier (folded by the model, as in the pipeline) and
counts the rows whose highest score falls in the review band: those are the reviewer's
load and cost. Also reports how many the policy would flag outright and allow.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from gova.core.policy import flagged, needs_review
from gova.models import load_text_classifier
from gova.models.text import deployment_thresholds
from gova.schemas import Policy
from gova.settings import get_settings


def rows(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/eval"))
    parser.add_argument("--band", default=get_settings().review_band, help="low,high")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.jsonl.gz"))
    if not files:
        parser.error(f"no *.jsonl.gz files in {args.data}")
    low, high = (float(x) for x in args.band.split(","))
    thresholds = deployment_thresholds()
    policy = Policy(thresholds=thresholds, review_band=(low, high))
    clf = load_text_classifier()
    print(f"band [{low}, {high}), thresholds {thresholds}, classifier {clf.name}\n")
    print("| set | rows | to review | flagged | allowed |")
    print("|---|---|---|---|---|")
    total = reviewed = 0
    for path in files:
        texts = rows(path)
        scores = [s for i in range(0, len(texts), 512) for s in clf.classify(texts[i : i + 512])]
        review = sum(needs_review(policy, s) for s in scores)
        flags = sum(bool(flagged(policy, s)) and not needs_review(policy, s) for s in scores)
        n = len(scores)
        total, reviewed = total + n, reviewed + review
        name = path.name.removesuffix(".jsonl.gz")
        print(
            f"| {name} | {n} | {review / n:.1%} | {flags / n:.1%} | "
            f"{(n - review - flags) / n:.1%} |"
        )
    print(f"| all | {total} | {reviewed / total:.1%} | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
