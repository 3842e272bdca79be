"""content.text → micro-batched text classification → content.scored.

Identical normalised text is classified once per cache TTL: a batch's scores are looked up
in Redis with one MGET, only the misses reach the model, and their scores are cached.
"""

from __future__ import annotations

import asyncio
import logging

from gova import cache
from gova.agents.base import dead_letter, emit, parse_batch, resources
from gova.models import Classifier, load_text_classifier
from gova.models.language import detect_languages
from gova.pipeline import app, settings, topics
from gova.schemas import Item, Language
from gova.streams import CONTENT_SCORED, CONTENT_TEXT

log = logging.getLogger(__name__)

_classifier: Classifier[str] | None = None
#: English and, for the multilingual heads, Spanish.
WARM_UP = ["warming up the text model", "calentando el modelo de texto antes de empezar"]


def classifier() -> Classifier[str]:
    global _classifier
    if _classifier is None:
        model = load_text_classifier()
        # A first call builds what loads lazily (vocabularies, the encoders' sessions: ~3 s on
        # 2 cores), so that /gova/ready/ means ready and the first items do not wait for it.
        model.classify(WARM_UP)
        _classifier = model
        log.info("text classifier loaded: %s", model.name)
    return _classifier


@app.task
async def _load_classifier() -> None:
    """Load the model at start-up (seconds), not on the first item; /gova/ready/ waits for it."""
    await asyncio.to_thread(classifier)


def classifier_loaded() -> bool:
    return _classifier is not None


async def score_batch(items: list[Item]) -> list[Item]:
    clf = classifier()
    redis = await resources.redis()
    # Keyed by the classifier that produced the scores, so a new model misses the cache.
    hits = await cache.cached_scores(redis, clf.name, [i.content_hash for i in items])
    misses = []
    for item, hit, language in zip(
        items, hits, detect_languages([i.text for i in items]), strict=True
    ):
        item.model = clf.name
        item.language = Language(**vars(language))
        if hit is None:
            misses.append(item)
        else:
            item.scores, item.cached = hit, True
    if misses:
        # Off the event loop, so the consumer keeps fetching while the model runs.
        scores = await asyncio.to_thread(clf.classify, [i.text for i in misses])
        for item, s in zip(misses, scores, strict=True):
            item.scores = s
        await cache.cache_scores(
            redis,
            clf.name,
            [(i.content_hash, i.scores) for i in misses],
            settings.score_cache_ttl_s,
        )
    return items


@app.agent(topics[CONTENT_TEXT.name])
async def classify_text(stream):
    async for events in stream.take_events(
        settings.text_batch_size, within=settings.text_batch_within_s
    ):
        parsed, dead = await parse_batch(events, "classify_text", Item)
        for letter in dead:
            yield letter
        if not parsed:
            continue
        try:
            scored = await score_batch([item for _, item in parsed])
        except Exception as exc:
            for event, _ in parsed:
                yield await dead_letter("classify_text", event, exc)
            continue
        for item in scored:
            await emit(CONTENT_SCORED, item.key, item)
            yield item
