"""content.image → hash, bank match, near-duplicate look-up, batched classification →
content.scored.

For each image (its bytes read from the content store by reference): the first frame's PDQ
hash; a match in the tenant's hash bank scores the bank's category 1.0 and skips the model;
else the same bytes seen within the cache TTL, or a near-duplicate (PDQ distance within
GOVA_PDQ_MATCH_DISTANCE) of an image of the same tenant scored before, reuse those scores;
only the rest reach the model, together in one batch (the first frame and a sample of an
animation's frames, each category's score the highest over them). Every look-up is scoped to
the item's tenant. An image that cannot be read is dead-lettered alone, the batch goes on.
"""

from __future__ import annotations

import asyncio

from gova import cache
from gova.media.inspect import image_frames
from gova.models.image import pdq
from gova.schemas import Item
from gova.streams import CONTENT_IMAGE
from gova.worker.app import app, settings
from gova.worker.media_resources import image_model, read_media
from gova.worker.resources import resources
from gova.worker.stages.plumbing import scored_batches, with_storage
from gova.worker.topics import topics


async def _read(item: Item) -> tuple[list, str, int]:
    """The item's sampled frames and the first frame's PDQ hash and quality."""
    data = await read_media(item)
    assert item.media is not None
    frames = await asyncio.to_thread(image_frames, data, item.media.format, settings)
    digest, quality = await asyncio.to_thread(pdq, frames[0])
    return frames, digest, quality


def _with(item: Item, **media) -> Item:
    assert item.media is not None
    return item.model_copy(update={"media": item.media.model_copy(update=media)})


async def _prepared(item: Item, hit: dict | None, model_name: str) -> tuple[Item, list | None]:
    """The item with its hash, and the frames the model must score: None when the tenant's
    bank, the score cache or a near-duplicate settles it."""
    frames, digest, quality = await _read(item)
    item = _with(item, pdq=digest, pdq_quality=quality)
    # Images carry no text for the reviewer: their policy reviews nothing.
    item.policy = (item.image_policy or item.policy).model_copy(update={"review_band": None})
    item.model = model_name
    banked = await with_storage(
        lambda s: s.media.bank_match(item.tenant_id, digest, settings.pdq_match_distance)
    )
    if banked is not None:
        from gova.schemas.media import HashMatch

        entry, distance = banked
        item = _with(
            item,
            match=HashMatch(
                entry_id=entry.id, label=entry.label, category=entry.category, distance=distance
            ),
        )
        item.scores, item.model = {entry.category: 1.0}, "hash-bank:pdq"
        return item, None
    if hit is not None:
        item.scores, item.cached = hit, True
        return item, None
    near = await with_storage(
        lambda s: s.media.seen_near(item.tenant_id, digest, model_name, settings.pdq_match_distance)
    )
    if near is not None and near[0] != item.event.id:
        item = _with(item, near_duplicate_of=near[0])
        item.scores, item.cached = near[1], True
        return item, None
    return item, frames


async def _prepared_or_error(item: Item, hit: dict | None, model_name: str):
    try:
        return await _prepared(item, hit, model_name)
    except Exception as exc:  # this item is dead-lettered; the batch goes on
        return exc


async def score_images(items: list[Item]) -> list[Item | Exception]:
    """Each item scored, or the exception that stopped it (one per item, in order). The
    items are read, decoded, hashed and looked up concurrently (the content store and the
    bank answer while another picture decodes); the model then runs once on the rest."""
    model = await image_model.get()
    redis = resources.redis()
    cache_keys = [f"{i.tenant_id}:{i.content_hash}" for i in items]
    hits = await cache.cached_scores(redis, model.name, cache_keys)
    prepared = await asyncio.gather(
        *(_prepared_or_error(i, h, model.name) for i, h in zip(items, hits, strict=True))
    )
    out: list[Item | Exception] = []
    to_classify: list[tuple[int, list]] = []
    for n, result in enumerate(prepared):
        if isinstance(result, Exception):
            out.append(result)
            continue
        item, frames = result
        if frames is not None:
            to_classify.append((n, frames))
        out.append(item)
    if to_classify:
        flat = [frame for _, frames in to_classify for frame in frames]
        scores = await asyncio.to_thread(model.classify, flat)
        at, remember, fresh = 0, [], []
        for n, frames in to_classify:
            per_frame = scores[at : at + len(frames)]
            at += len(frames)
            item = out[n]
            assert isinstance(item, Item) and item.media is not None
            item.scores = {c: max(s[c] for s in per_frame) for c in model.categories}
            remember.append((item.tenant_id, item.event.id, item.media.pdq, item.scores))
            fresh.append((cache_keys[n], item.scores))
        by_tenant: dict[str, list] = {}
        for tenant, cid, digest, s in remember:
            by_tenant.setdefault(tenant, []).append((cid, digest, model.name, s))
        for tenant, rows in by_tenant.items():
            await with_storage(lambda st, t=tenant, r=rows: st.media.remember(t, r))
        await cache.cache_scores(redis, model.name, fresh, settings.score_cache_ttl_s)
    return out


@app.agent(topics[CONTENT_IMAGE.name])
async def classify_images(stream):
    async for outcome in scored_batches(
        stream,
        "classify_image",
        score_images,
        size=settings.image_batch_size,
        within=settings.image_batch_within_s,
    ):
        yield outcome
