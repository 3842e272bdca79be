"""Connections the API process holds, and the dependency that hands them to routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from fastapi import Request

from gova import cache
from gova.settings import Settings
from gova.storage import Storage

if TYPE_CHECKING:
    from gova.api.key_cache import Authenticator

log = logging.getLogger(__name__)


@dataclass
class VerdictWaiters:
    """One pattern subscription per process; each `wait=true` request registers a future."""

    redis: object
    futures: dict[tuple[str, str], list[asyncio.Future]] = field(default_factory=dict)
    task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        """Dispatch published outcomes to waiting requests; survive Redis going away."""
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(cache.VERDICT_CHANNEL_PREFIX + "*")
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg:
                        self._dispatch(json.loads(msg["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # waiters fall back to polling the database meanwhile
                log.warning("verdict subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, outcome: dict) -> None:
        for fut in self.futures.pop((outcome["tenant_id"], outcome["content_id"]), []):
            if not fut.done():
                fut.set_result(outcome)

    def register(self, tenant_id: str, content_id: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.futures.setdefault((tenant_id, content_id), []).append(fut)
        return fut

    def discard(self, tenant_id: str, content_id: str, fut: asyncio.Future) -> None:
        waiting = self.futures.get((tenant_id, content_id), [])
        if fut in waiting:
            waiting.remove(fut)
        if not waiting:
            self.futures.pop((tenant_id, content_id), None)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@dataclass
class ApiState:
    settings: Settings
    storage: Storage
    redis: object
    producer: AIOKafkaProducer
    waiters: VerdictWaiters
    auth: Authenticator

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, settings: Settings) -> AsyncIterator[ApiState]:
        """The connections of a process that takes items in (the API, the Discord bridge),
        open for the span of the block and closed in reverse."""
        from gova.api.key_cache import Authenticator
        from gova.storage import PostgresStorage

        storage = await PostgresStorage.connect(settings.database())
        redis = cache.connect(settings.redis())
        producer = AIOKafkaProducer(bootstrap_servers=settings.broker(), linger_ms=2)
        try:
            await producer.start()
            waiters = VerdictWaiters(redis)
            await waiters.start()
            try:
                yield cls(
                    settings,
                    storage,
                    redis,
                    producer,
                    waiters,
                    Authenticator.from_settings(settings),
                )
            finally:
                await waiters.stop()
                await producer.stop()
        finally:
            await redis.aclose()
            await storage.close()


def get_state(request: Request) -> ApiState:
    return request.app.state.gova
