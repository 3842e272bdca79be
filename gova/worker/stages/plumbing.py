"""What every stage shares: applying the engine's effects, dead-lettering, reading events,
and waiting out a database outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from gova.core.effects import Delete, Effect, Emit, Outcome, Put, Store
from gova.schemas import DeadLetter, Item
from gova.storage import UNAVAILABLE, PostgresStorage
from gova.streams import CONTENT_SCORED, DEAD_LETTER, TopicSpec
from gova.worker.resources import resources
from gova.worker.tables import tables
from gova.worker.topics import topics

log = logging.getLogger("gova.worker")

MAX_DEAD_PAYLOAD = 100_000
T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)


async def emit(spec: TopicSpec, key: str, record: BaseModel) -> None:
    await topics[spec.name].send(
        key=key.encode(), value=record.model_dump_json(by_alias=True).encode()
    )


async def apply(effects: list[Effect]) -> None:
    """Carry out a decision's effects, in order."""
    for effect in effects:
        if isinstance(effect, Put):
            tables[effect.table][effect.key] = effect.value
        elif isinstance(effect, Delete):
            if effect.key in tables[effect.table]:
                del tables[effect.table][effect.key]
        elif isinstance(effect, Emit):
            await emit(effect.topic, effect.key, effect.record)
        elif isinstance(effect, Store) and effect.what == "actions":
            await with_storage(lambda storage, rows=effect.records: storage.actions.create(rows))
        else:  # pragma: no cover - a new effect type without its adapter
            raise TypeError(f"no adapter applies {type(effect).__name__}")


async def applied(outcome: Outcome) -> Any:
    """Apply an outcome's effects; its result, for the agent to yield."""
    await apply(outcome.effects)
    return outcome.result


async def dead_letter(stage: str, event: Any, exc: BaseException) -> DeadLetter:
    """Send an event a stage could not process to the dead-letter topic."""
    msg = event.message
    raw = event.value if isinstance(event.value, bytes | bytearray) else repr(event.value).encode()
    key = msg.key.decode("utf-8", "replace") if isinstance(msg.key, bytes) else msg.key
    letter = DeadLetter(
        stage=stage,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=key,
        error=f"{type(exc).__name__}: {exc}"[:2000],
        payload=bytes(raw[:MAX_DEAD_PAYLOAD]).decode("utf-8", "replace"),
        failed_at=time.time(),
    )
    log.warning(
        "%s: dead-lettered %s[%s]@%s: %s", stage, msg.topic, msg.partition, msg.offset, letter.error
    )
    await emit(DEAD_LETTER, key or "", letter)
    return letter


async def each_event(
    stream: Any, stage: str, record: type[R], handle: Callable[[R], Awaitable[Any]]
) -> AsyncIterator[Any]:
    """Handle a stream event by event. Every agent yields one outcome per event, what it sent
    on or the dead letter, so one bad event never stops a stage."""
    async for event in stream.events():
        try:
            yield await handle(record.model_validate_json(event.value))
        except Exception as exc:
            yield await dead_letter(stage, event, exc)


async def parse_batch(
    events: list[Any], stage: str, record: type[R]
) -> tuple[list[tuple[Any, R]], list[DeadLetter]]:
    """Parse a micro-batch: the (event, record) pairs, and dead letters for the rest."""
    parsed, dead = [], []
    for event in events:
        try:
            parsed.append((event, record.model_validate_json(event.value)))
        except Exception as exc:
            dead.append(await dead_letter(stage, event, exc))
    return parsed, dead


async def scored_batches(
    stream: Any,
    stage: str,
    score: Callable[[list[Any]], Awaitable[list[Any]]],
    *,
    size: int,
    within: float,
) -> AsyncIterator[Any]:
    """A classifier stage's loop: micro-batches of items scored together and sent on to
    content.scored. `score` answers one outcome per item, in order: the scored item, or the
    exception that item failed with (a batch that raises fails every item); failures are
    dead-lettered, one event each, and the rest go on."""
    async for events in stream.take_events(size, within=within):
        parsed, dead = await parse_batch(events, stage, Item)
        for letter in dead:
            yield letter
        if not parsed:
            continue
        try:
            outcomes = await score([item for _, item in parsed])
        except Exception as exc:
            outcomes = [exc] * len(parsed)
        for (event, _), outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, Exception):
                yield await dead_letter(stage, event, outcome)
            else:
                await emit(CONTENT_SCORED, outcome.key, outcome)
                yield outcome


async def with_storage(work: Callable[[PostgresStorage], Awaitable[T]]) -> T:
    """Run `work(storage)`, waiting out a database outage with backoff; other errors raise
    (a bad row is the caller's to dead-letter)."""
    delay = 0.5
    while True:
        try:
            return await work(await resources.storage())
        except UNAVAILABLE as exc:
            log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
