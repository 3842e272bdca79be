"""Per-channel context for the reviewer, keyed `tenant:channel` like content.channels and
content.review, so a channel's context and its items to review share a partition."""

from gova.tables.base import json_table

channels = json_table(
    "channels", "Recent messages per channel: [{content_id, author_id, text, at}]"
)
