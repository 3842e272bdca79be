"""content.text → micro-batched text classification → content.scored.

Identical folded text is classified once per cache TTL: a batch's scores are looked up in
Redis with one MGET, only the misses reach the model, and their scores are cached. Each
item's language is detected once: by the model for the misses, here for the hits.
"""

from __future__ import annotations

import asyncio

from gova import cache
from gova.models.language import detect_languages
from gova.schemas import Item
from gova.streams import CONTENT_TEXT
from gova.worker.app import app, settings
from gova.worker.resources import resources
from gova.worker.stages.plumbing import scored_batches
from gova.worker.topics import topics


async def score_batch(items: list[Item]) -> list[Item]:
    model = await resources.text_model()
    redis = resources.redis()
    # Keyed by the model that produced the scores, so a new model misses the cache.
    hits = await cache.cached_scores(redis, model.name, [i.content_hash for i in items])
    misses = [item for item, hit in zip(items, hits, strict=True) if hit is None]
    found = [(item, hit) for item, hit in zip(items, hits, strict=True) if hit is not None]
    for (item, hit), language in zip(
        found, detect_languages([i.text for i, _ in found]), strict=True
    ):
        item.scores, item.cached, item.language = hit, True, language
    if misses:
        # Off the event loop, so the consumer keeps fetching while the model runs.
        scores, languages = await asyncio.to_thread(model.analyse, [i.text for i in misses])
        for item, s, language in zip(misses, scores, languages, strict=True):
            item.scores, item.language = s, language
        await cache.cache_scores(
            redis,
            model.name,
            [(i.content_hash, i.scores) for i in misses],
            settings.score_cache_ttl_s,
        )
    for item in items:
        item.model = model.name
    return items


@app.agent(topics[CONTENT_TEXT.name])
async def classify_text(stream):
    async for outcome in scored_batches(
        stream,
        "classify_text",
        score_batch,
        size=settings.text_batch_size,
        within=settings.text_batch_within_s,
    ):
        yield outcome
