"""The text stage in the running pipeline against the bare model, and what micro-batching costs.

    make bench-text                 # or: .venv/bin/python -m bench.text_stage [--items N]
                                    #     [--rate-share 0.5] [--seconds 30] [--out PATH]

Starts a private stack in a temporary directory (embedded Kafka, PostgreSQL, Redis and one
Faust worker; no API, the items go straight onto content.raw as the API would put them) and
stops it afterwards. Phase 0 needs no stack: the whole text model (its cascade included)
against one raw MiniLM int8 pass with true lengths over the same texts, interleaved in one
process, on chat-length and on long English texts; it prints both rates and their ratio
(`--speed-only` runs just that). Every item has its own text and author, so neither the Redis score
cache nor the per-author rate limit shortens the path. Phases, all in one run:

1. bare (before): `load_text_classifier().classify` alone, in batches of
   GOVA_TEXT_BATCH_SIZE, after a warm-up batch, while the stack is up but idle: the
   baseline, measured under the same conditions (the worker and this process share the
   same cores).
2. sustained: N items onto content.raw at once (default N = 60 s of work at the bare rate,
   capped); throughput = items stored ÷ (first received → last stored), from PostgreSQL.
   This is the whole pipeline (ingest → text → decide → persist), so the text stage's
   share of it can only be lower than the ratio shown.
3. latency, batched: items sent one by one, evenly spaced, at `rate-share` × bare for
   `--seconds`, to the worker as configured (GOVA_TEXT_BATCH_SIZE, default 64, within
   GOVA_TEXT_BATCH_WITHIN_S, default 0.02 s); p50/p99 of accept → verdict stored.
4. latency, unbatched: the same, after restarting the worker with GOVA_TEXT_BATCH_SIZE=1.
5. bare (after): the bare model again, the stack idle. The baseline is the mean of 1 and 5.

How to read it: "sustains X% of the bare model" is phase 2's stored/s ÷ the baseline (the
goal is ≥ 80%). "micro-batching adds Y ms p99" is p99(phase 3) − p99(phase 4) at the same
offered rate (the goal is ≤ 50 ms); it is often negative: under load, one call per item
pays the per-call overhead every time, so unbatched items queue. Each latency phase starts
with a few warm-up items that are not counted. The machine's load average is printed at
the start and end: anything else running on the box (training, say) slows every phase, the
bare ones included, so compare figures only within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from bench.run import WORDS, bare_classifier, collect, pct, produce_directly

INSULTS = ("idiot", "stupid", "loser", "moron", "trash", "clown", "pathetic", "dumb")


def model_vs_encoder(texts: list[str], batch: int, rounds: int = 3) -> dict:
    """The whole text model (cascade included) and one raw MiniLM int8 pass with true lengths
    over the same texts, in the same batches, interleaved `rounds` times in one process so
    that whatever else loads the machine weighs on both alike; the best round of each."""
    from gova.models import load_text_classifier
    from gova.models.embeddings import MiniLMEncoder

    model = load_text_classifier()
    encoder = MiniLMEncoder()
    model.classify(texts[:batch])  # warm up both
    encoder.encode(texts[:batch])

    def timed(fn) -> float:
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            fn(texts[i : i + batch])
        return len(texts) / (time.perf_counter() - start)

    whole, raw = [], []
    scored, encoded = getattr(model, "scored", 0), getattr(model, "encoded", 0)
    for _ in range(rounds):
        whole.append(timed(model.classify))
        raw.append(timed(encoder.encode))
    share = None
    if hasattr(model, "encoded") and model.scored > scored:
        share = (model.encoded - encoded) / (model.scored - scored)
    chars = sum(map(len, texts)) / len(texts)
    return {
        "texts": len(texts),
        "mean_chars": chars,
        "whole_model_per_s": max(whole),
        "raw_minilm_per_s": max(raw),
        "ratio": max(whole) / max(raw),
        "encoder_share": share,
    }


def speed(batch: int, n: int) -> dict:
    """`model_vs_encoder` on chat-length and on long English texts, printed as a table."""
    results = {
        "chat": model_vs_encoder(varied_texts(n, "speed", seed=7), batch),
        # 100–140 words (~650 characters, beyond MiniLM's 128 word pieces).
        "long": model_vs_encoder(
            varied_texts(max(n // 4, batch), "long", seed=8, words=(100, 140)), batch
        ),
    }
    print(
        "\n| texts | n | mean chars | whole model items/s | raw MiniLM int8 items/s"
        " (true lengths) | ratio | reached the encoder |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        share = "–" if r["encoder_share"] is None else f"{r['encoder_share']:.0%}"
        print(
            f"| {name} | {r['texts']} | {r['mean_chars']:.0f} | {r['whole_model_per_s']:.1f} |"
            f" {r['raw_minilm_per_s']:.1f} | {r['ratio']:.2f} | {share} |"
        )
    print(
        f"whole model vs raw MiniLM on chat-length text: {results['chat']['ratio']:.2f}x"
        " (goal ≥ 0.8x; > 1 with the cascade)"
    )
    return results


def varied_texts(n: int, run: str, seed: int, words: tuple[int, int] = (5, 40)) -> list[str]:
    """5–40 words (or `words`), about one in four with an insult in it; unique per item and
    per run."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        picked = rng.choices(WORDS, k=rng.randint(*words))
        if rng.random() < 0.25:
            picked[rng.randrange(len(picked))] = rng.choice(INSULTS)
        out.append(" ".join(picked) + f" #{run}-{i}")
    return out


async def produce_paced(broker: str, tenant: str, run: str, rate: float, seconds: float) -> int:
    """Put items on content.raw one at a time, evenly spaced at `rate` items/s."""
    n = max(1, round(rate * seconds))
    corpus = varied_texts(n, run, seed=hash(run) & 0xFFFF)
    await produce_directly(broker, tenant, n, run, rate=rate, corpus=corpus)
    return n


async def evaluators(dsn: str, tenant: str, run: str) -> list[str]:
    """The model names on the run's verdicts: what the worker actually ran."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT verdict->>'model' AS model FROM moderation_results"
            " WHERE tenant_id = $1 AND content_id LIKE $2 || '-%'",
            tenant,
            run,
        )
        return sorted(str(r["model"]) for r in rows)
    finally:
        await conn.close()


def summarise(phase: str, rows: list, expected: int, bare: float | None = None) -> dict:
    lat = [(r["stored_at"] - r["received_at"]).total_seconds() * 1000 for r in rows]
    span = (
        (max(r["stored_at"] for r in rows) - min(r["received_at"] for r in rows)).total_seconds()
        if rows
        else 0.0
    )
    per_s = len(rows) / span if span > 0 else float("nan")
    return {
        "phase": phase,
        "items": expected,
        "stored": len(rows),
        "items_per_s": per_s,
        "span_s": span,
        "p50_ms": pct(lat, 50),
        "p99_ms": pct(lat, 99),
        "ratio_to_bare": per_s / bare if bare else None,
    }


def say(msg: str) -> None:
    print(f"bench-text: {msg}", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items", type=int, default=None, help="sustained phase (default: 60 s at bare rate)"
    )
    parser.add_argument("--max-items", type=int, default=10_000, help="cap on the default N")
    parser.add_argument("--bare-items", type=int, default=640, help="per bare measurement")
    parser.add_argument("--rate-share", type=float, default=0.5, help="latency rate ÷ bare")
    parser.add_argument("--seconds", type=float, default=30.0, help="per latency phase")
    parser.add_argument("--out", type=Path, default=Path("bench/results/text_stage.json"))
    parser.add_argument(
        "--speed-items", type=int, default=1024, help="texts for model vs raw MiniLM"
    )
    parser.add_argument(
        "--speed-only", action="store_true", help="only the model vs raw MiniLM comparison"
    )
    args = parser.parse_args()
    if args.speed_only:
        from gova.settings import get_settings

        speed(get_settings().text_batch_size, args.speed_items)
        return 0

    began = time.monotonic()
    os.environ["GOVA_DATA_DIR"] = tempfile.mkdtemp(prefix="gova-bench-text-", dir="/tmp")
    os.environ.setdefault("GOVA_RATE_LIMIT_BURST", "1000000")
    from gova.models import load_text_classifier
    from gova.runners.up import DEMO_LABEL, DEMO_TENANT, Stack, create_key
    from gova.settings import get_settings

    settings = get_settings()
    batch = settings.text_batch_size
    dsn, broker = settings.database(), settings.broker()
    configured_env = os.environ.get("GOVA_TEXT_BATCH_SIZE")
    load_start = load()
    say(f"load average at start: {load_start} ({os.cpu_count()} cores)")
    say("[0/5] whole text model vs one raw MiniLM int8 pass (true lengths), same texts ...")
    speeds = speed(batch, args.speed_items)
    say(f"starting a private stack in {settings.data_dir}")
    stack = Stack(settings)
    phases: list[dict] = []
    models: dict[str, object] = {}
    try:
        stack.start_infra()
        stack.prepare()
        asyncio.run(create_key(dsn, DEMO_TENANT, DEMO_LABEL))
        say(f"starting the worker (text batch {batch}, within {settings.text_batch_within_s} s)")
        stack.start_worker()

        # 1. bare, before
        models["bare_before"] = load_text_classifier().name
        n_bare = min(args.bare_items, args.items) if args.items else args.bare_items
        n_bare = max(n_bare, batch)
        say(
            f"[1/5] bare model {models['bare_before']}: {n_bare} items in batches of {batch},"
            " stack idle ..."
        )
        bare_before = bare_classifier(n_bare, batch)
        say(f"[1/5] bare model: {bare_before:.1f} items/s")

        # 2. sustained
        n = args.items or min(args.max_items, max(batch, math.ceil(60 * bare_before)))
        run = f"tsus{uuid.uuid4().hex[:8]}"
        say(
            f"[2/5] sustained: {n} items onto content.raw at once"
            f" (~{n / bare_before:.0f} s at the bare rate) ..."
        )
        produced = asyncio.run(produce_directly(broker, DEMO_TENANT, n, run))
        say(f"[2/5]   produced in {produced['sent_s']:.1f} s; waiting for verdicts ...")
        rows = asyncio.run(
            collect(dsn, DEMO_TENANT, run, n, timeout=max(120.0, 4 * n / bare_before))
        )
        models["worker"] = asyncio.run(evaluators(dsn, DEMO_TENANT, run))
        sustained = summarise("sustained (N at once)", rows, n)
        phases.append(sustained)
        say(
            f"[2/5]   stored {len(rows)}/{n} in {sustained['span_s']:.1f} s:"
            f" {sustained['items_per_s']:.1f} items/s (worker model {models['worker']})"
        )

        # 3./4. latency at a fixed rate, batched then unbatched
        rate = args.rate_share * bare_before
        latency: dict[str, dict] = {}
        for step, label, size in ((3, "batched", batch), (4, "unbatched", 1)):
            if size != batch:
                say(f"[{step}/5] restarting the worker with GOVA_TEXT_BATCH_SIZE={size} ...")
                stack.stop("worker")
                os.environ["GOVA_TEXT_BATCH_SIZE"] = str(size)
                stack.start_worker()
            warm = f"twarm{uuid.uuid4().hex[:8]}"
            warm_n = asyncio.run(produce_paced(broker, DEMO_TENANT, warm, rate, 2.0))
            asyncio.run(collect(dsn, DEMO_TENANT, warm, warm_n, timeout=60))
            run = f"tlat{uuid.uuid4().hex[:8]}"
            say(
                f"[{step}/5] latency, {label} (text batch {size}): {rate:.1f} items/s evenly"
                f" spaced for {args.seconds:.0f} s ..."
            )
            sent = asyncio.run(produce_paced(broker, DEMO_TENANT, run, rate, args.seconds))
            rows = asyncio.run(
                collect(dsn, DEMO_TENANT, run, sent, timeout=max(120.0, 4 * sent / bare_before))
            )
            res = summarise(f"latency, {label} (batch {size}) at {rate:.1f}/s", rows, sent)
            res["text_batch_size"] = size
            res["offered_per_s"] = rate
            latency[label] = res
            phases.append(res)
            say(
                f"[{step}/5]   stored {len(rows)}/{sent}, {res['items_per_s']:.1f} items/s,"
                f" p50 {res['p50_ms']:.0f} ms, p99 {res['p99_ms']:.0f} ms"
            )

        # 5. bare, after
        models["bare_after"] = load_text_classifier().name
        say(f"[5/5] bare model {models['bare_after']} again, stack idle ...")
        bare_after = bare_classifier(n_bare, batch)
        say(f"[5/5] bare model: {bare_after:.1f} items/s")
    finally:
        say("stopping the stack")
        stack.stop_all()
        if configured_env is None:
            os.environ.pop("GOVA_TEXT_BATCH_SIZE", None)
        else:
            os.environ["GOVA_TEXT_BATCH_SIZE"] = configured_env

    bare = (bare_before + bare_after) / 2
    for p in phases:
        p["ratio_to_bare"] = p["items_per_s"] / bare
    ratio = sustained["items_per_s"] / bare
    b, u = latency["batched"], latency["unbatched"]
    adds = b["p99_ms"] - u["p99_ms"]
    elapsed = time.monotonic() - began
    load_end = load()

    print("\n| phase | items | items/s | p50 ms | p99 ms | ratio to bare |")
    print("|---|---|---|---|---|---|")
    print(f"| bare model, before (batch {batch}) | {n_bare} | {bare_before:.1f} | | | |")
    print(f"| bare model, after (batch {batch}) | {n_bare} | {bare_after:.1f} | | | |")
    print(f"| bare model, mean (baseline) | | {bare:.1f} | | | 1.00 |")
    for p in phases:
        print(
            f"| {p['phase']} | {p['stored']}/{p['items']} | {p['items_per_s']:.1f} |"
            f" {p['p50_ms']:.0f} | {p['p99_ms']:.0f} | {p['ratio_to_bare']:.2f} |"
        )
    print(
        f"\ntext stage sustains {ratio:.0%} of the bare model"
        f" ({sustained['items_per_s']:.1f} vs {bare:.1f} items/s, {n} items; goal ≥ 80%)"
    )
    print(
        f"micro-batching adds {adds:+.0f} ms p99 (batched p99 {b['p99_ms']:.0f} ms vs unbatched"
        f" {u['p99_ms']:.0f} ms at {rate:.1f} items/s; goal ≤ 50 ms)"
    )
    print(
        f"model: bare {models['bare_before']} / {models['bare_after']}, worker"
        f" {', '.join(models['worker']) or '?'}; load average {load_start} → {load_end};"
        f" run took {elapsed:.0f} s"
    )
    result = {
        "model_vs_encoder": speeds,
        "model": models,
        "text_batch_size": batch,
        "text_batch_within_s": settings.text_batch_within_s,
        "bare_items": n_bare,
        "bare_before_per_s": bare_before,
        "bare_after_per_s": bare_after,
        "bare_per_s": bare,
        "sustained_items": n,
        "sustained_ratio": ratio,
        "latency_rate_per_s": rate,
        "latency_seconds": args.seconds,
        "p99_batched_ms": b["p99_ms"],
        "p99_unbatched_ms": u["p99_ms"],
        "batching_adds_p99_ms": adds,
        "phases": phases,
        "load_average": {"start": load_start, "end": load_end},
        "cpu_count": os.cpu_count(),
        "elapsed_s": elapsed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
