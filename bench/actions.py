"""Actions executed per second against a fake Discord, and the latency from an automatic
moderator's verdict to its action done, beside the fake's raw request rate.

    make bench-actions              # or: .venv/bin/python -m bench.actions [--items 600]
                                    #     [--rate-share 0.5 | --rate R] [--seconds 15]

Starts the fake Discord of tests/fakes (in this process, on a free port) and a private stack
in a temporary directory (embedded Kafka, PostgreSQL, Redis and one Faust worker whose
executor calls the fake; no API), and stops both afterwards. One automatic Discord moderator,
started by a StartModeratorEvent on moderator.events (what the API publishes), deletes every
flagged message: one DELETE per item. Items go straight onto content.raw, each with its own
insulting text, author and message id, so neither the score cache nor the per-author rate
limit shortens the path. Phases, all in one run:

1. baseline: the fake's raw rate for the executor's request (DELETE of a message, with the
   bot token and an audit-log reason) from a plain httpx client in a process of its own,
   one request at a time (as the executor sends them: one agent, in order) and 16 in
   flight, with p50/p99 per request; the stack up but idle.
2. backlog: N items at once. Actions executed/s = N ÷ (first → last action executed), beside
   verdicts stored/s for the same items: the lower of the two bounds the other. Every
   action must be EXECUTED with one request to the fake.
3. latency: items evenly spaced at `--rate` (default: half the backlog's actions/s, so the
   executor is not saturated) for `--seconds`, after a few uncounted warm-up items; p50/p99
   from the verdict stored (moderation_results.stored_at) to the action executed (the
   EXECUTED entry of its history: Discord's answer in hand), and from the verdict decided
   (the action's PROPOSED entry) to executed. The verdict is stored by persist while the
   planner runs beside it, so "from stored" can be near zero or negative. Both phases also
   give claimed → executed (EXECUTING → EXECUTED: secret, HTTP call), the executor's share.

All times are the machine's wall clock (one machine). The load average is printed at the
start and end: anything else on the box slows every phase, the baseline included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.run import pct, produce_directly

BOT_TOKEN = "bench-bot-token-for-the-fake-discord"
GUILD = "424242424242"
CHANNEL = "777000000000000001"
MODERATOR = "bench"
INSULTS = ("idiot", "moron", "loser", "clown", "imbecile", "fool", "dimwit", "nitwit")
REASON = "flagged: toxicity 0.99"


def say(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def insults(n: int) -> list[str]:
    return [f"you are a stupid worthless {INSULTS[i % len(INSULTS)]} #{i}" for i in range(n)]


def message_id(i: int) -> str:
    return str(1_300_000_000_000_000_000 + i)


def discord_metadata(offset: int):
    def metadata(i: int) -> dict:
        return {
            "source": "discord",
            "moderator": MODERATOR,
            "guildId": GUILD,
            "channelId": CHANNEL,
            "messageId": message_id(offset + i),
        }

    return metadata


# -- 1. the baseline: a plain client against the fake -------------------------------------


async def _client(base_url: str, seconds: float, concurrency: int) -> dict:
    import httpx

    from gova.integrations.discord import audit_reason

    headers = {"Authorization": f"Bot {BOT_TOKEN}", "X-Audit-Log-Reason": audit_reason(REASON)}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
        start = time.perf_counter()

        async def one_after_another() -> None:
            nonlocal errors
            while time.perf_counter() - start < seconds:
                path = f"/channels/{CHANNEL}/messages/{message_id(10**9 + next(counter))}"
                sent = time.perf_counter()
                response = await client.delete(path)
                latencies.append((time.perf_counter() - sent) * 1000)
                errors += response.status_code != 204

        await asyncio.gather(*(one_after_another() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "errors": errors,
    }


def baseline(base_url: str, seconds: float, concurrency: int) -> dict:
    """The client in a process of its own, as the worker is: no shared interpreter lock."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.actions", "--client", base_url, str(seconds)]
        + [str(concurrency)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the stack side ------------------------------------------------------------------------


async def start_moderator(broker: str, monitor_url: str, tenant: str) -> None:
    """Publish the moderator's start (with its config) and wait until the worker runs it."""
    import httpx
    from aiokafka import AIOKafkaProducer

    from gova.schemas.actions import ModeratorConfig, ModeratorEvent
    from gova.streams import MODERATOR_EVENTS

    config = ModeratorConfig(
        platform="discord",
        discord={"guild_id": GUILD},
        ladder=[{"strikes": 1, "actions": [{"type": "DELETE"}]}],
    )
    event = ModeratorEvent(
        type="StartModeratorEvent",
        tenant_id=tenant,
        moderator=MODERATOR,
        config=config,
        at=time.time(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        await producer.send_and_wait(
            MODERATOR_EVENTS.name,
            event.model_dump_json().encode(),
            key=event.moderator_key.encode(),
        )
    finally:
        await producer.stop()
    url = f"{monitor_url}/table/moderators/{event.moderator_key}/"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            answer = await client.get(url)
            if answer.status_code == 200 and (answer.json() or {}).get("running") is True:
                return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the worker did not run moderator {MODERATOR!r} within 60 s")


def acted_on(
    broker: str, dsn: str, prefix: str, n: int, offset: int, *, timeout: float, rate=None
) -> list[dict]:
    """`n` insults as Discord messages (ids from `offset` on) put on content.raw, at once or
    at `rate` items/s, then waited for until every acting one's action has settled."""
    from gova.runners.up import DEMO_TENANT

    run = f"{prefix}{uuid.uuid4().hex[:8]}"
    asyncio.run(
        produce_directly(
            broker,
            DEMO_TENANT,
            n,
            run,
            rate=rate,
            corpus=insults(n),
            metadata=discord_metadata(offset),
        )
    )
    return asyncio.run(settled(dsn, DEMO_TENANT, run, n, timeout=timeout))


async def settled(dsn: str, tenant: str, run: str, n: int, timeout: float) -> list[dict]:
    """Once all `n` verdicts of `run` are stored and every acting one's action has settled:
    per item, its decision, when its verdict was stored, and its actions."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await conn.fetch(
                "SELECT r.content_id, r.decision, extract(epoch FROM r.stored_at) AS stored,"
                " a.status, a.history::text AS history FROM moderation_results r"
                " LEFT JOIN actions a ON a.tenant_id = r.tenant_id"
                " AND a.content_id = r.content_id"
                " WHERE r.tenant_id = $1 AND r.content_id LIKE $2 || '-%'",
                tenant,
                run,
            )
            acting = [r for r in rows if r["decision"] == "act"]
            done = [r for r in acting if r["status"] in ("EXECUTED", "FAILED")]
            if len(rows) >= n and len(done) == len(acting):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{run}: {len(rows)}/{n} verdicts stored, {len(done)}/{len(acting)} acting"
                    f" ones' actions settled within {timeout:.0f} s"
                )
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    out = []
    for r in rows:
        history = json.loads(r["history"]) if r["history"] else []
        at = {h["status"]: h["at"] for h in history}
        out.append(
            {
                "content_id": r["content_id"],
                "decision": r["decision"],
                "stored": float(r["stored"]),
                "status": r["status"],
                "proposed": at.get("PROPOSED"),
                "executing": at.get("EXECUTING"),
                "executed": at.get("EXECUTED"),
            }
        )
    return out


def summarise(label: str, items: list[dict]) -> dict:
    acted = [i for i in items if i["status"] is not None]
    executed = [i for i in acted if i["status"] == "EXECUTED"]
    done_at = sorted(i["executed"] for i in executed)
    stored_at = sorted(i["stored"] for i in items)
    span = done_at[-1] - done_at[0] if len(done_at) > 1 else float("nan")
    stored_span = stored_at[-1] - stored_at[0] if len(stored_at) > 1 else float("nan")
    return {
        "phase": label,
        "items": len(items),
        "acting": len(acted),
        "executed": len(executed),
        "failed": len(acted) - len(executed),
        "executed_per_s": (len(done_at) - 1) / span if span > 0 else float("nan"),
        "stored_per_s": (len(stored_at) - 1) / stored_span if stored_span > 0 else float("nan"),
        "from_stored_p50_ms": pct([(i["executed"] - i["stored"]) * 1000 for i in executed], 50),
        "from_stored_p99_ms": pct([(i["executed"] - i["stored"]) * 1000 for i in executed], 99),
        "from_decided_p50_ms": pct([(i["executed"] - i["proposed"]) * 1000 for i in executed], 50),
        "from_decided_p99_ms": pct([(i["executed"] - i["proposed"]) * 1000 for i in executed], 99),
        # The executor's own share: claimed (EXECUTING) → Discord answered (EXECUTED).
        "call_p50_ms": pct([(i["executed"] - i["executing"]) * 1000 for i in executed], 50),
        "call_p99_ms": pct([(i["executed"] - i["executing"]) * 1000 for i in executed], 99),
    }


def calls_per_action(discord, first: int, n: int) -> dict[int, int]:
    """How many items got how many DELETE requests (one each is right)."""
    wanted = {f"/api/v10/channels/{CHANNEL}/messages/{message_id(first + i)}" for i in range(n)}
    seen: dict[str, int] = {}
    for r in discord.requests:
        if r.path in wanted and r.route == "delete_message":
            seen[r.path] = seen.get(r.path, 0) + 1
    histogram: dict[int, int] = {}
    for count in seen.values():
        histogram[count] = histogram.get(count, 0) + 1
    return histogram


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600, help="the backlog phase's items")
    parser.add_argument(
        "--rate", type=float, help="latency phase, items/s (default: --rate-share x backlog's)"
    )
    parser.add_argument("--rate-share", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=15.0, help="latency phase length")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/actions.json"))
    parser.add_argument("--client", nargs=3, metavar=("URL", "SECONDS", "CONCURRENCY"))
    args = parser.parse_args()
    if args.client:  # the baseline's client process
        url, seconds, concurrency = args.client
        print(json.dumps(asyncio.run(_client(url, float(seconds), int(concurrency)))))
        return 0

    from tests.fakes.discord_server import FakeDiscord

    began = time.monotonic()
    say(f"load average at start: {load()} ({os.cpu_count()} cores)")
    discord = FakeDiscord(token=BOT_TOKEN).start()
    os.environ.update(
        GOVA_DATA_DIR=tempfile.mkdtemp(prefix="gova-bench-actions-", dir="/tmp"),
        GOVA_RATE_LIMIT_BURST="1000000",
        GOVA_DISCORD_API_BASE=discord.base_url,
        DISCORD_BOT_TOKEN=BOT_TOKEN,
        GOVA_MONITOR_PORT=str(free_port()),
        GOVA_EMBEDDED_KAFKA_PORT=str(free_port()),
        GOVA_EMBEDDED_REDIS_PORT=str(free_port()),
    )
    from gova.runners.up import DEMO_LABEL, DEMO_TENANT, Stack, create_key
    from gova.settings import get_settings

    settings = get_settings()
    dsn, broker = settings.database(), settings.broker()
    stack = Stack(settings)
    say(f"fake Discord at {discord.base_url}; starting a private stack in {settings.data_dir}")
    try:
        stack.start_infra()
        stack.prepare()
        asyncio.run(create_key(dsn, DEMO_TENANT, DEMO_LABEL))
        stack.start_worker()
        asyncio.run(start_moderator(broker, stack.monitor_url, DEMO_TENANT))

        say(f"[1/3] baseline: a plain client against the fake, {args.baseline_seconds:g} s each")
        base = [baseline(discord.base_url, args.baseline_seconds, c) for c in (1, 16)]
        for b in base:
            say(
                f"[1/3]   {b['concurrency']:>2} in flight: {b['requests_per_s']:.0f} requests/s,"
                f" p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms, errors {b['errors']}"
            )

        offset = 0
        say(f"[2/3] backlog: {args.items} items onto content.raw at once ...")
        items = acted_on(broker, dsn, "abl", args.items, offset, timeout=300)
        backlog = summarise("backlog", items)
        backlog["calls_per_action"] = calls_per_action(discord, offset, args.items)
        offset += args.items
        say(
            f"[2/3]   {backlog['executed']}/{backlog['acting']} actions executed"
            f" ({backlog['failed']} failed; items with 1 request each:"
            f" {backlog['calls_per_action'].get(1, 0)}, with more:"
            f" {sum(v for k, v in backlog['calls_per_action'].items() if k > 1)}):"
            f" {backlog['executed_per_s']:.1f} actions/s; verdicts stored"
            f" {backlog['stored_per_s']:.1f}/s"
        )

        rate = args.rate or round(args.rate_share * backlog["executed_per_s"], 1)
        warm_n = max(1, int(rate * 2))
        acted_on(broker, dsn, "awarm", warm_n, offset, rate=rate, timeout=120)
        offset += warm_n
        n = int(rate * args.seconds)
        say(f"[3/3] latency: {n} items at {rate:g}/s evenly over {args.seconds:g} s ...")
        items = acted_on(broker, dsn, "alat", n, offset, rate=rate, timeout=120)
        latency = summarise(f"latency at {rate:g}/s", items)
        latency["calls_per_action"] = calls_per_action(discord, offset, n)
        say(
            f"[3/3]   verdict stored → executed: p50 {latency['from_stored_p50_ms']:.0f} ms,"
            f" p99 {latency['from_stored_p99_ms']:.0f} ms; decided → executed:"
            f" p50 {latency['from_decided_p50_ms']:.0f} ms,"
            f" p99 {latency['from_decided_p99_ms']:.0f} ms"
            f" ({latency['executed']}/{latency['acting']} executed)"
        )
    finally:
        stack.stop_all()
        discord.stop()

    print(
        "\n| phase | items | executed | actions/s | verdicts stored/s | stored→executed"
        " p50 / p99 ms | decided→executed p50 / p99 ms | claimed→executed p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for p in (backlog, latency):
        print(
            f"| {p['phase']} | {p['items']} | {p['executed']}/{p['acting']} |"
            f" {p['executed_per_s']:.1f} | {p['stored_per_s']:.1f} |"
            f" {p['from_stored_p50_ms']:.0f} / {p['from_stored_p99_ms']:.0f} |"
            f" {p['from_decided_p50_ms']:.0f} / {p['from_decided_p99_ms']:.0f} |"
            f" {p['call_p50_ms']:.1f} / {p['call_p99_ms']:.1f} |"
        )
    print("\n| baseline: plain client → fake Discord | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for b in base:
        print(
            f"| {b['concurrency']} in flight | {b['requests_per_s']:.0f} |"
            f" {b['p50_ms']:.1f} | {b['p99_ms']:.1f} |"
        )
    say(f"load average at end: {load()}; {time.monotonic() - began:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"baseline": base, "phases": [backlog, latency]}, indent=2, default=str)
    )
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
