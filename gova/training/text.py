"""`gova train text`: fit the text model's heads and write a versioned artifact.

Rows held out by `gova.training.data.is_held_out` are never read here. Of the remaining
rows, a fixed fifth (by id hash) calibrates each head (see `_calibrator`) and picks its default
threshold; the heads are fitted on the rest (the Portuguese expert on all of them, see
`_cross_fitted_expert`), and each head gets a multilingual twin over e5 embeddings
(`_multilingual_head`). Written seeds (`written/seeds.json`) give the
categories no public set labels their positives and hard negatives.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gova.models.text import (
    AGGREGATE,
    CALIBRATOR_INPUTS,
    HEADS,
    PARENTS,
    PT_EXPERTS,
    Features,
    ProfanityCheckScorer,
    calibrator_inputs,
    int8_columns,
    routes,
)
from gova.training.data import SEEDS_SET, Example, expand, load_examples, read_rows, to_example

SEEDS = Path(__file__).parent / "written" / "seeds.json"
CALIBRATION_SHARE = 0.2
#: Public sets label these; the lexical view is trusted for them.
LEXICAL_CATEGORIES = ("toxicity", "hate", "insult", "profanity", "harassment", "unsafe")
#: The main heads of the categories public chat/comment sets label (toxicity, hate, insult,
#: profanity, harassment) learn from these sets and the seeds only, as before the
#: `../shared/data/train` sets arrived: pooled with them (EDOS' sexism as hate, Civil
#: Comments' all-toxic rows, K-MHaS) they fell on the shared sets (held-out, first try:
#: tweeteval hate 0.708 → 0.616, wikitalk toxicity 0.859 → 0.806 on 300 rows each). The new
#: sets teach those categories' multilingual heads, every other category and `unsafe`.
#: (A user's own sets, named otherwise, teach the main heads as before.)
NOT_FOR_MAIN_LEXICAL = (
    "ailuminate", "benign_prompts", "convabuse", "donotanswer", "edos", "gahd", "harmbench",
    "japanese_toxic", "kmhas", "mlma", "multijail", "strongreject", "surge_", "toxic_spans",
    "vicomtech", "xsafety",
)  # fmt: skip
#: Benign public rows used as negatives for the seed-only categories (a sample, for speed).
BENIGN_NEGATIVES = 6000
#: A default threshold flags at most this share of the category's negative calibration rows.
MAX_NEGATIVE_FPR = 0.01
#: Per-head choices, made on the calibration split: for toxicity the sets agree on the label
#: and pooling rows as they come, with annotator agreement as a graded target where a set
#: gives votes (`Example.agreement`), works best; for the others every set weighs the same.
POOLED = ("toxicity",)
#: Heads fitted on a few hundred seeds are regularised harder, and their default thresholds
#: ask for this precision on the calibration rows: a false "illicit" or "self-harm" flag on
#: an innocent question costs a platform more than a miss the LLM reviewer may still catch.
SEED_C = 0.5
SEED_MIN_PRECISION = 0.9
#: In the heads the comment sets do not label, the written seeds weigh this share of the
#: total: weighed as one set among twenty, their hard negatives were drowned out by
#: red-team prompts, and harmless questions ("how do I kill a Python process") scored
#: as illicit (xstest's safe prompts: 26% flagged, illicit 37 of 250; seen on xstest,
#: which informed this choice; no xstest row is trained on).
SEED_SHARE = 0.5
#: The multilingual heads' regularisation, chosen on the calibration rows (AUPRC summed over
#: toxicity, hate, insult, self-harm and violence: C = 0.25, 1, 4, 16 gave 3.33, 3.42, 3.49,
#: 3.49).
MULTILINGUAL_C = 4.0
#: The Portuguese experts' calibration logits are cross-fitted in this many folds.
EXPERT_FOLDS = 5
#: Training rows kept per data set (a fixed sample by id hash): every set weighs the same in
#: the non-pooled heads anyway, and embedding 90k texts twice is hours on 2 cores. ToLD-Br,
#: the only Portuguese set the expert learns from, keeps all of its rows.
MAX_ROWS_PER_SET = 2500
UNCAPPED_SETS = ("toldbr", "davidson")
#: The multilingual heads (e5, ~15-40 texts/s on 2 cores) learn from the rows the detector
#: routes to them (at most this many per set) and this many English/Portuguese rows.
MULTILINGUAL_PER_SET = 1200
MULTILINGUAL_MAIN_ROWS = 2500
#: The cascade's band: on calibration rows, no (data set, head) AUPRC with at least this many
#: positives and negatives may fall by more than CASCADE_MAX_DROP against the full model (the
#: issue's bar is 0.005 on held-out rows; the margin is for the move from one to the other).
CASCADE_MIN_CLASS = 20
CASCADE_MAX_DROP = 0.003
VECTORIZERS = [
    {
        "analyzer": "char_wb",
        "ngram_range": [2, 5],
        "max_features": 120_000,
        "sublinear_tf": True,
        "lowercase": True,
    },
    {
        "analyzer": "word",
        "ngram_range": [1, 2],
        "max_features": 60_000,
        "sublinear_tf": True,
        "lowercase": True,
        "token_pattern": r"(?u)\b\w+\b",
    },
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fraction(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def multilingual_cache(cache: Path | None) -> Path | None:
    """Where the e5 vectors of the texts in the MiniLM cache `cache` are kept."""
    return cache.with_suffix(".e5.npz") if cache else None


def capped(examples: list[Example]) -> list[Example]:
    """At most MAX_ROWS_PER_SET rows of each set (those with the lowest id hash), in order."""
    by_set: dict[str, list[tuple[float, int]]] = {}
    for i, e in enumerate(examples):
        by_set.setdefault(e.dataset, []).append((_fraction(f"sample:{e.dataset}:{e.id}"), i))
    keep: set[int] = set()
    for dataset, rows in by_set.items():
        if dataset.startswith(UNCAPPED_SETS) or dataset == SEEDS_SET:
            keep.update(i for _, i in rows)
        else:
            keep.update(i for _, i in sorted(rows)[:MAX_ROWS_PER_SET])
    return [e for i, e in enumerate(examples) if i in keep]


def multilingual_rows(examples: list[Example], other: np.ndarray) -> np.ndarray:
    """Indices of the rows the multilingual heads learn from: those routed to them (`other`,
    see `gova.models.text.routes`), at most MULTILINGUAL_PER_SET per set, and a sample of
    the rest (the heads must also know what English and Portuguese harm looks like)."""
    ranked = sorted(
        range(len(examples)),
        key=lambda i: _fraction(f"multilingual:{examples[i].dataset}:{examples[i].id}"),
    )
    per_set: Counter = Counter()
    chosen, main = [], 0
    for i in ranked:
        if other[i] or examples[i].dataset == SEEDS_SET:
            if per_set[examples[i].dataset] < MULTILINGUAL_PER_SET:
                per_set[examples[i].dataset] += 1
                chosen.append(i)
        elif main < MULTILINGUAL_MAIN_ROWS:
            main += 1
            chosen.append(i)
    return np.array(sorted(chosen), dtype=int)


def calibration_row(example: Example) -> bool:
    return _fraction(f"calibrate:{example.dataset}:{example.id}") < CALIBRATION_SHARE


def load_seeds(path: Path = SEEDS) -> list[Example]:
    return [to_example(row, SEEDS_SET) for row in read_rows(path)]


def fit_vectorizers(texts: list[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizers = []
    for spec in VECTORIZERS:
        params = {**spec, "ngram_range": tuple(spec["ngram_range"])}
        vectorizers.append(TfidfVectorizer(**params, min_df=2, dtype=np.float32).fit(texts))
    return vectorizers


def _dataset_weights(rows: list[Example]) -> np.ndarray:
    """Every data set weighs the same in total, so Davidson's 25k tweets don't define
    toxicity for Wikipedia comments; classes are balanced within the result."""
    counts = Counter(e.dataset for e in rows)
    return np.array([len(rows) / (len(counts) * counts[e.dataset]) for e in rows])


def _rows_for(category: str, examples: list[Example], rng: np.random.Generator) -> list[int]:
    labelled = [i for i, e in enumerate(examples) if category in e.labels]
    if category in LEXICAL_CATEGORIES:
        return labelled
    # Seed-only categories: every seed speaks (its co-labels are complete: a sexual seed is
    # not illicit), and harmless public rows are negatives too.
    labelled = [i for i, e in enumerate(examples) if category in e.labels or e.dataset == SEEDS_SET]
    extra = [
        i
        for i, e in enumerate(examples)
        if category not in e.labels and e.dataset != SEEDS_SET and e.benign
    ]
    if len(extra) > BENIGN_NEGATIVES:
        extra = list(rng.choice(extra, BENIGN_NEGATIVES, replace=False))
    return labelled + extra


def _threshold(scores: np.ndarray, labels: np.ndarray, min_precision: float = 0.0) -> float:
    """The max-F1 point, raised until at most MAX_NEGATIVE_FPR of negatives are flagged and
    precision reaches `min_precision`."""
    from sklearn.metrics import precision_recall_curve

    if labels.sum() == 0 or labels.sum() == len(labels):
        return 0.5
    precision, recall, cuts = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    best = float(cuts[int(np.argmax(f1[:-1]))])
    best = max(best, float(np.quantile(scores[labels == 0], 1 - MAX_NEGATIVE_FPR)))
    precise = cuts[precision[:-1] >= min_precision]
    if len(precise):
        best = max(best, float(precise[0]))
    return round(min(max(best, 0.05), 0.99), 3)


def train(
    paths: list[str | Path],
    out: Path,
    cache: Path | None = None,
    seeds: bool = True,
    c: float = 2.0,
) -> dict:
    from scipy import sparse

    from gova.models.embeddings import DIM, E5_MODEL_ID, E5Encoder, MiniLMEncoder
    from gova.models.evasion import fold
    from gova.models.language import detect_languages
    from gova.training.embedding_cache import CachedEncoder

    started = time.monotonic()
    files = expand(paths)
    everything = load_examples(files)
    examples = capped([e for e in everything if not e.held_out])
    log(
        f"training rows: {len(examples)} of {len(everything)} (held-out rows are never read; "
        f"at most {MAX_ROWS_PER_SET} per set but {', '.join(UNCAPPED_SETS)})"
    )
    if seeds:
        examples += load_seeds()
    if not examples:
        raise ValueError("no training rows: every row is held out or the files are empty")
    rng = np.random.default_rng(0)
    texts = [fold(e.text) for e in examples]
    calibrate = np.array([calibration_row(e) for e in examples])
    portuguese, other = routes(detect_languages(texts))

    log("embedding (MiniLM, cached by text)...")
    embeddings = CachedEncoder(MiniLMEncoder(), cache).encode(texts)
    e5_rows = multilingual_rows(examples, other)
    log(f"embedding {len(e5_rows)} rows (multilingual-e5, cached by text)...")
    multilingual = np.zeros((len(examples), DIM), dtype=np.float32)
    multilingual[e5_rows] = CachedEncoder(E5Encoder(), multilingual_cache(cache)).encode(
        [texts[i] for i in e5_rows]
    )
    has_e5 = np.zeros(len(examples), bool)
    has_e5[e5_rows] = True
    log("fitting TF-IDF vocabularies...")
    vectorizers = fit_vectorizers([t for t, cal in zip(texts, calibrate, strict=True) if not cal])
    features = Features(vectorizers, None, ProfanityCheckScorer())
    lexical = features.lexical(texts)
    dense = features.dense(texts, embeddings)
    n_lex, n_dense = lexical.shape[1], dense.shape[1]
    profanity = dense[:, -1]
    # The cascade's first pass sees the n-grams and alt-profanity-check's logit only.
    cheap_x = sparse.hstack([lexical, profanity[:, None]]).tocsr()

    heads = list(HEADS)
    columns = len(heads) + len(PT_EXPERTS)  # each expert's weights follow the heads'
    lex_w = np.zeros((n_lex, columns), dtype=np.float32)
    dense_w = np.zeros((n_dense, columns), dtype=np.float32)
    bias = np.zeros(columns, dtype=np.float32)
    calibration = np.zeros((len(CALIBRATOR_INPUTS) + 1, len(heads)), dtype=np.float32)
    cheap_w = np.zeros((n_lex + 1, len(heads)), dtype=np.float32)
    cheap_b = np.zeros(len(heads), dtype=np.float32)
    cheap_calibration = np.zeros_like(calibration)
    # The multilingual heads over e5 embeddings, their Platt scaling folded in.
    multi_w = np.zeros((DIM, len(heads)), dtype=np.float32)
    multi_b = np.zeros(len(heads), dtype=np.float32)
    # Calibrated logits of every calibration row under every head, full and first pass:
    # what the cascade's band is chosen on.
    cal_all = np.flatnonzero(calibrate)
    full_cal = np.zeros((len(cal_all), len(heads)))
    cheap_cal = np.zeros((len(cal_all), len(heads)))
    no_expert = np.zeros(len(cal_all))
    thresholds: dict[str, float] = {}
    summary: dict[str, dict] = {}
    for j, category in enumerate(heads):
        every = np.array(_rows_for(category, examples, rng), dtype=int)
        # The multilingual head learns from every row; the main one, for the categories the
        # comment sets label, from those sets (see NOT_FOR_MAIN_LEXICAL).
        rows = every
        if category in LEXICAL_CATEGORIES and category != AGGREGATE:
            rows = every[[_lexical_set(examples[i].dataset) for i in every]]
        y = np.array([_target(examples[i], category) for i in rows])
        fit = rows[~calibrate[rows]]
        cal = rows[calibrate[rows]]
        y_fit = y[~calibrate[rows]]
        y_cal = np.array([examples[i].labels.get(category, 0) for i in cal])
        y_every = np.array([_target(examples[i], category) for i in every])
        m_fit = every[~calibrate[every] & has_e5[every]]
        m_cal = every[calibrate[every] & has_e5[every]]
        m_y_fit = y_every[~calibrate[every] & has_e5[every]]
        m_y_cal = np.array([examples[i].labels.get(category, 0) for i in m_cal])
        positives = int((y_fit >= 0.5).sum())
        if positives < 5:
            log(f"  {category}: too few positives ({positives}); it will always score 0")
            calibration[-1, j] = cheap_calibration[-1, j] = multi_b[j] = -30.0
            full_cal[:, j] = cheap_cal[:, j] = -30.0
            thresholds[category] = 0.99
            continue
        use_lexical = category in LEXICAL_CATEGORIES
        X = sparse.hstack(
            [lexical if use_lexical else sparse.csr_matrix((len(examples), 0)), dense]
        ).tocsr()
        weights = _balanced(
            [examples[i] for i in fit],
            y_fit,
            pooled=category in POOLED,
            seed_share=None if use_lexical else SEED_SHARE,
        )
        head_c = c if use_lexical else SEED_C
        coef, bias[j] = _fit(X[fit], y_fit, weights, head_c)
        if use_lexical:
            lex_w[:, j] = coef[:n_lex]
        dense_w[:, j] = coef[-n_dense:]
        raw = X[cal] @ coef + bias[j]
        raw_all = X[cal_all] @ coef + bias[j]
        expert = np.zeros(len(cal))
        expert_all = np.zeros(len(cal_all))
        if category in PT_EXPERTS:
            k = len(heads) + PT_EXPERTS.index(category)
            # Rows the file says are Portuguese, or detected as Portuguese.
            is_pt = np.array([portuguese[i] == 1 or examples[i].lang == "pt" for i in rows])
            pt_rows, y_pt = rows[is_pt], y[is_pt]
            if min((y_pt >= 0.5).sum(), (y_pt < 0.5).sum()) >= 5:
                lex_w[:, k], dense_w[:, k], bias[k] = _expert(lexical, dense, pt_rows, y_pt, c)
                expert = _cross_fitted_expert(lexical, dense, pt_rows, y_pt, cal, examples, c)
                at = {i: n for n, i in enumerate(cal)}
                expert_all = np.array(
                    [expert[at[i]] if i in at else 0.0 for i in cal_all], dtype=float
                )
                log(f"  {category}: Portuguese expert on {len(pt_rows)} rows")
            else:
                log(f"  {category}: too few Portuguese rows for an expert ({len(pt_rows)})")
        m_weights = _balanced([examples[i] for i in m_fit], m_y_fit, pooled=category in POOLED)
        multi_w[:, j], multi_b[j] = _multilingual_head(
            multilingual, m_fit, m_y_fit, m_weights, m_cal, m_y_cal, [examples[i] for i in m_cal]
        )
        inputs = calibrator_inputs(raw, profanity[cal], portuguese[cal], expert)
        inputs_all = calibrator_inputs(raw_all, profanity[cal_all], portuguese[cal_all], expert_all)
        # The first pass: n-grams and alt-profanity-check, fitted and calibrated the same way.
        cheap_coef, cheap_b[j] = _fit(cheap_x[fit], y_fit, weights, head_c)
        q, scale = int8_columns(cheap_coef[:, None])  # calibrated as it is stored
        cheap_coef = (q * scale)[:, 0]
        cheap_w[:, j] = cheap_coef
        cheap_in = calibrator_inputs(
            cheap_x[cal] @ cheap_coef + cheap_b[j], profanity[cal], portuguese[cal], 0 * raw
        )
        cheap_in_all = calibrator_inputs(
            cheap_x[cal_all] @ cheap_coef + cheap_b[j],
            profanity[cal_all],
            portuguese[cal_all],
            no_expert,
        )
        if not use_lexical:
            # Seed-only heads calibrate on a few dozen positives: a curve in
            # alt-profanity-check's logit made their thresholds jump (violence 0.58 -> 0.92).
            for a in (inputs, inputs_all, cheap_in, cheap_in_all):
                a[:, CALIBRATOR_INPUTS.index("profanity²")] = 0.0
        cal_rows = [examples[i] for i in cal]
        calibration[:, j] = _calibrator(inputs, y_cal, cal_rows)
        cheap_calibration[:, j] = _calibrator(cheap_in, y_cal, cal_rows)
        full_cal[:, j] = inputs_all @ calibration[:-1, j] + calibration[-1, j]
        cheap_cal[:, j] = cheap_in_all @ cheap_calibration[:-1, j] + cheap_calibration[-1, j]
        prob = 1 / (1 + np.exp(-(inputs @ calibration[:-1, j] + calibration[-1, j])))
        thresholds[category] = _threshold(
            prob, y_cal, min_precision=0.0 if use_lexical else SEED_MIN_PRECISION
        )
        summary[category] = {
            "fit_rows": int(len(fit)),
            "fit_positives": positives,
            "calibration_rows": int(len(cal)),
            "calibration_positives": int(y_cal.sum()),
            "multilingual_rows": int(len(m_fit)),
            "views": ["lexical", "embedding", "profanity"]
            if use_lexical
            else ["embedding", "profanity"],
        }
        log(
            f"  {category}: {summary[category]} threshold {thresholds[category]} "
            f"({time.monotonic() - started:.0f} s)"
        )
    for child, parent in PARENTS.items():
        thresholds[child] = max(thresholds.get(child, 0.5), thresholds.get(parent, 0.5))
    thresholds["sexual/minors"] = min(thresholds.get("sexual", 0.5), 0.5)
    cut = np.array([_logit(thresholds[h]) for h in heads])
    band = cascade_band(
        full_cal,
        cheap_cal,
        cheap_cal - cut,
        [examples[i] for i in cal_all],
        heads,
        eligible=~other[cal_all],
    )
    log(f"cascade: {band}")

    weights = {
        "lexical": lex_w.astype(np.float16),
        "dense": dense_w,
        "bias": bias,
        "calibration": calibration,
        "multilingual": multi_w,
        "multilingual_bias": multi_b,
        **dict(zip(("cheap", "cheap_scale"), int8_columns(cheap_w), strict=True)),
        "cheap_bias": cheap_b,
        "cheap_calibration": cheap_calibration,
    }
    # The data and the weights: a change of training code that changes the model changes it.
    fingerprint = hashlib.sha256(_digest(files).encode())
    for array in weights.values():
        fingerprint.update(array.tobytes())
    version = datetime.now(UTC).strftime("%Y%m%d") + "-" + fingerprint.hexdigest()[:8]
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "weights.npz", **weights)
    state = [
        {"vocabulary": {t: int(i) for t, i in v.vocabulary_.items()}, "idf": v.idf_.tolist()}
        for v in vectorizers
    ]
    # mtime=0: the same vocabulary gives the same bytes.
    with gzip.GzipFile(out / "vocab.json.gz", "wb", mtime=0) as fh:
        fh.write(json.dumps(state).encode("utf-8"))
    meta = {
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "heads": heads,
        "pt_experts": list(PT_EXPERTS),
        "calibrator_inputs": list(CALIBRATOR_INPUTS),
        "thresholds": {h: t for h, t in thresholds.items() if h != AGGREGATE},
        "aggregate_threshold": thresholds.get(AGGREGATE, 0.5),
        "cascade": band,
        "features": {
            "vectorizers": VECTORIZERS,
            "encoder": "all-MiniLM-L6-v2-int8 (true lengths)",
            "multilingual_encoder": E5_MODEL_ID,
        },
        "training": {
            "files": [{"name": f.name, "sha256": _digest([f])} for f in files],
            "seeds": seeds,
            "rows": len(examples),
            "max_rows_per_set": MAX_ROWS_PER_SET,
            "multilingual_rows": int(len(e5_rows)),
            "held_out_share": "see gova.training.data.HELD_OUT_SHARE",
            "calibration_share": CALIBRATION_SHARE,
            "C": c,
            "heads": summary,
        },
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} (version {version}) in {time.monotonic() - started:.0f} s")
    return meta


def _lexical_set(dataset: str) -> bool:
    return not dataset.startswith(NOT_FOR_MAIN_LEXICAL)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def cascade_band(
    full: np.ndarray,
    cheap: np.ndarray,
    margin: np.ndarray,
    rows: list[Example],
    heads: list[str],
    eligible: np.ndarray,
) -> dict:
    """The first pass's band, chosen on calibration rows. `full` and `cheap` are calibrated
    logits (rows × heads) and `margin` the first pass's distance to each head's threshold;
    an eligible row whose largest margin is below `low` (clearly clean) or above `high`
    (clearly bad) is settled by the first pass. The band settling the most rows such that no
    (data set, head) AUPRC with at least CASCADE_MIN_CLASS positives and negatives drops by
    more than CASCADE_MAX_DROP against the full model wins."""
    from sklearn.metrics import average_precision_score

    gate = margin.max(axis=1)
    cases = []
    by_set: dict[str, list[int]] = {}
    for n, e in enumerate(rows):
        by_set.setdefault(e.dataset, []).append(n)
    for dataset, idx in by_set.items():
        for j, head in enumerate(heads):
            mine = np.array([n for n in idx if head in rows[n].labels], dtype=int)
            if not len(mine):
                continue
            y = np.array([rows[n].labels[head] for n in mine])
            if min(y.sum(), len(y) - y.sum()) >= CASCADE_MIN_CLASS:
                cases.append((dataset, head, j, mine, y, average_precision_score(y, full[mine, j])))

    def worst(settled: np.ndarray) -> tuple[float, str]:
        mixed = np.where(settled[:, None], cheap, full)
        drops = [
            (base - average_precision_score(y, mixed[mine, j]), f"{dataset}/{head}")
            for dataset, head, j, mine, y, base in cases
        ]
        return max(drops) if drops else (0.0, "")

    candidates = sorted({float(np.quantile(gate, q)) for q in np.linspace(0, 0.9, 19)})
    highs = sorted(
        {float(np.quantile(gate, q)) for q in (0.8, 0.85, 0.9, 0.95, 0.98, 0.99)} | {np.inf}
    )
    best = {"low": -np.inf, "high": np.inf, "settled": 0.0, "worst_drop": 0.0, "case": ""}
    for low in candidates:
        for high in highs:
            if high <= low:
                continue
            settled = eligible & ((gate < low) | (gate > high))
            share = float(settled.mean())
            if share <= best["settled"]:
                continue
            drop, case = worst(settled)
            if drop <= CASCADE_MAX_DROP:
                best = {
                    "low": low,
                    "high": high,
                    "settled": share,
                    "worst_drop": drop,
                    "case": case,
                }
    out = {
        k: (round(v, 4) if isinstance(v, float) and np.isfinite(v) else v) for k, v in best.items()
    }
    # JSON has no infinity: None means "no bound on that side".
    out["low"] = None if not np.isfinite(best["low"]) else out["low"]
    out["high"] = None if not np.isfinite(best["high"]) else out["high"]
    out["cases"] = len(cases)
    out["max_drop"] = CASCADE_MAX_DROP
    return out


def _target(example: Example, category: str) -> float:
    """The label, or for pooled heads the annotators' agreement where the row has one."""
    if category in POOLED and example.agreement is not None and category in example.labels:
        return example.agreement
    return example.labels.get(category, 0)


def _balanced(
    rows: list[Example], y: np.ndarray, pooled: bool, seed_share: float | None = None
) -> np.ndarray:
    """Sample weights: pooled heads take rows as they come; for the others positives weigh
    as much as negatives in total, and so does every data set (Davidson's 25k tweets must
    not define hate for 1k-row sets)."""
    if pooled:
        return np.ones(len(rows))
    weights = _dataset_weights(rows)
    seeds = np.array([e.dataset == SEEDS_SET for e in rows])
    if seed_share and seeds.any() and not seeds.all():
        # The written definitions and hard negatives ("kill the process") keep their say
        # beside a score of public sets: they alone say what a category is not.
        weights[seeds] *= (
            seed_share / (1 - seed_share) * weights[~seeds].sum() / weights[seeds].sum()
        )
    positive = y == 1
    weights[positive] *= weights[~positive].sum() / max(weights[positive].sum(), 1e-9)
    return weights


def _fit(X, y: np.ndarray, weights: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Logistic regression on targets in [0, 1]: a row with a graded target enters twice,
    as a positive weighted by the target and as a negative weighted by the rest."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    graded = np.flatnonzero((y > 0) & (y < 1))
    if len(graded):
        X = sparse.vstack([X, X[graded]]).tocsr()
        weights = np.concatenate([weights, weights[graded] * (1 - y[graded])])
        weights[graded] *= y[graded]
        y = np.concatenate([np.ceil(y), np.zeros(len(graded))])
    model = LogisticRegression(C=c, max_iter=3000).fit(X, y.astype(int), sample_weight=weights)
    return model.coef_.ravel().astype(np.float32), float(model.intercept_[0])


def _expert(lexical, dense, rows: np.ndarray, y: np.ndarray, c: float):
    """A Portuguese expert's (lexical, dense, bias) weights; its n-grams are NB-scaled, and
    since (x ∘ ratio) · w = x · (ratio ∘ w) the weights returned hold the product."""
    from scipy import sparse

    ratio = _log_count_ratio(lexical[rows], y)
    X = sparse.hstack([lexical[rows].multiply(ratio), dense[rows]]).tocsr()
    coef, bias = _fit(X, y, np.ones(len(rows)), c)
    n_lex = lexical.shape[1]
    return ratio * coef[:n_lex], coef[n_lex:], bias


def _multilingual_head(vectors, fit, y_fit, weights, cal, y_cal, cal_rows):
    """A head over e5 embeddings, fitted like the main head, Platt-scaled on the calibration
    rows; since the scaling is linear in the logit, the returned weights include it."""
    coef, bias = _fit(vectors[fit], y_fit, weights, MULTILINGUAL_C)
    slope, intercept = _calibrator((vectors[cal] @ coef + bias)[:, None], y_cal, cal_rows)
    return slope * coef, slope * bias + intercept


def _cross_fitted_expert(lexical, dense, rows, y, cal, examples, c: float) -> np.ndarray:
    """The expert's logits on the calibration rows, each from an expert fitted without its
    fold: the final expert learns from every Portuguese training row, calibration rows
    included (a fifth more data for the smallest set), and the calibrator still only sees
    logits of rows their expert never saw."""
    fold = {
        i: int(_fraction(f"expert:{examples[i].dataset}:{examples[i].id}") * EXPERT_FOLDS)
        for i in cal
    }
    logits = np.zeros(len(cal))
    for f in range(EXPERT_FOLDS):
        keep = np.array([fold.get(i, -1) != f for i in rows])
        lex, dns, bias = _expert(lexical, dense, rows[keep], y[keep], c)
        mine = np.array([fold[i] == f for i in cal])
        logits[mine] = lexical[cal[mine]] @ lex + dense[cal[mine]] @ dns + bias
    return logits


def _log_count_ratio(lexical, y: np.ndarray) -> np.ndarray:
    """Naive-Bayes log-count ratios of n-gram presence (Wang & Manning, 2012): scaling the
    n-grams by them before the logistic regression lets one set's vocabulary speak with
    fewer rows; +0.02 AUPRC for the Portuguese expert on the calibration rows."""
    present = (lexical > 0).astype(np.float32)
    p = (present.T @ y + 1) / (y.sum() + 1)
    q = (present.T @ (1 - y) + 1) / ((1 - y).sum() + 1)
    return np.log(p / q).astype(np.float32)


def _calibrator(inputs: np.ndarray, labels: np.ndarray, rows: list[Example]) -> np.ndarray:
    """Platt scaling that also learns how far to trust the head and alt-profanity-check in
    Portuguese versus elsewhere (the sets label differently), fitted on calibration rows
    with every data set weighing the same."""
    from sklearn.linear_model import LogisticRegression

    if labels.sum() == 0 or labels.sum() == len(labels):
        return np.array([1.0, *[0.0] * (inputs.shape[1] - 1), 0.0])
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(inputs, labels, sample_weight=_dataset_weights(rows))
    return np.array([*model.coef_.ravel(), model.intercept_[0]])


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()
