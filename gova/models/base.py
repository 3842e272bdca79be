"""The narrow interface every modality's classifier implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

Input = TypeVar("Input", contravariant=True)


class MissingModelError(RuntimeError):
    """An optional model is not installed; the message names the extra to install."""


@runtime_checkable
class Classifier(Protocol[Input]):
    #: Stable identifier, part of cache keys and stored with every score.
    name: str
    categories: tuple[str, ...]

    def classify(self, batch: Sequence[Input]) -> list[dict[str, float]]:
        """Scores in [0, 1] per category, one dict per input, in input order."""
        ...
