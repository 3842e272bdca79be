"""The changelog tables, named by the engine modules that decide what they hold.

Each is read only by stages whose stream is keyed the same way (co-partitioned): per-author
tables by `tenant:author`, the channel table by `tenant:channel`, the moderator table by
`tenant:moderator`. Time buckets live inside
plain table values, not Faust windowed tables, which do not survive restarts reliably
(faust-streaming PR #412).
"""

from __future__ import annotations

import faust

from gova.core.actions import MODERATORS
from gova.core.channels import CHANNELS
from gova.core.decide import BEHAVIOUR
from gova.core.ingest import RATE_LIMITS
from gova.core.parts import PARTS
from gova.worker.app import app, settings

JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")


def _table(name: str, help: str) -> faust.Table:
    return app.Table(
        name, default=None, partitions=settings.partitions, schema=JSON_SCHEMA, help=help
    )


tables: dict[str, faust.Table] = {
    RATE_LIMITS: _table(RATE_LIMITS, "Per-author token bucket: {tokens, at}"),
    BEHAVIOUR: _table(BEHAVIOUR, "Per-author behaviour: {score, strikes, at}"),
    CHANNELS: _table(CHANNELS, "Recent messages per channel: [{content_id, author_id, text, at}]"),
    MODERATORS: _table(MODERATORS, "Per-moderator state from moderator.events: {config, running}"),
    PARTS: _table(
        PARTS,
        "Items waiting for their parts: {first_at, parts, items: {part: item}}, or {concluded_at}",
    ),
}
