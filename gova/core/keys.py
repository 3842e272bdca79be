"""Every key format of the topology, defined once.

Per-author state and streams are keyed `tenant:author`, per-channel ones `tenant:channel`;
a stream and the table it reads share the key, so both land on the same partition.
"""

from __future__ import annotations

import hashlib


def author_key(tenant_id: str, author_id: str) -> str:
    return f"{tenant_id}:{author_id}"


def channel_key(tenant_id: str, channel_id: str) -> str:
    return f"{tenant_id}:{channel_id}"


def moderator_key(tenant_id: str, moderator: str) -> str:
    """A moderator's config and the actions it plans share this key (and so a partition)."""
    return f"{tenant_id}:{moderator}"


def review_key(tenant_id: str, channel_id: str | None, author_id: str) -> str:
    """content.review's key: an item with a channel shares its channel's partition (and its
    context); one without goes by author, under a prefix no channel id can collide with."""
    return channel_key(tenant_id, channel_id or f"author:{author_id}")


def item_key(tenant_id: str, author_id: str, content_id: str) -> str:
    """One item's entry in a per-author stream's table (the parts waiting to be joined)."""
    return f"{tenant_id}:{author_id}|{content_id}"


def content_hash(text: str) -> str:
    """The score cache's key for a (folded) text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
