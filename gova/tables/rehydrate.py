"""Seed the behaviour table from PostgreSQL when the broker starts empty.

The embedded broker keeps topics in memory, so a new `gova up` starts with empty changelogs:
rate limits may reset (they are seconds-to-minutes state), but an author's behaviour history
is data and lives on in the `users` table. Writing it into the table's changelog, on the
partition Faust will recover it from, gives the worker its history back.
"""

from __future__ import annotations

import json

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from gova.streams import TopicSpec, ensure_topics

BEHAVIOUR_TABLE = "behaviour"


def changelog_spec(app_id: str, partitions: int) -> TopicSpec:
    # Faust names a table's changelog `<app id>-<table>-changelog` and compacts it.
    return TopicSpec(
        f"{app_id}-{BEHAVIOUR_TABLE}-changelog",
        retention_ms=-1,
        compacted=True,
        partitions=partitions,
    )


def partition_for(key: str, partitions: int) -> int:
    """The partition the API's producer sends `key` to (aiokafka's default partitioner)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


async def rehydrate_behaviour(dsn: str, bootstrap: str, app_id: str, partitions: int) -> int:
    """Write every known author's behaviour into an empty changelog; return how many."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT tenant_id, user_id, behavior_score, strikes, last_seen_at FROM users"
            " WHERE strikes > 0 OR behavior_score > 0"
        )
    finally:
        await conn.close()
    if not rows:
        return 0
    spec = changelog_spec(app_id, partitions)
    await ensure_topics(bootstrap, (spec,))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        for r in rows:
            key = f"{r['tenant_id']}:{r['user_id']}"
            value = {
                "score": r["behavior_score"],
                "strikes": r["strikes"],
                "at": r["last_seen_at"].timestamp(),
            }
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
