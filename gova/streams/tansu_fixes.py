"""Workarounds for the embedded Tansu broker (DESIGN.md, "Tansu"), applied only when it is in use.

1. Short session timeout and heartbeat: Tansu holds group joins for session_timeout / 2, so
   Faust's 60 s default makes a worker take ~31 s to become ready.
2. Short fetch wait: Tansu holds fetches ~max_wait / 2 even when data is ready; Faust asks
   1,500 ms, which turns every hop into seconds of latency.
3. True end offsets: ListOffsets(latest) answers the last batch's base offset + 1, so Faust
   would recover changelog tables only up to there and silently lose recent updates. The Fetch
   response's high watermark is right, so we read it with a one-record fetch per partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 20

FAUST_SETTINGS: dict[str, Any] = {
    "broker_session_timeout": 10.0,
    "broker_heartbeat_interval": 1.0,
    "broker_rebalance_timeout": 20.0,
}

_applied = False


async def true_highwaters(bootstrap: str, reported: Mapping[Any, int]) -> dict[Any, int]:
    """Correct `reported` end offsets with the high watermark of a fetch per partition."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    if not reported:
        return dict(reported)
    tps = {TopicPartition(tp.topic, tp.partition): tp for tp in reported}
    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await probe.start()
    try:
        probe.assign(list(tps))
        for atp, tp in tps.items():
            probe.seek(atp, max((reported[tp] or 0) - 1, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while any(probe.highwater(atp) is None for atp in tps) and loop.time() < deadline:
            await probe.getmany(timeout_ms=50, max_records=1)
        corrected = {}
        for atp, tp in tps.items():
            hw = probe.highwater(atp)
            corrected[tp] = max(reported[tp] or 0, hw or 0)
        if corrected != dict(reported):
            log.info("corrected changelog end offsets: %s -> %s", dict(reported), corrected)
        return corrected
    finally:
        await probe.stop()


def apply(bootstrap: str) -> None:
    """Patch Faust's aiokafka driver in this process (idempotent)."""
    global _applied
    if _applied:
        return
    from faust.transport.drivers import aiokafka as driver

    thread_cls = driver.AIOKafkaConsumerThread
    original_highwaters = thread_cls._highwaters
    original_create = thread_cls._create_worker_consumer

    async def _highwaters(self: Any, partitions: Any) -> Mapping[Any, int]:
        reported = await original_highwaters(self, partitions)
        if self.consumer.in_transaction:
            return reported
        return await true_highwaters(bootstrap, reported)

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original_create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    thread_cls._highwaters = _highwaters
    thread_cls._create_worker_consumer = _create_worker_consumer
    _applied = True
