"""One module per stage of the topology."""

from gova.agents import (
    channel_context,
    dead_letters,
    decide,
    ingest,
    persist,
    review,
    text_classifier,
)

__all__ = [
    "channel_context",
    "dead_letters",
    "decide",
    "ingest",
    "persist",
    "review",
    "text_classifier",
]
