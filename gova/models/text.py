"""Text classifiers.

The default is alt-profanity-check: a linear model over character n-grams whose weights ship
in its wheel. It is fast (tens of thousands of items per second in batches) and covers
English toxicity/profanity; broader categories and languages come with the text issue.
"""

from __future__ import annotations

from collections.abc import Sequence

from gova.models.base import Classifier, MissingModelError

TEXT_CATEGORIES = ("toxicity",)


class ProfanityCheckClassifier:
    name = "alt-profanity-check-1.9"
    categories = TEXT_CATEGORIES

    def __init__(self) -> None:
        try:
            from profanity_check import predict_prob
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise MissingModelError(
                "alt-profanity-check is not installed: `pip install alt-profanity-check`"
            ) from exc
        self._predict_prob = predict_prob

    def classify(self, batch: Sequence[str]) -> list[dict[str, float]]:
        if not batch:
            return []
        probs = self._predict_prob(list(batch))
        return [{"toxicity": round(float(p), 6)} for p in probs]


def load_text_classifier() -> Classifier[str]:
    return ProfanityCheckClassifier()
