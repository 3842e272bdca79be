"""Scoring inside the API process, for endpoints that answer synchronously.

The compatibility endpoints promise an answer in the response, so they cannot go through
the pipeline; the classifier is loaded once per process, on first use, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import HTTPException, status

from gova.models.base import Classifier, MissingModelError
from gova.models.text import load_text_classifier

_model: Classifier[str] | None = None
_loading = asyncio.Lock()


async def classifier() -> Classifier[str]:
    """The process's text classifier; 503 when its optional model is not installed."""
    global _model
    if _model is None:
        async with _loading:
            if _model is None:
                try:
                    _model = await asyncio.to_thread(load_text_classifier)
                except MissingModelError as exc:
                    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return _model


async def score(texts: Sequence[str]) -> list[dict[str, float]]:
    """Scores per text, in order (the model folds each text as the pipeline does)."""
    model = await classifier()
    if not texts:
        return []
    return await asyncio.to_thread(model.classify, list(texts))


async def moderations(texts: Sequence[str]) -> list[tuple[dict[str, float], dict[str, float]]]:
    """Per text, (Gova's scores, OpenAI's 13 category scores ranked across categories so that
    their maximum is the any-unsafe probability; see `TextModel.moderations`)."""
    model = await classifier()
    if not texts:
        return []

    def both(batch: list[str]):
        from gova.models.text import OPENAI_CATEGORIES, openai_view

        view = getattr(model, "moderations_with_scores", None)
        if view is not None:
            return view(batch)
        # A classifier without an any-unsafe head: its own scores, the largest as is.
        scores = model.classify(batch)
        top = [max((s.get(c, 0.0) for c in OPENAI_CATEGORIES), default=0.0) for s in scores]
        return [(s, openai_view(s, t)) for s, t in zip(scores, top, strict=True)]

    return await asyncio.to_thread(both, list(texts))
