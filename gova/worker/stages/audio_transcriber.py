"""content.audio → decode, levels, speech to text, the text model over the transcript →
content.scored.

The clip's bytes are read from the content store by reference and decoded to 16 kHz mono
within GOVA_AUDIO_MAX_SECONDS. Its loudness and clipping are measured (`media.levels`, a
signal of its own: it says how loud, not what is said). The recogniser (VAD-gated
faster-whisper) gives the transcript with segment times; the same text model as the text
stage scores the whole transcript and each segment, so the item's score per category is the
highest of them and the verdict can point at the segment that carries it
(`media.offending_segment`). The text is folded (evasion undone) as ingest folds text. The
transcript then is the item's text: the policy, the review band and the LLM reviewer treat
it as any text. Scoring here rather than in the text stage saves a hop and keeps the
per-segment scores, which the text stage has no notion of.
"""

from __future__ import annotations

import asyncio

from gova.core.policy import flagged
from gova.media.inspect import decode_audio
from gova.models.audio import levels
from gova.models.evasion import fold
from gova.schemas import Item
from gova.schemas.media import Segment
from gova.streams import CONTENT_AUDIO, CONTENT_SCORED
from gova.worker.app import app, settings
from gova.worker.media_resources import read_media, recogniser
from gova.worker.resources import resources
from gova.worker.stages.plumbing import each_event, emit
from gova.worker.topics import topics


def offending(item: Item, segments: list[Segment]) -> Segment | None:
    """The segment that scores highest in the most strongly flagged category, if any is."""
    hits = flagged(item.policy, item.scores or {})
    if not hits or not segments:
        return None
    worst = max(hits, key=lambda c: (item.scores or {})[c])
    return max(segments, key=lambda s: (s.scores or {}).get(worst, 0.0))


async def transcribe(item: Item) -> Item:
    data = await read_media(item)
    media = item.media
    assert media is not None
    samples = await asyncio.to_thread(decode_audio, data, media.format, settings)
    stt = await recogniser.get()
    transcript = await asyncio.to_thread(stt.transcribe, samples)
    segments = [Segment(start=a, end=b, text=t) for a, b, t in transcript.segments if t]
    text = fold(transcript.text)
    model = await resources.text_model()
    scores: dict[str, float] = {}
    language = None
    if text:
        texts = [text, *(fold(s.text) for s in segments)]
        all_scores, languages = await asyncio.to_thread(model.analyse, texts)
        language = languages[0]
        for segment, s in zip(segments, all_scores[1:], strict=True):
            segment.scores = s
        scores = {c: max(s.get(c, 0.0) for s in all_scores) for c in all_scores[0]}
    item = item.model_copy(
        update={
            "text": text,
            "scores": scores,
            "language": language,
            "model": f"{stt.name}+{model.name}",
            "media": media.model_copy(
                update={
                    "duration_s": round(len(samples) / 16_000, 3),
                    "transcript": transcript.text,
                    "language": transcript.language,
                    "segments": segments,
                    "levels": levels(samples),
                }
            ),
        }
    )
    assert item.media is not None
    item.media.offending_segment = offending(item, segments)
    await emit(CONTENT_SCORED, item.key, item)
    return item


@app.agent(topics[CONTENT_AUDIO.name])
async def transcribe_audio(stream):
    async for outcome in each_event(stream, "transcribe_audio", Item, transcribe):
        yield outcome
