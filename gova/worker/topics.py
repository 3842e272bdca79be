"""Every declared topic (`gova.streams`) as a Faust topic of this app, by name."""

from __future__ import annotations

import faust

from gova import streams
from gova.worker.app import app

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
