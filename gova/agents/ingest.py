"""content.raw → validate, normalise, rate-limit, route by modality."""

from __future__ import annotations

import time

from gova.agents.base import each_event, emit
from gova.normalise import content_hash, normalise_text
from gova.pipeline import app, settings, topics
from gova.schemas import Item, Submission, Verdict
from gova.schemas.review import ChannelMessage
from gova.streams import CONTENT_CHANNELS, CONTENT_RAW, CONTENT_TEXT, MODERATION_RESULTS
from gova.tables.authors import rate_limits
from gova.tables.token_bucket import take_token


class ModalityNotEnabled(ValueError):
    pass


async def route(sub: Submission) -> Item | Verdict:
    allowed, bucket = take_token(
        rate_limits.get(sub.key),
        sub.received_at,
        burst=settings.rate_limit_burst,
        per_s=settings.rate_limit_per_s,
    )
    rate_limits[sub.key] = bucket
    if not allowed:
        verdict = Verdict(
            tenant_id=sub.tenant_id,
            content_id=sub.event.id,
            author_id=sub.event.user_id,
            content_type=sub.event.content_type,
            decision="rate_limited",
            thresholds=sub.policy.thresholds,
            received_at=sub.received_at,
            decided_at=time.time(),
        )
        await emit(MODERATION_RESULTS, sub.key, verdict)
        return verdict
    if sub.event.content_type != "text":
        raise ModalityNotEnabled(f"no stage processes {sub.event.content_type!r} content yet")

    text = normalise_text(sub.event.content)
    item = Item(**sub.model_dump(), text=text, content_hash=content_hash(text))
    if item.channel_id:  # repartitioned by channel, for the reviewer's channel context
        context = ChannelMessage(
            tenant_id=item.tenant_id,
            channel_id=item.channel_id,
            content_id=item.event.id,
            author_id=item.event.user_id,
            text=text,
            at=sub.received_at,
        )
        await emit(CONTENT_CHANNELS, item.channel_key, context)
    await emit(CONTENT_TEXT, sub.key, item)
    return item


@app.agent(topics[CONTENT_RAW.name])
async def ingest(stream):
    async for outcome in each_event(stream, "ingest", Submission, route):
        yield outcome
