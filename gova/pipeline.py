"""The Faust app and the `gova` command line.

`faust -A gova.pipeline worker` and `gova worker` run every agent and table plus Faust's web
monitor; `gova up` starts the whole stack on embedded infrastructure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import faust

from gova import streams
from gova.settings import get_settings
from gova.streams import tansu_fixes

settings = get_settings()

_extra: dict = {}
if settings.tansu_workarounds:
    tansu_fixes.apply(settings.broker())
    _extra.update(tansu_fixes.FAUST_SETTINGS)

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.broker()}",
    store="memory://",
    datadir=str(settings.data_dir / "faust" / settings.worker_name),
    topic_partitions=settings.partitions,
    topic_allow_declare=True,
    key_serializer="raw",
    value_serializer="raw",
    web_host=settings.api_host,
    web_port=settings.monitor_port,
    web_stats_enabled=True,
    consumer_auto_offset_reset="earliest",
    processing_guarantee="at_least_once",
    producer_linger=settings.producer_linger_s,
    **_extra,
)

topics: dict[str, faust.TopicT] = {
    spec.name: app.topic(
        spec.name,
        partitions=spec.partition_count(),
        retention=spec.retention_ms / 1000 if spec.retention_ms > 0 else None,
        compacting=spec.compacted,
        key_type=bytes,
        value_type=bytes,
    )
    for spec in streams.ALL_TOPICS
}

# Register agents and tables with the app (they import `app` from here).
from gova import agents  # noqa: E402,F401


@app.page("/gova/ready/")
async def ready(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
    """200 once tables are recovered and models loaded (what `gova up` waits for), with the
    partitions this worker holds."""
    from gova.agents.text_classifier import classifier_loaded

    ok = app.tables.recovery.completed.is_set() and not app.rebalancing and classifier_loaded()
    assigned: dict[str, list[int]] = {}
    if ok:
        for tp in app.consumer.assignment():
            assigned.setdefault(tp.topic, []).append(tp.partition)
    body = {"ready": ok, "assigned": {t: sorted(p) for t, p in sorted(assigned.items())}}
    return web.json(body, status=200 if ok else 503)


# --- command line -----------------------------------------------------------------------


def _ensure_topics() -> None:
    """Create missing topics with their declared partitions before anything produces."""
    created = asyncio.run(streams.ensure_topics(settings.broker()))
    if created:
        print(f"gova: topics created: {', '.join(created)}", flush=True)


def _cmd_worker(args: argparse.Namespace, rest: list[str]) -> int:
    _ensure_topics()
    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    sys.argv = ["gova", "worker", "-l", args.loglevel, *rest]
    app.main()
    return 0


def _cmd_api(args: argparse.Namespace, rest: list[str]) -> int:
    from gova.api.server import serve

    _ensure_topics()
    serve()
    return 0


def _cmd_up(args: argparse.Namespace, rest: list[str]) -> int:
    from gova.runners.up import up

    return up()


def _cmd_migrate(args: argparse.Namespace, rest: list[str]) -> int:
    from gova.runners.up import run_migrations

    applied = asyncio.run(run_migrations(settings.database()))
    print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
    return 0


def _cmd_apikey_create(args: argparse.Namespace, rest: list[str]) -> int:
    from gova.runners.up import create_key

    key = asyncio.run(create_key(settings.database(), args.tenant, args.label))
    print(key)
    print(f"(tenant {args.tenant}: store this key now, it is not shown again)", file=sys.stderr)
    return 0


def _cmd_review(args: argparse.Namespace, rest: list[str]) -> int:
    from gova.agents.review import dry_run

    if not args.dry_run:
        print("gova review: only --dry-run is supported (it prints the prompt)", file=sys.stderr)
        return 2
    shown = asyncio.run(dry_run(args.tenant, args.moderator, args.text, args.author, args.context))
    print(
        f"# stage: {shown['stage']}  model: {shown['model']}  base_url: {shown['base_url']}"
        f"  prompt: {shown['prompt_version']}"
    )
    for message in shown["messages"]:
        print(f"\n===== {message['role']} =====\n{message['content']}")
    return 0


def _cmd_train_text(args: argparse.Namespace, rest: list[str]) -> int:
    from pathlib import Path

    from gova.training.text import train

    try:
        train(
            args.data,
            Path(args.out),
            cache=Path(args.cache) if args.cache else None,
            seeds=not args.no_seeds,
            c=args.c,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"gova train text: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_eval_text(args: argparse.Namespace, rest: list[str]) -> int:
    from gova.training.evaluate import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gova", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start Gova on embedded defaults").set_defaults(func=_cmd_up)
    worker = sub.add_parser("worker", help="run the Faust worker (agents, tables, monitor)")
    worker.add_argument("-l", "--loglevel", default="info")
    worker.set_defaults(func=_cmd_worker)
    sub.add_parser("api", help="run the HTTP API").set_defaults(func=_cmd_api)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_cmd_migrate)
    apikey = sub.add_parser("apikey", help="manage API keys")
    apikey_sub = apikey.add_subparsers(dest="apikey_command", required=True)
    create = apikey_sub.add_parser("create", help="create an API key for a tenant")
    create.add_argument("--tenant", required=True, help="tenant id (created if new)")
    create.add_argument("--label", default="", help="a note to tell keys apart")
    create.set_defaults(func=_cmd_apikey_create)

    review = sub.add_parser("review", help="show the LLM reviewer's prompt for a message")
    review.add_argument("--dry-run", action="store_true", help="print the prompt, send nothing")
    review.add_argument("--tenant", required=True)
    review.add_argument("--moderator", default="default", help="whose guidelines to use")
    review.add_argument("--text", required=True, help="the message to judge")
    review.add_argument("--author", default="author")
    review.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="AUTHOR:TEXT",
        help="an earlier message in the channel (repeat, oldest first)",
    )
    review.set_defaults(func=_cmd_review)

    evaluate = sub.add_parser("eval", help="evaluate a model on labelled data")
    evaluate_sub = evaluate.add_subparsers(dest="eval_command", required=True)
    text = evaluate_sub.add_parser(
        "text",
        help="score labelled JSONL with the text model; write a report, metrics and plots",
    )
    text.add_argument("--data", nargs="+", required=True, metavar="PATH", help="files or folders")
    text.add_argument(
        "--out", default="docs/eval/text", metavar="DIR", help="report folder (docs/eval/text)"
    )
    text.add_argument(
        "--all-rows",
        action="store_true",
        help="evaluate every row, not only held-out ones (for a set nobody trained on)",
    )
    text.add_argument("--limit", type=int, metavar="N", help="at most N rows per data set")
    text.add_argument("--batch", type=int, default=256, metavar="N", help="rows per model call")
    text.add_argument("--model", metavar="DIR", help="a `gova train text` artifact (packaged)")
    text.add_argument(
        "--by-language", action="store_true", help="one line per set and row `lang` field"
    )
    text.add_argument(
        "--cache", metavar="FILE", help="embedding cache shared with `gova train text --cache`"
    )
    text.set_defaults(func=_cmd_eval_text)

    training = sub.add_parser("train", help="train a model on labelled data")
    training_sub = training.add_subparsers(dest="train_command", required=True)
    train_text = training_sub.add_parser(
        "text", help="train the text model's heads on labelled JSONL; write a versioned artifact"
    )
    train_text.add_argument("--data", nargs="+", required=True, metavar="PATH")
    train_text.add_argument(
        "--out", required=True, metavar="DIR", help="artifact folder (GOVA_TEXT_MODEL_DIR)"
    )
    train_text.add_argument(
        "--cache",
        default=".gova/cache/minilm.npz",
        metavar="FILE",
        help="MiniLM embedding cache, so retraining skips the encoders; e5 vectors go beside "
        "it (minilm.e5.npz for minilm.npz) (.gova/cache/minilm.npz)",
    )
    train_text.add_argument("--no-seeds", action="store_true", help="leave out written seeds")
    train_text.add_argument("--c", type=float, default=2.0, help="inverse L2 strength (2.0)")
    train_text.set_defaults(func=_cmd_train_text)

    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "worker":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args.func(args, rest)


if __name__ == "__main__":
    raise SystemExit(main())
