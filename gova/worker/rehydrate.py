"""Seed the behaviour and moderator tables from PostgreSQL when the broker starts empty.

The embedded broker keeps topics in memory, so a new `gova up` starts with empty changelogs:
rate limits may reset (they are seconds-to-minutes state), but an author's behaviour history
is data and lives on in the `users` table. Writing it into the table's changelog, on the
partition Faust will recover it from, gives the worker its history back.
"""

from __future__ import annotations

import json
import time

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from gova.core.decide import BEHAVIOUR
from gova.core.keys import author_key
from gova.schemas.actions import ModeratorConfig, ModeratorEvent
from gova.storage import PostgresStorage
from gova.streams import MODERATOR_EVENTS, TopicSpec
from gova.streams.admin import ensure_topics


def changelog_spec(app_id: str, partitions: int) -> TopicSpec:
    # Faust names a table's changelog `<app id>-<table>-changelog` and compacts it.
    return TopicSpec(
        f"{app_id}-{BEHAVIOUR}-changelog",
        retention_ms=-1,
        compacted=True,
        partitions=partitions,
    )


def partition_for(key: str, partitions: int) -> int:
    """The partition the API's producer sends `key` to (aiokafka's default partitioner)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


async def rehydrate_behaviour(dsn: str, bootstrap: str, app_id: str, partitions: int) -> int:
    """Write every known author's behaviour into an empty changelog; return how many."""
    storage = await PostgresStorage.connect(dsn, max_size=1)
    try:
        rows = await storage.behaviour.authors_with_history()
    finally:
        await storage.close()
    if not rows:
        return 0
    spec = changelog_spec(app_id, partitions)
    await ensure_topics(bootstrap, (spec,))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        for r in rows:
            key = author_key(r.tenant_id, r.author_id)
            value = {"score": r.score, "strikes": r.strikes, "at": r.last_seen_at.timestamp()}
            await producer.send(
                spec.name,
                key=json.dumps(key).encode(),
                value=json.dumps(value).encode(),
                partition=partition_for(key, partitions),
            )
        await producer.flush()
    finally:
        await producer.stop()
    return len(rows)


async def republish_moderators(dsn: str, bootstrap: str) -> int:
    """Send every stored moderator's config and running state to moderator.events, so an
    empty broker's workers rebuild their moderator table; return how many."""
    storage = await PostgresStorage.connect(dsn, max_size=1)
    try:
        records = await storage.moderators.all()
    finally:
        await storage.close()
    if not records:
        return 0
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        now = time.time()
        for record in records:
            event = ModeratorEvent(
                type="StartModeratorEvent" if record.running else "StopModeratorEvent",
                tenant_id=record.tenant_id,
                moderator=record.name,
                config=ModeratorConfig.model_validate(record.config),
                at=now,
            )
            await producer.send(
                MODERATOR_EVENTS.name,
                key=event.moderator_key.encode(),
                value=event.model_dump_json().encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()
    return len(records)
