"""What the worker's stages share: the storage pool, Redis, the text model and the action
executors (their HTTP clients).

Each is made once, under its own lock, by whichever asks first: the start-up service below
(so /gova/ready/ means the model is loaded) or a stage meeting a backlog before it. Both wait
for the same load; none happens twice. All are closed when the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mode

from gova import cache
from gova.integrations.discord import DiscordExecutor
from gova.integrations.executors import HttpExecutor
from gova.integrations.webhook import WebhookExecutor
from gova.models.text import TextModel, load_text_classifier
from gova.storage import PostgresStorage
from gova.worker.app import app, settings

log = logging.getLogger(__name__)

#: English and, for the multilingual heads, Spanish: a first call builds what loads lazily
#: (vocabularies, the encoders' sessions: ~3-4 s on 2 cores), so the first items do not.
WARM_UP = ["warming up the text model", "calentando el modelo de texto antes de empezar"]


def _load_text_model() -> TextModel:
    model = load_text_classifier()
    model.classify(WARM_UP)
    log.info("text model loaded: %s", model.name)
    return model


class Resources:
    def __init__(self) -> None:
        self._storage: PostgresStorage | None = None
        self._redis: Any = None
        self._model: TextModel | None = None
        self._executors: dict[str, HttpExecutor] = {}
        self._storage_lock = asyncio.Lock()
        self._model_lock = asyncio.Lock()

    async def storage(self) -> PostgresStorage:
        async with self._storage_lock:
            if self._storage is None:
                self._storage = await PostgresStorage.connect(settings.database())
        return self._storage

    def redis(self) -> Any:
        if self._redis is None:
            self._redis = cache.connect(settings.redis())
        return self._redis

    async def text_model(self) -> TextModel:
        async with self._model_lock:
            if self._model is None:
                # Off the event loop: the consumer keeps fetching and heartbeating meanwhile.
                self._model = await asyncio.to_thread(_load_text_model)
        return self._model

    def executor(self, platform: str) -> HttpExecutor:
        """The executor of a platform with an executor (`discord` or `webhook`)."""
        if platform not in self._executors:
            self._executors[platform] = (
                DiscordExecutor(settings.discord_api_base)
                if platform == "discord"
                else WebhookExecutor(allowed_hosts=settings.webhook_hosts)
            )
        return self._executors[platform]

    @property
    def text_model_loaded(self) -> bool:
        return self._model is not None

    async def close(self) -> None:
        for executor in self._executors.values():
            await executor.aclose()
        self._executors.clear()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._storage is not None:
            await self._storage.close()
            self._storage = None


resources = Resources()


@app.service
class WorkerResources(mode.Service):
    """Opens the resources when the worker starts and closes them when it stops."""

    async def on_start(self) -> None:
        # The pool connects on first use, behind `with_storage`'s wait for a database outage.
        await resources.text_model()

    async def on_stop(self) -> None:
        await resources.close()
