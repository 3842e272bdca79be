"""The `gova` command. Each subcommand imports only what it needs: `gova api`, `gova migrate`
or `gova eval` never build the Faust app (only `gova worker` does)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

import click

from gova.settings import get_settings


@click.group(help="Gova: real-time, self-hosted, policy-aware content moderation.")
def gova() -> None:
    pass


@gova.command(help="Start Gova on embedded defaults (broker, PostgreSQL, Redis, worker, API).")
def up() -> int:
    from gova.runners.up import up as run_up

    return run_up()


@gova.command(
    help="Run the Faust worker (stages, tables, web monitor); extra arguments go to Faust.",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option("-l", "--loglevel", default="info", show_default=True)
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def worker(loglevel: str, faust_args: tuple[str, ...]) -> int:
    from gova.worker.main import run

    run(loglevel, list(faust_args))
    return 0


@gova.command(help="Run the HTTP API.")
def api() -> int:
    from gova.api.server import serve
    from gova.streams.admin import ensure_topics

    asyncio.run(ensure_topics(get_settings().broker()))
    serve()
    return 0


@gova.command(
    "discord-bridge",
    help="Forward messages from the Discord guilds of started moderators (gateway) to Gova.",
)
@click.option("-l", "--loglevel", default="info", show_default=True)
def discord_bridge(loglevel: str) -> int:
    import logging

    from gova.integrations.discord_gateway import serve

    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: connections close on the way out
        asyncio.run(serve(get_settings()))
    return 0


@gova.command(help="Apply database migrations.")
def migrate() -> int:
    from gova.storage.migrations import MigrationError, run_migrations

    try:
        applied = asyncio.run(run_migrations(get_settings().database()))
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
    return 0


@gova.group(help="Manage API keys.")
def apikey() -> None:
    pass


@apikey.command("create", help="Create an API key for a tenant (the tenant too, if new).")
@click.option("--tenant", required=True, help="tenant id (created if new)")
@click.option("--label", default="", help="a note to tell keys apart")
def apikey_create(tenant: str, label: str) -> int:
    from gova.runners.up import create_key

    key = asyncio.run(create_key(get_settings().database(), tenant, label))
    click.echo(key)
    click.echo(f"(tenant {tenant}: store this key now, it is not shown again)", err=True)
    return 0


@gova.command(help="Show the LLM reviewer's prompt for a message.")
@click.option("--dry-run", is_flag=True, help="print the prompt, send nothing")
@click.option("--tenant", required=True)
@click.option("--moderator", default="default", show_default=True, help="whose guidelines")
@click.option("--text", required=True, help="the message to judge")
@click.option("--author", default="author", show_default=True)
@click.option(
    "--context",
    multiple=True,
    metavar="AUTHOR:TEXT",
    help="an earlier message in the channel (repeat, oldest first)",
)
def review(
    dry_run: bool, tenant: str, moderator: str, text: str, author: str, context: tuple[str, ...]
) -> int:
    if not dry_run:
        click.echo("gova review: only --dry-run is supported (it prints the prompt)", err=True)
        return 2
    from gova.storage import PostgresStorage
    from gova.worker.review_setup import dry_run as show_prompt

    async def shown() -> dict:
        storage = await PostgresStorage.connect(get_settings().database(), max_size=2)
        try:
            return await show_prompt(storage, tenant, moderator, text, author, list(context))
        finally:
            await storage.close()

    prompt = asyncio.run(shown())
    click.echo(
        f"# stage: {prompt['stage']}  model: {prompt['model']}  base_url: {prompt['base_url']}"
        f"  prompt: {prompt['prompt_version']}"
    )
    for message in prompt["messages"]:
        click.echo(f"\n===== {message['role']} =====\n{message['content']}")
    return 0


@gova.group("eval", help="Evaluate a model on labelled data.")
def evaluate() -> None:
    pass


@evaluate.command(
    "text", help="Score labelled JSONL with the text model; write a report, metrics and plots."
)
@click.option("--data", multiple=True, required=True, metavar="PATH", help="files or folders")
@click.option("--out", default="docs/eval/text", show_default=True, metavar="DIR")
@click.option(
    "--all-rows",
    is_flag=True,
    help="evaluate every row, not only held-out ones (for a set nobody trained on)",
)
@click.option("--limit", type=int, metavar="N", help="at most N rows per data set")
@click.option("--batch", type=int, default=256, show_default=True, help="rows per model call")
@click.option("--model", metavar="DIR", help="a `gova train text` artifact (default: packaged)")
@click.option("--by-language", is_flag=True, help="one line per set and row `lang` field")
@click.option("--cache", metavar="FILE", help="embedding cache shared with `gova train text`")
def eval_text(**options) -> int:
    from gova.training.evaluate import run

    options["data"] = list(options["data"])
    return run(argparse.Namespace(**options))


@gova.group(help="Train a model on labelled data.")
def train() -> None:
    pass


@train.command(
    "text", help="Train the text model's heads on labelled JSONL; write a versioned artifact."
)
@click.option("--data", multiple=True, required=True, metavar="PATH")
@click.option("--out", required=True, metavar="DIR", help="artifact folder (GOVA_TEXT_MODEL_DIR)")
@click.option(
    "--cache",
    default=".gova/cache/minilm.npz",
    show_default=True,
    metavar="FILE",
    help="MiniLM embedding cache, so retraining skips the encoders; e5 vectors go beside it",
)
@click.option("--no-seeds", is_flag=True, help="leave out written seeds")
@click.option("--c", type=float, default=2.0, show_default=True, help="inverse L2 strength")
def train_text(data: tuple[str, ...], out: str, cache: str, no_seeds: bool, c: float) -> int:
    from gova.training.text import train as fit

    try:
        fit(list(data), Path(out), cache=Path(cache) if cache else None, seeds=not no_seeds, c=c)
    except (FileNotFoundError, ValueError) as exc:
        click.echo(f"gova train text: {exc}", err=True)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; its exit status (2 for bad usage, with one line and no traceback)."""
    try:
        code = gova.main(args=argv, prog_name="gova", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
