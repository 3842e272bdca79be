"""Throughput and latency of the running stack, beside the bare classifier's batch throughput.

    make bench                      # or: .venv/bin/python -m bench.run [--rates 100 500 max]

Uses the stack described by `.gova/run.json` when `make up` is running; otherwise starts a
private one in a temporary directory (and stops it afterwards). For each rate it POSTs
single items to /api/v1/moderate (no wait) for `--seconds`, then reads from PostgreSQL when
each verdict was stored: latency is accept → verdict stored. The `direct` phase puts items
straight onto content.raw (as the API does), to show the worker's capacity without the API
and the load generator competing for the same cores. Each item has its own text and
author, so neither the score cache nor the rate limit shortens the path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp

WORDS = (  # noqa: SIM905 - a sentence is easier to read than a list of 45 strings
    "the a you we they game match server channel stream idiot great awful love hate play "
    "team win lose stupid nice thanks help please report spam hello friend moderator rules "
    "tonight tomorrow build patch update bug crash fix lag ping vote kick ban mute join"
).split()


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(5, 25))) + f" #{i}" for i in range(n)]


def bare_classifier(n: int, batch: int) -> float:
    """Items/s of the classifier alone, batched as the text stage batches."""
    from gova.models import load_text_classifier

    clf = load_text_classifier()
    corpus = texts(n, seed=1)
    clf.classify(corpus[:batch])  # warm up
    start = time.perf_counter()
    for i in range(0, n, batch):
        clf.classify(corpus[i : i + batch])
    return n / (time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


async def drive(api: str, key: str, rate: float | None, seconds: float, run: str) -> dict:
    """POST for `seconds` at `rate` items/s (None: as fast as 64 connections go)."""
    headers = {"Authorization": f"Bearer {key}"}
    ids: list[str] = []
    errors: dict[str, int] = {}
    corpus = texts(int((rate or 3000) * seconds) + 1000, seed=hash(run) & 0xFFFF)
    # aiohttp: the load generator shares 2 cores with the stack, and costs far less CPU per
    # request than httpx's async pool at this concurrency.
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        api, headers=headers, connector=connector, timeout=timeout
    ) as client:

        async def send(i: int) -> None:
            cid = f"{run}-{i}"
            body = {
                "id": cid,
                "userId": f"{run}-u{i}",
                "contentType": "text",
                "content": corpus[i % len(corpus)],
            }
            try:
                async with client.post("/api/v1/moderate", json=body) as r:
                    await r.read()
                    if r.status == 202:
                        ids.append(cid)
                    else:
                        errors[str(r.status)] = errors.get(str(r.status), 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        start = time.perf_counter()
        if rate is None:
            counter = iter(range(10**9))

            async def worker() -> None:
                while time.perf_counter() - start < seconds:
                    await send(next(counter))

            await asyncio.gather(*(worker() for _ in range(64)))
        else:
            tasks, i = [], 0
            while (now := time.perf_counter() - start) < seconds:
                due = int(now * rate) + 1
                while i < due:
                    tasks.append(asyncio.create_task(send(i)))
                    i += 1
                await asyncio.sleep(min(0.005, 1 / rate))
            await asyncio.gather(*tasks)
        sent_s = time.perf_counter() - start
    return {"ids": ids, "errors": errors, "sent_s": sent_s}


async def collect(dsn: str, tenant: str, run: str, expected: int, timeout: float = 120) -> list:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await conn.fetch(
                "SELECT received_at, stored_at FROM moderation_results"
                " WHERE tenant_id = $1 AND content_id LIKE $2 || '-%'",
                tenant,
                run,
            )
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def produce_directly(
    broker: str,
    tenant: str,
    n: int,
    run: str,
    rate: float | None = None,
    corpus: list[str] | None = None,
    metadata: Callable[[int], dict] | None = None,
) -> dict:
    """Put `n` submissions on content.raw, as the API would: the worker alone. All at once,
    or evenly spaced at `rate` items/s; `metadata(i)` is item i's metadata, if given."""
    from aiokafka import AIOKafkaProducer

    from gova.models.text import deployment_thresholds
    from gova.schemas import ContentEvent, Policy, Submission
    from gova.settings import get_settings

    settings = get_settings()  # the policy the API would attach
    policy = Policy(
        thresholds=deployment_thresholds(settings), review_band=settings.default_review_band
    )
    corpus = corpus or texts(n, seed=7)
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=5)
    await producer.start()
    start = time.perf_counter()
    try:
        sends = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter() if rate else 0
            if delay > 0:
                await asyncio.sleep(delay)
            sub = Submission(
                tenant_id=tenant,
                event=ContentEvent(
                    id=f"{run}-{i}",
                    userId=f"{run}-u{i}",
                    contentType="text",
                    content=corpus[i],
                    metadata=metadata(i) if metadata else {},
                ),
                received_at=time.time(),
                policy=policy,
            )
            raw = sub.model_dump_json(by_alias=True).encode()
            sends.append(await producer.send("content.raw", raw, key=sub.key.encode()))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return {
        "ids": [f"{run}-{i}" for i in range(n)],
        "errors": {},
        "sent_s": time.perf_counter() - start,
    }


async def measure(
    api: str, key: str, dsn: str, tenant: str, target: str, seconds: float, direct_items: int
) -> dict:
    run = f"bench{uuid.uuid4().hex[:8]}"
    if target == "direct":
        from gova.settings import get_settings

        sent = await produce_directly(get_settings().broker(), tenant, direct_items, run)
    else:
        rate = None if target == "max" else float(target)
        sent = await drive(api, key, rate, seconds, run)
    rows = await collect(dsn, tenant, run, len(sent["ids"]))
    lat = [(r["stored_at"] - r["received_at"]).total_seconds() * 1000 for r in rows]
    span = (max(r["stored_at"] for r in rows) - min(r["received_at"] for r in rows)).total_seconds()
    return {
        "target": target,
        "accepted": len(sent["ids"]),
        "stored": len(rows),
        "accepted_per_s": len(sent["ids"]) / sent["sent_s"],
        "stored_per_s": len(rows) / span if span > 0 else float("nan"),
        "p50_ms": pct(lat, 50),
        "p99_ms": pct(lat, 99),
        "errors": sent["errors"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates",
        nargs="+",
        default=["100", "500", "max", "direct"],
        help="items/s over HTTP, 'max', or 'direct' (straight onto content.raw: the worker alone)",
    )
    parser.add_argument("--direct-items", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--bare-items", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args()

    private = None
    run_file = Path(os.environ.get("GOVA_DATA_DIR", ".gova")) / "run.json"
    if not run_file.exists():
        os.environ["GOVA_DATA_DIR"] = tempfile.mkdtemp(prefix="gova-bench-", dir="/tmp")
        # Fixed-rate phases must measure latency, not the per-author limit.
        os.environ.setdefault("GOVA_RATE_LIMIT_BURST", "1000000")
    from gova.runners.up import DEMO_LABEL, DEMO_TENANT, Stack, create_key
    from gova.settings import get_settings

    settings = get_settings()
    if run_file.exists():
        run = json.loads(run_file.read_text())
        api, key = run["api_url"], run["api_key"]
        print(f"bench: using the running stack at {api}")
    else:
        print("bench: no running stack (.gova/run.json); starting a private one", flush=True)
        private = Stack(settings)
        private.start_infra()
        private.prepare()
        key = asyncio.run(create_key(settings.database(), DEMO_TENANT, DEMO_LABEL))
        private.start_worker()
        private.start_api()
        api = private.api_url
    try:
        print(
            f"bench: bare classifier, {args.bare_items} items in batches of "
            f"{settings.text_batch_size} ...",
            flush=True,
        )
        bare = bare_classifier(args.bare_items, settings.text_batch_size)
        print(f"bench: bare classifier: {bare:,.0f} items/s")
        results = []
        for r in args.rates:
            what = (
                f"{args.direct_items} items straight onto content.raw"
                if r == "direct"
                else f"{r} items/s over HTTP for {args.seconds:.0f}s"
            )
            print(f"bench: driving {what} ...", flush=True)
            res = asyncio.run(
                measure(
                    api, key, settings.database(), DEMO_TENANT, r, args.seconds, args.direct_items
                )
            )
            results.append(res)
            print(
                f"bench:   accepted {res['accepted_per_s']:.0f}/s, stored "
                f"{res['stored_per_s']:.0f}/s, p50 {res['p50_ms']:.0f} ms, p99 "
                f"{res['p99_ms']:.0f} ms, errors {res['errors'] or 'none'}"
            )
    finally:
        if private:
            private.stop_all()

    print("\n| target items/s | accepted/s | stored/s | p50 ms | p99 ms | stored/s ÷ bare |")
    print("|---|---|---|---|---|---|")
    for res in results:
        print(
            f"| {res['target']} | {res['accepted_per_s']:.0f} | {res['stored_per_s']:.0f} | "
            f"{res['p50_ms']:.0f} | {res['p99_ms']:.0f} | {res['stored_per_s'] / bare:.4f} |"
        )
    print(f"\nbare classifier (batch {settings.text_batch_size}): {bare:,.0f} items/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"bare_items_per_s": bare, "phases": results}, indent=2))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
