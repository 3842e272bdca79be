"""Connections the API process holds, and the dependency that hands them to routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Request

from gova import cache
from gova.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class VerdictWaiters:
    """One pattern subscription per process; each `wait=true` request registers a future."""

    redis: object
    futures: dict[tuple[str, str], list[asyncio.Future]] = field(default_factory=dict)
    task: asyncio.Task | None = None

    async def start(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.psubscribe(cache.VERDICT_CHANNEL_PREFIX + "*")
        self.task = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub) -> None:  # noqa: ANN001
        while True:
            try:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as exc:  # Redis hiccup: waiters fall back to polling the database
                log.warning("verdict subscription error: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if not msg:
                continue
            verdict = json.loads(msg["data"])
            for fut in self.futures.pop((verdict["tenant_id"], verdict["content_id"]), []):
                if not fut.done():
                    fut.set_result(verdict)

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
    pool: asyncpg.Pool
    redis: object
    producer: AIOKafkaProducer
    waiters: VerdictWaiters


def get_state(request: Request) -> ApiState:
    return request.app.state.gova
