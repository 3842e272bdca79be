"""What a decision asks the plumbing to do; the stages apply these, in order (a Store before
the Emit that tells another stage about the stored rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from gova.streams import TopicSpec

R = TypeVar("R")


@dataclass(frozen=True)
class Emit:
    """Send `record` (as JSON) to `topic` under `key`."""

    topic: TopicSpec
    key: str
    record: BaseModel


@dataclass(frozen=True)
class Put:
    """Set `table[key] = value` in a changelog table (read back by the same partition)."""

    table: str
    key: str
    value: Any


@dataclass(frozen=True)
class Store:
    """Keep `records` in storage under `what` (e.g. "actions"); idempotent on their ids."""

    what: str
    records: list


@dataclass(frozen=True)
class Delete:
    """Remove `table[key]` from a changelog table (a tombstone in its changelog)."""

    table: str
    key: str


Effect = Emit | Put | Store | Delete


@dataclass
class Outcome(Generic[R]):
    """A decision's result (what the stage yields) and the effects that carry it out."""

    result: R
    effects: list[Effect] = field(default_factory=list)
