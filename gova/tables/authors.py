"""Per-author tables, keyed `tenant:author` like the streams that write them (co-partitioned).

Time buckets live inside plain table values (not Faust windowed tables, which do not
survive restarts reliably, faust-streaming PR #412).
"""

import faust

from gova.pipeline import app, settings

JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")

rate_limits = app.Table(
    "rate_limits",
    default=None,
    partitions=settings.partitions,
    schema=JSON_SCHEMA,
    help="Per-author token bucket: {tokens, at}",
)

behaviour = app.Table(
    "behaviour",
    default=None,
    partitions=settings.partitions,
    schema=JSON_SCHEMA,
    help="Per-author behaviour: {score, strikes, at}",
)
