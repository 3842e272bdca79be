"""`gova eval text`: score labelled sets with the text model and write a report.

Per data set and category: AUPRC, and F1 / precision / recall at the policy threshold (a score
at or over it is flagged), plus the false-alarm rate on rows labelled harmless. Per data set:
the share of harmless rows flagged by any category (over-flagging), and for sets with an
`unsafe` label the share of unsafe rows flagged. An evasion section rescores toxic rows after
each trick in `gova.models.evasion.TRICKS`. By default only held-out rows are evaluated (see
`gova.training.data`), so a model is never scored on what it was trained on.

Writes `README.md`, `metrics.json` (every figure, to compare models) and one precision-recall
plot per category (`pr-<category>.png`, needs the `eval` extra: matplotlib).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from gova.training.data import EVAL_ONLY, HELD_OUT_SHARE, Example, load_examples

DEFAULT_OUT = Path("docs/eval/text")
#: Toxic rows per data set rescored after each evasion trick.
EVASION_ROWS = 200
#: A drop larger than this counts as the trick having worked.
EVASION_DROP = 0.05
PLOTS_NEED = "precision-recall plots need the 'eval' extra: pip install 'gova[eval]'"

Scores = Sequence[dict[str, float]]


class EvalError(Exception):
    """A problem with the input, reported as one line (exit status 2)."""


# --- metrics -----------------------------------------------------------------------------


def _cases(
    scores: Scores, examples: Sequence[Example]
) -> Iterable[tuple[str, str, np.ndarray, np.ndarray]]:
    """(dataset, category, labels, scores) for every category the model scores that has at
    least one positive and one negative label among a set's rows."""
    scored = sorted({c for s in scores for c in s})
    for dataset, idx in _by_dataset(examples).items():
        for cat in scored:
            rows = [i for i in idx if cat in examples[i].labels]
            y = np.array([examples[i].labels[cat] for i in rows], dtype=int)
            if 0 < y.sum() < len(y):
                yield dataset, cat, y, np.array([scores[i].get(cat, 0.0) for i in rows])


def _by_dataset(examples: Sequence[Example]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        out.setdefault(ex.dataset, []).append(i)
    return out


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _flagged(score: dict[str, float], thresholds: dict[str, float]) -> bool:
    return any(score.get(c, 0.0) >= t for c, t in thresholds.items())


def metrics_for(
    scores: Scores, examples: Sequence[Example], thresholds: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """dataset → {rows, benign, any_flag_benign, unsafe, unsafe_flagged, categories: {cat: …}}.

    `scores[i]` is the model's output for `examples[i]`. A category with no threshold is never
    flagged (as in a policy), so only its AUPRC is given.
    """
    from sklearn.metrics import average_precision_score

    if len(scores) != len(examples):
        raise ValueError(f"{len(scores)} scores for {len(examples)} examples")
    out: dict[str, dict[str, Any]] = {}
    groups = _by_dataset(examples)
    for dataset, idx in groups.items():
        benign = [i for i in idx if examples[i].benign]
        unsafe = [i for i in idx if examples[i].raw.get("unsafe") == 1]
        has_unsafe = any("unsafe" in examples[i].raw for i in idx)
        out[dataset] = {
            "rows": len(idx),
            "benign": len(benign),
            "any_flag_benign": _share(
                sum(_flagged(scores[i], thresholds) for i in benign), len(benign)
            ),
            "unsafe": len(unsafe) if has_unsafe else None,
            "unsafe_flagged": _share(
                sum(_flagged(scores[i], thresholds) for i in unsafe), len(unsafe)
            )
            if has_unsafe
            else None,
            "categories": {},
        }
    for dataset, cat, y, s in _cases(scores, examples):
        entry: dict[str, Any] = {
            "n": int(len(y)),
            "positives": int(y.sum()),
            "auprc": round(float(average_precision_score(y, s)), 4),
            "threshold": thresholds.get(cat),
            "f1": None,
            "precision": None,
            "recall": None,
            "benign_fpr": None,
        }
        if cat in thresholds:
            t = thresholds[cat]
            flag = s >= t
            tp = int((flag & (y == 1)).sum())
            fp = int((flag & (y == 0)).sum())
            fn = int((~flag & (y == 1)).sum())
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn)
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            benign = [i for i in groups[dataset] if examples[i].benign]
            entry.update(
                f1=round(f1, 4),
                precision=round(precision, 4),
                recall=round(recall, 4),
                benign_fpr=_share(sum(scores[i].get(cat, 0.0) >= t for i in benign), len(benign)),
            )
        out[dataset]["categories"][cat] = entry
    return out


# --- evasion -----------------------------------------------------------------------------


def evasion_check(
    model: Any,
    examples: Sequence[Example],
    *,
    per_set: int = EVASION_ROWS,
    category: str = "toxicity",
    tricks: dict[str, Callable[[str], str]] | None = None,
    batch: int = 256,
) -> dict[str, Any]:
    """Rescore up to `per_set` rows per data set labelled `category`=1 after each trick.

    Per trick: mean score change (tricked − plain) and the share of rows whose score fell by
    more than `EVASION_DROP`, over all sets (`tricks`) and per set (`by_dataset`).
    """
    if tricks is None:
        from gova.models.evasion import TRICKS as tricks
    if category not in getattr(model, "categories", ()):
        return {"category": category, "rows": 0, "tricks": {}, "by_dataset": {}}
    picked: list[Example] = []
    for idx in _by_dataset(examples).values():
        toxic = [examples[i] for i in idx if examples[i].labels.get(category) == 1]
        if len(toxic) > per_set:  # a spread-out, reproducible sample, in file order
            keep = set(random.Random(0).sample(range(len(toxic)), per_set))
            toxic = [ex for j, ex in enumerate(toxic) if j in keep]
        picked += toxic

    def score(texts: list[str]) -> np.ndarray:
        out: list[float] = []
        for start in range(0, len(texts), batch):
            out += [s.get(category, 0.0) for s in model.classify(texts[start : start + batch])]
        return np.array(out, dtype=float)

    plain = score([ex.text for ex in picked])
    datasets = np.array([ex.dataset for ex in picked])
    result: dict[str, Any] = {
        "category": category,
        "rows": len(picked),
        "tricks": {},
        "by_dataset": {},
    }

    def summary(delta: np.ndarray) -> dict[str, Any]:
        return {
            "n": int(len(delta)),
            "mean_change": round(float(delta.mean()), 4),
            "dropped_share": round(float((delta < -EVASION_DROP).mean()), 4),
        }

    for name, trick in tricks.items():
        if not picked:
            break
        delta = score([trick(ex.text) for ex in picked]) - plain
        result["tricks"][name] = summary(delta)
        for dataset in dict.fromkeys(datasets):
            result["by_dataset"].setdefault(dataset, {})[name] = summary(delta[datasets == dataset])
    return result


# --- plots -------------------------------------------------------------------------------


def plot_file(category: str) -> str:
    return f"pr-{category.replace('/', '_')}.png"


def plot_pr(
    scores: Scores,
    examples: Sequence[Example],
    thresholds: dict[str, float],
    out_dir: Path,
    *,
    stream: TextIO | None = None,
) -> dict[str, str]:
    """One precision-recall plot per category: category → file name written in `out_dir`.

    Without matplotlib, says which extra to install and returns {}.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(PLOTS_NEED, file=stream or sys.stderr)
        return {}
    from sklearn.metrics import average_precision_score, precision_recall_curve

    curves: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for dataset, cat, y, s in _cases(scores, examples):
        curves.setdefault(cat, []).append((dataset, y, s))
    written: dict[str, str] = {}
    for cat, sets in sorted(curves.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        for dataset, y, s in sets:
            precision, recall, _ = precision_recall_curve(y, s)
            ap = average_precision_score(y, s)
            (line,) = ax.plot(
                recall, precision, drawstyle="steps-post", label=f"{dataset} (AUPRC {ap:.2f})"
            )
            if cat in thresholds:
                flag = s >= thresholds[cat]
                tp = int((flag & (y == 1)).sum())
                p = tp / int(flag.sum()) if flag.any() else 1.0
                ax.plot([tp / int(y.sum())], [p], "o", color=line.get_color(), markersize=7)
        title = f"{cat}: precision-recall"
        if cat in thresholds:
            title += f" (dot: threshold {thresholds[cat]:g})"
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02), title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize="small")
        fig.tight_layout()
        name = plot_file(cat)
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written[cat] = name
    return written


# --- report ------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def category_rows(metrics: dict[str, Any]) -> list[list[str]]:
    header = ["dataset", "category", "n", "pos", "AUPRC", "F1", "P", "R", "thr", "benign FPR"]
    rows = [header]
    for dataset, m in metrics["datasets"].items():
        for cat, c in m["categories"].items():
            rows.append(
                [
                    dataset,
                    cat,
                    str(c["n"]),
                    str(c["positives"]),
                    _fmt(c["auprc"]),
                    _fmt(c["f1"]),
                    _fmt(c["precision"]),
                    _fmt(c["recall"]),
                    _fmt(c["threshold"]),
                    _pct(c["benign_fpr"]),
                ]
            )
    return rows


def benign_rows(metrics: dict[str, Any]) -> list[list[str]]:
    rows = [["dataset", "rows", "benign", "any flag on benign", "unsafe", "unsafe flagged (any)"]]
    for dataset, m in metrics["datasets"].items():
        rows.append(
            [
                dataset,
                str(m["rows"]),
                str(m["benign"]),
                _pct(m["any_flag_benign"]),
                _fmt(m["unsafe"]),
                _pct(m["unsafe_flagged"]),
            ]
        )
    return rows


def evasion_rows(metrics: dict[str, Any]) -> list[list[str]]:
    ev = metrics["evasion"]
    rows = [
        ["trick", "rows", f"mean Δ {ev['category']}", f"share dropped > {EVASION_DROP:g}"],
    ]
    for name, t in ev["tricks"].items():
        rows.append([name, str(t["n"]), f"{t['mean_change']:+.3f}", _pct(t["dropped_share"])])
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    numeric = [all(_numeric(r[j]) for r in rows[1:]) and len(rows) > 1 for j in range(len(rows[0]))]
    lines = ["| " + " | ".join(rows[0]) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if j < 2 else c.rjust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    )


def _numeric(cell: str) -> bool:
    return cell == "–" or cell.lstrip("+-").replace(".", "", 1).rstrip("%").isdigit()


def split_sentence() -> str:
    share = round(100 * HELD_OUT_SHARE)
    return (
        f"The held-out rows are those whose sha256(`dataset:id`) falls in the held-out "
        f"{share}% (`HELD_OUT_SHARE` in `gova/training/data.py`), which training never sees; "
        f"{', '.join(EVAL_ONLY)} (`EVAL_ONLY`) is never trained on, so all its rows count."
    )


def rows_sentence(metrics: dict[str, Any]) -> str:
    r = metrics["rows"]
    if r["held_out_only"]:
        text = (
            f"held-out rows only: {r['evaluated']} of {r['total']}; "
            "pass --all-rows for a set nobody trained on"
        )
    else:
        text = f"all rows: {r['evaluated']} of {r['total']} (--all-rows)"
    if r["limit"]:
        text += f"; at most {r['limit']} per data set (--limit)"
    return text


def write_report(metrics: dict[str, Any], out_dir: Path, plots: dict[str, str]) -> Path:
    """Write `README.md` and `metrics.json` in `out_dir`; return the README's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(
        json.dumps({**metrics, "plots": plots}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    model = metrics["model"]
    version = f", version {model['version']}" if model.get("version") else ""
    thresholds = ", ".join(f"`{c}` {t:g}" for c, t in sorted(metrics["thresholds"].items()))
    parts = [
        "# Text model evaluation",
        "",
        f"- Model: `{model['name']}`{version}",
        f"- Date: {metrics['date']}",
        f"- Command: `{metrics['command']}`",
        f"- Rows: {rows_sentence(metrics)}. {split_sentence()}",
        f"- Thresholds (a score at or over one is flagged): {thresholds or 'none'}",
        "",
        "## Per data set and category",
        "",
        "Categories with at least one positive and one negative label among a set's evaluated "
        "rows. AUPRC is threshold-free; F1, precision (P) and recall (R) are at the threshold; "
        "benign FPR is the share of the set's rows labelled harmless whose score for the "
        "category reaches the threshold.",
        "",
        markdown_table(category_rows(metrics)),
        "",
        "## Over-flagging of harmless rows",
        "",
        "Share of rows labelled harmless flagged by at least one category; for sets with an "
        "`unsafe` label, the share of unsafe rows flagged by any category.",
        "",
        markdown_table(benign_rows(metrics)),
        "",
        "## Evasion",
        "",
    ]
    ev = metrics["evasion"]
    if ev["tricks"]:
        parts += [
            f"Up to {EVASION_ROWS} evaluated rows per data set labelled `{ev['category']}`=1 "
            f"({ev['rows']} in all), rescored after each trick of `gova.models.evasion.TRICKS`:"
            f" mean change of the `{ev['category']}` score (tricked − plain) and the share of "
            f"rows whose score fell by more than {EVASION_DROP:g}. No trick should lower it.",
            "",
            markdown_table(evasion_rows(metrics)),
        ]
    else:
        parts.append(f"Not run: no evaluated row labelled `{ev['category']}`=1 that it scores.")
    share = metrics.get("encoder_share") or {}
    if share:
        parts += [
            "",
            "## Cascade",
            "",
            "Share of each set's evaluated rows that the first pass (n-grams and "
            "alt-profanity-check) left to the encoder; the rest kept the first pass's scores.",
            "",
            markdown_table(
                [["dataset", "reached the encoder"]] + [[d, _pct(v)] for d, v in share.items()]
            ),
        ]
    parts += ["", "## Precision-recall plots", ""]
    if plots:
        parts += [f"- [{cat}]({name})" for cat, name in plots.items()]
    else:
        parts.append(f"None written ({PLOTS_NEED}, or no category to plot).")
    (out_dir / "README.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    return out_dir / "README.md"


# --- scoring and the command -------------------------------------------------------------


def score_all(
    model: Any,
    texts: Sequence[str],
    batch: int,
    stream: TextIO | None = None,
    reached: list[bool] | None = None,
) -> list[dict[str, float]]:
    """Score in batches, reporting rows done / total, rows/s and ETA on `stream`; where the
    model has a cascade, `reached` gets whether each text reached its encoder."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    out: list[dict[str, float]] = []
    start = last = time.monotonic()
    total = len(texts)
    # With the any-unsafe probability where the model has one (Gova's text model).
    classify = getattr(model, "classify_with_unsafe", model.classify)
    for first in range(0, total, batch):
        out += classify(list(texts[first : first + batch]))
        if reached is not None and hasattr(model, "last_encoded"):
            reached += [bool(x) for x in model.last_encoded]
        now = time.monotonic()
        if now - last >= (0.5 if tty else 5.0) or len(out) == total:
            last = now
            rate = len(out) / max(now - start, 1e-9)
            eta = (total - len(out)) / rate if rate else 0.0
            line = f"scoring: {len(out)}/{total} rows, {rate:,.0f} rows/s, ETA {eta:,.0f} s"
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=stream)
            stream.flush()
    if tty and total:
        print(file=stream)
    return out


def command_line(args: argparse.Namespace) -> str:
    import shlex

    parts = ["gova", "eval", "text", "--data", *map(str, args.data)]
    if args.all_rows:
        parts.append("--all-rows")
    if getattr(args, "by_language", False):
        parts.append("--by-language")
    if args.limit:
        parts += ["--limit", str(args.limit)]
    parts += ["--batch", str(args.batch), "--out", str(args.out)]
    return shlex.join(parts)


def select(examples: Sequence[Example], *, all_rows: bool, limit: int | None) -> list[Example]:
    """Held-out rows (or all), at most `limit` per data set, in file order."""
    kept: list[Example] = []
    per_set: dict[str, int] = {}
    for ex in examples:
        if not (all_rows or ex.held_out):
            continue
        if limit and per_set.get(ex.dataset, 0) >= limit:
            continue
        per_set[ex.dataset] = per_set.get(ex.dataset, 0) + 1
        kept.append(ex)
    return kept


def evaluate(
    model: Any,
    examples: Sequence[Example],
    *,
    total: int,
    all_rows: bool,
    limit: int | None,
    command: str,
    batch: int = 256,
    thresholds: dict[str, float] | None = None,
    stream: TextIO | None = None,
) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """Score `examples` and compute every figure: (metrics, scores)."""
    if thresholds is None:
        from gova.settings import get_settings

        # The policy a deployment of this model starts from: its calibrated thresholds under
        # the deployment's GOVA_THRESHOLDS overrides.
        thresholds = {**getattr(model, "thresholds", {}), **get_settings().thresholds}
    thresholds = {c: float(t) for c, t in thresholds.items() if c in model.categories}
    reached: list[bool] = []
    scores = score_all(model, [ex.text for ex in examples], batch, stream, reached)
    print(f"evasion: rescoring toxic rows after {_n_tricks()} tricks", file=stream or sys.stderr)
    metrics = {
        "model": {"name": model.name, "version": getattr(model, "version", None)},
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "rows": {
            "evaluated": len(examples),
            "total": total,
            "held_out_only": not all_rows,
            "limit": limit,
            "held_out_share": HELD_OUT_SHARE,
            "eval_only": list(EVAL_ONLY),
        },
        "thresholds": thresholds,
        "datasets": metrics_for(scores, examples, thresholds),
        "encoder_share": _encoder_share(examples, reached),
        "evasion": evasion_check(model, examples, batch=batch),
    }
    return metrics, scores


def _encoder_share(examples: Sequence[Example], reached: list[bool]) -> dict[str, float]:
    """Per data set, the share of rows the cascade's first pass left to the encoder."""
    if len(reached) != len(examples):
        return {}
    return {
        dataset: round(sum(reached[i] for i in idx) / len(idx), 4)
        for dataset, idx in _by_dataset(examples).items()
    }


def _n_tricks() -> int:
    from gova.models.evasion import TRICKS

    return len(TRICKS)


def _with_embedding_cache(model, cache: Path):
    """Reuse cached embeddings of texts seen before (same vectors, minutes faster)."""
    from gova.models.embeddings import E5Encoder, MiniLMEncoder
    from gova.models.text import TextModel
    from gova.training.embedding_cache import CachedEncoder
    from gova.training.text import multilingual_cache

    if isinstance(model, TextModel):
        model = TextModel(
            model.path,
            encoder=CachedEncoder(MiniLMEncoder(), cache),
            multilingual_encoder=CachedEncoder(E5Encoder(), multilingual_cache(cache)),
        )
    return model


def run(args: argparse.Namespace, model: Any = None, stream: TextIO | None = None) -> int:
    """`gova eval text`: 0 on success, 2 on bad input (one line on stderr, no traceback)."""
    err = stream or sys.stderr
    try:
        if args.batch < 1 or (args.limit is not None and args.limit < 1):
            raise EvalError("--batch and --limit must be at least 1")
        try:
            examples = load_examples(args.data)
        except (FileNotFoundError, ValueError) as exc:
            raise EvalError(str(exc)) from None
        except OSError as exc:  # unreadable file, bad gzip
            raise EvalError(f"cannot read the data: {exc}") from None
        chosen = select(examples, all_rows=args.all_rows, limit=args.limit)
        if getattr(args, "by_language", False):
            # Report each language of a set on its own line: the row's `lang`, or for rows
            # without one the detected language ("und" when it cannot be told).
            from gova.models.evasion import fold
            from gova.models.language import detect_language

            chosen = [
                replace(
                    ex, dataset=f"{ex.dataset}.{ex.lang or detect_language(fold(ex.text)).code}"
                )
                for ex in chosen
            ]
        if not chosen:
            hint = "" if args.all_rows else " held-out (pass --all-rows to evaluate every row)"
            raise EvalError(f"no{hint} rows to evaluate in {', '.join(map(str, args.data))}")
        if model is None:
            from gova.models.base import MissingModelError
            from gova.models.text import load_text_classifier

            try:
                model = load_text_classifier(getattr(args, "model", None))
                if getattr(args, "cache", None):
                    model = _with_embedding_cache(model, Path(args.cache))
            except MissingModelError as exc:
                raise EvalError(str(exc)) from None
    except EvalError as exc:
        print(f"gova eval text: {exc}", file=err)
        return 2

    out_dir = Path(args.out)
    metrics, scores = evaluate(
        model,
        chosen,
        total=len(examples),
        all_rows=args.all_rows,
        limit=args.limit,
        command=command_line(args),
        batch=args.batch,
        stream=err,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = plot_pr(scores, chosen, metrics["thresholds"], out_dir, stream=err)
    readme = write_report(metrics, out_dir, plots)

    version = f" {metrics['model']['version']}" if metrics["model"]["version"] else ""
    print(f"model: {metrics['model']['name']}{version}")
    print(rows_sentence(metrics))
    print(f"thresholds: {metrics['thresholds']}\n")
    print(text_table(category_rows(metrics)) + "\n")
    print(text_table(benign_rows(metrics)) + "\n")
    if metrics["evasion"]["tricks"]:
        print(text_table(evasion_rows(metrics)) + "\n")
    print(f"report: {readme}  metrics: {out_dir / 'metrics.json'}  plots: {len(plots)}")
    return 0
