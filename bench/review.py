"""Latency the LLM review stage adds, and tokens per review, against a local server.

    .venv/bin/python -m bench.review [--items 200] [--rate 20]

Starts a private stack and the tests' local OpenAI-compatible server (it answers at once, so
what is measured is Gova's own cost: the extra hop, the prompt, instructor and HTTP). Two
tenants send the same items at the same rate: one with review off (empty band), one with
every item reviewed (band 0,1). Latency is accept → verdict stored, read from PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile

from bench.run import collect, drive, pct

# A new worker's first reviews set up the HTTP client and instructor's schema (seconds):
# sent and waited for first, so the figures are the steady state.
WARM_UP = 40


async def configure(api: str, key: str, *, fake_url: str | None) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as c:
        if fake_url:
            await c.put("/api/v1/llm", json={"base_url": fake_url, "model": "bench-model"})
            await c.put(
                "/api/v1/moderators/default",
                json={
                    "guidelines": "G1: Be kind; no insults.\nG2: No spam.",
                    "server_summary": "A gaming community.",
                },
            )
        band = [0.0, 1.0] if fake_url else [0.0, 0.0]
        r = await c.put("/api/v1/policy", json={"review_band": band})
        r.raise_for_status()


async def phase(api: str, key: str, dsn: str, tenant: str, rate: float, items: int) -> list:
    run = f"rv{os.urandom(4).hex()}"
    sent = await drive(api, key, rate, items / rate, run)
    rows = sorted(await collect(dsn, tenant, run, len(sent["ids"])), key=lambda r: r["received_at"])
    return [(r["stored_at"] - r["received_at"]).total_seconds() * 1000 for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    os.environ["GOVA_DATA_DIR"] = tempfile.mkdtemp(prefix="gova-bench-review-", dir="/tmp")
    os.environ.setdefault("GOVA_RATE_LIMIT_BURST", "1000000")
    os.environ.setdefault("GOVA_REVIEW_CONFIG_TTL_S", "0.5")
    from gova.runners.up import Stack, create_key
    from gova.settings import get_settings
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.scripted_moderator import moderator_model

    settings = get_settings()
    stack = Stack(settings)
    with FakeOpenAI(moderator_model) as fake:
        try:
            print("bench: starting a private stack", flush=True)
            stack.start_infra()
            stack.prepare()
            dsn = settings.database()
            plain = asyncio.run(create_key(dsn, "plain"))
            reviewed = asyncio.run(create_key(dsn, "reviewed"))
            stack.start_worker()
            stack.start_api()
            asyncio.run(configure(stack.api_url, plain, fake_url=None))
            asyncio.run(configure(stack.api_url, reviewed, fake_url=fake.base_url))
            results = {}
            for tenant, key in (("plain", plain), ("reviewed", reviewed)):
                print(f"bench: warming up {tenant} ({WARM_UP} items)", flush=True)
                asyncio.run(phase(stack.api_url, key, dsn, tenant, args.rate, WARM_UP))
            for tenant, key in (("plain", plain), ("reviewed", reviewed)):
                print(f"bench: {args.items} items at {args.rate}/s, {tenant} ...", flush=True)
                results[tenant] = asyncio.run(
                    phase(stack.api_url, key, dsn, tenant, args.rate, args.items)
                )
            tokens = asyncio.run(review_tokens(dsn))
        finally:
            stack.stop_all()
    base, rev = results["plain"], results["reviewed"]
    print("\n| tenant | items | p50 ms | p99 ms |\n|---|---|---|---|")
    for name, lat in results.items():
        print(f"| {name} | {len(lat)} | {pct(lat, 50):.0f} | {pct(lat, 99):.0f} |")
    slowest = sorted(range(len(rev)), key=rev.__getitem__)[-3:]
    print(
        "slowest reviewed items (position in send order: ms):",
        ", ".join(f"{i}: {rev[i]:.0f}" for i in slowest),
    )
    print(
        f"\nadded by review: p50 {pct(rev, 50) - pct(base, 50):+.0f} ms, "
        f"p99 {pct(rev, 99) - pct(base, 99):+.0f} ms"
    )
    print(
        f"reviews stored: {len(tokens)}; tokens per review (the local server counts words): "
        f"mean {statistics.mean(tokens):.0f}, p50 {pct(tokens, 50):.0f}, "
        f"p99 {pct(tokens, 99):.0f}"
    )
    return 0


async def review_tokens(dsn: str) -> list[float]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT tokens FROM evaluation_events WHERE tenant_id = 'reviewed' AND stage = 'review'"
        )
    finally:
        await conn.close()
    return [float(r["tokens"]) for r in rows]


if __name__ == "__main__":
    raise SystemExit(main())
