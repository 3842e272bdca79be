"""One module per stage of the topology."""

from gova.agents import decide, ingest, persist, text_classifier

__all__ = ["decide", "ingest", "persist", "text_classifier"]
