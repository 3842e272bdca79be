"""The worker with every stage loaded: `gova worker`, or `faust -A gova.worker.main:app worker`.

`STAGES` is the one list of what runs in the worker; each module registers its agents with
the App when imported.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

from gova.streams.admin import ensure_topics
from gova.worker.app import app, settings

STAGES = (
    "gova.worker.stages.ingest",
    "gova.worker.stages.text_classifier",
    "gova.worker.stages.image_classifier",
    "gova.worker.stages.audio_transcriber",
    "gova.worker.stages.media_retention",
    "gova.worker.stages.decide",
    "gova.worker.stages.channel_context",
    "gova.worker.stages.review",
    "gova.worker.stages.moderators",
    "gova.worker.stages.actions",
    "gova.worker.stages.persist",
    "gova.worker.stages.dead_letters",
    "gova.worker.web",
)

for _stage in STAGES:
    importlib.import_module(_stage)


def run(loglevel: str = "info", argv: list[str] | None = None) -> None:
    """Create missing topics, then run the worker until it is stopped."""
    created = asyncio.run(ensure_topics(settings.broker()))
    if created:
        print(f"gova: topics created: {', '.join(created)}", flush=True)
    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    sys.argv = ["gova", "worker", "-l", loglevel, *(argv or [])]
    app.main()


__all__ = ["STAGES", "app", "run"]
