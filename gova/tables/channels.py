"""Per-channel context for the reviewer, keyed `tenant:channel` like content.channels and
content.review, so a channel's context and its items to review share a partition."""

from gova.pipeline import app, settings
from gova.tables.authors import JSON_SCHEMA

channels = app.Table(
    "channels",
    default=None,
    partitions=settings.partitions,
    schema=JSON_SCHEMA,
    help="Recent messages per channel: [{content_id, author_id, text, at}]",
)
