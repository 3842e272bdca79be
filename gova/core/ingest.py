"""Admitting a submission: the author's rate limit, the modality, the folded text, routes."""

from __future__ import annotations

from gova.core import verdicts
from gova.core.effects import Emit, Outcome, Put
from gova.core.keys import content_hash
from gova.core.token_bucket import Bucket, take_token
from gova.models.evasion import fold
from gova.schemas import Item, Submission, Verdict
from gova.schemas.review import ChannelMessage
from gova.streams import (
    CONTENT_AUDIO,
    CONTENT_CHANNELS,
    CONTENT_IMAGE,
    CONTENT_TEXT,
    MODERATION_RESULTS,
)

#: The changelog table of per-author token buckets, keyed `tenant:author`.
RATE_LIMITS = "rate_limits"


class ModalityNotEnabled(ValueError):
    """No stage processes this content type yet (the item is dead-lettered, its caller told)."""


class MediaMissing(ValueError):
    """An image or audio item without stored bytes: only the API stores them (the item is
    dead-lettered, its caller told)."""


MEDIA_TOPICS = {"image": CONTENT_IMAGE, "audio": CONTENT_AUDIO}


def admit(sub: Submission, bucket: Bucket | None, *, burst: float, per_s: float) -> Outcome:
    """Spend one of the author's tokens, then route the folded text to classification (and
    to its channel's context), or record a `rate_limited` verdict: never dropped."""
    allowed, bucket = take_token(bucket, sub.received_at, burst=burst, per_s=per_s)
    spend = Put(RATE_LIMITS, sub.key, bucket)
    if not allowed:
        limited: Verdict = verdicts.verdict(sub, "rate_limited")
        return Outcome(limited, [spend, Emit(MODERATION_RESULTS, sub.key, limited)])
    if sub.attachments:  # a multi-part item: decide joins the parts (gova.core.parts)
        sub = sub.model_copy(update={"parts": 1 + len(sub.attachments)})
    item, effects = _primary(sub)
    for n, media in enumerate(sub.attachments, 1):
        # Each attachment goes to its own stage by reference, as part n of the item.
        part = Item(
            **sub.model_dump(exclude={"media", "part"}),
            media=media,
            part=n,
            text="",
            content_hash=media.sha256,
        )
        effects.append(Emit(MEDIA_TOPICS[media.kind], sub.key, part))
    return Outcome(item, [spend, *effects])


def _primary(sub: Submission) -> tuple[Item, list]:
    """The event's own content (part 0), routed to its stage."""
    kind = sub.event.content_type
    if kind in MEDIA_TOPICS:
        if sub.media is None or sub.media.kind != kind:
            raise MediaMissing(
                f"{kind!r} item without stored media: image and audio are accepted through "
                "the API, which stores the bytes and passes a reference"
            )
        # The bytes stay in the content store; the stage reads them by reference.
        item = Item(**sub.model_dump(), text="", content_hash=sub.media.sha256)
        return item, [Emit(MEDIA_TOPICS[kind], sub.key, item)]
    if kind != "text":
        raise ModalityNotEnabled(f"no stage processes {kind!r} content yet")

    # Folded once here (evasion tricks undone, Unicode normalised): the model, the score
    # cache's hash and the reviewer's channel context all see the same text.
    text = fold(sub.event.content)
    item = Item(**sub.model_dump(), text=text, content_hash=content_hash(text))
    effects: list = []
    if item.channel_id:  # repartitioned by channel, for the reviewer's channel context
        context = ChannelMessage(
            tenant_id=item.tenant_id,
            channel_id=item.channel_id,
            content_id=item.event.id,
            author_id=item.event.user_id,
            text=text,
            at=sub.received_at,
        )
        effects.append(Emit(CONTENT_CHANNELS, context.key, context))
    effects.append(Emit(CONTENT_TEXT, sub.key, item))
    return item, effects
