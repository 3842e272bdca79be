"""One module per stage of the topology."""

from gova.agents import dead_letters, decide, ingest, persist, text_classifier

__all__ = ["dead_letters", "decide", "ingest", "persist", "text_classifier"]
