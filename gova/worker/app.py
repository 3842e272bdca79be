"""The Faust App, and nothing else: stages, topics and tables import it, never the reverse.

The embedded broker's workarounds (`gova.streams.tansu_fixes`) are applied here, before the
App exists, and only when that broker is the one in use.
"""

from __future__ import annotations

import faust

from gova.settings import get_settings
from gova.streams import tansu_fixes

settings = get_settings()

_extra: dict = {}
if settings.tansu_workarounds:
    tansu_fixes.apply(settings.broker())
    _extra.update(tansu_fixes.FAUST_SETTINGS)

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.broker()}",
    store="memory://",
    datadir=str(settings.data_dir / "faust" / settings.worker_name),
    topic_partitions=settings.partitions,
    topic_allow_declare=True,
    key_serializer="raw",
    value_serializer="raw",
    web_host=settings.api_host,
    web_port=settings.monitor_port,
    web_stats_enabled=True,
    consumer_auto_offset_reset="earliest",
    processing_guarantee="at_least_once",
    producer_linger=settings.producer_linger_s,
    **_extra,
)
