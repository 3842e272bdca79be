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
