"""Images/s and the audio real-time factor inside the pipeline, beside the bare models, in one
run; and the recogniser's word error rate on Debian's LibriVox clips.

    make bench-media    # or: .venv/bin/python -m bench.media_stage [--images N] [--out PATH]

Writes bench/results/media_stage.json.

Starts a private stack in a temporary directory (embedded Kafka, PostgreSQL, Redis and one
Faust worker; no API: the files go into the content store and the items onto content.raw as
the API would put them) and stops it afterwards. Phases:

1. bare image model: N distinct pictures (640x480 JPEG, made here), decoded as the stage
   decodes them, PDQ-hashed and classified in batches of GOVA_IMAGE_BATCH_SIZE; images/s of
   the whole per-image work, and of the classifier's run alone.
2. image pipeline: N other pictures (another seed: near-duplicates would reuse scores and
   skip the model) stored and submitted at once, after one warm-up item (the worker loads
   its model on first use); images/s = N ÷ (first accepted → last verdict stored), from
   PostgreSQL (ingest → image stage → decide → persist).
3. bare recogniser: faster-whisper tiny.en (VAD on) over the LibriVox clips and espeak-ng
   sentences; real-time factor = processing seconds ÷ audio seconds; word error rate on the
   LibriVox clips against their transcription (lower case, punctuation dropped, "mr" read
   "mister").
4. audio pipeline: the same clips submitted at once; real-time factor = (first accepted →
   last stored) ÷ total audio seconds (decode, levels, recogniser, text model, decide,
   persist; one worker).

Floors asked of it (issue 13): ≥ 50 images/s and RTF ≤ 0.25 on this 2-core box; the run
prints whether each is met. The load average is printed at start and end: anything else on
the box slows every phase, the bare ones included, so compare figures within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
SENTENCES = [
    "you are a stupid worthless idiot and nobody likes you",
    "the meeting is moved to thursday afternoon at three",
    "please send me the report before the end of the week",
    "I will find you and hurt you if you come back here",
]


def say(message: str) -> None:
    print(f"bench.media: {message}", flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pictures(n: int, seed: int) -> list[bytes]:
    from tests.fakes.media import encoded, picture

    return [encoded(picture(640, 480, seed=seed + i), "JPEG", quality=85) for i in range(n)]


def normalise(text: str) -> list[str]:
    text = text.lower().replace("mr.", "mister").replace("-", " ")
    return re.sub(r"[^a-z' ]+", " ", text).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def librivox() -> list[tuple[str, bytes, list[str]]]:
    """(name, WAV bytes, reference words) of each clip of pocketsphinx-testdata."""
    lines = Path(LIBRIVOX, "transcription").read_text().splitlines()
    refs = {}
    for line in lines:
        words, _, name = line.rpartition("(")
        refs[name.strip(") ")] = normalise(words.replace("<s>", "").replace("</s>", ""))
    return [
        (Path(p).stem, Path(p).read_bytes(), refs[Path(p).stem])
        for p in sorted(glob.glob(f"{LIBRIVOX}/*.wav"))
    ]


def bare_images(data: list[bytes], batch: int) -> dict:
    from gova.media.inspect import image_frames
    from gova.models.image import load_image_model, pdq
    from gova.settings import get_settings

    settings = get_settings()
    model = load_image_model()
    # Warm-up at the batch size measured: onnxruntime's arena and kernels settle over the
    # first few runs of a shape (the first run of a batch of 16 takes ~3x a settled one).
    warm = [image_frames(d, "jpeg", settings)[0] for d in data[:batch]]
    for _ in range(3):
        model.classify(warm)
    start, model_s, cpu = time.perf_counter(), 0.0, time.process_time()
    for at in range(0, len(data), batch):
        frames = [image_frames(d, "jpeg", settings)[0] for d in data[at : at + batch]]
        for f in frames:
            pdq(f)
        t = time.perf_counter()
        model.classify(frames)
        model_s += time.perf_counter() - t
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "model": model.name,
        "images": len(data),
        "images_per_s": round(len(data) / total, 2),
        "cpu_ms_per_image": round(1000 * cpu / len(data), 2),
        "classifier_only_images_per_s": round(len(data) / model_s, 2),
    }


def bare_audio(clips: list[tuple[str, bytes, list[str] | None]]) -> dict:
    from gova.media.inspect import SAMPLE_RATE, decode_audio
    from gova.models.audio import load_recogniser
    from gova.settings import get_settings

    settings = get_settings()
    stt = load_recogniser(settings.whisper_model_dir, settings.whisper_threads)
    stt.transcribe(decode_audio(clips[0][1], "wav", settings))  # warm-up
    audio_s = busy_s = 0.0
    errors = words = 0
    per_clip = []
    for name, wav, reference in clips:
        samples = decode_audio(wav, "wav", settings)
        t = time.perf_counter()
        transcript = stt.transcribe(samples)
        took = time.perf_counter() - t
        seconds = len(samples) / SAMPLE_RATE
        audio_s, busy_s = audio_s + seconds, busy_s + took
        row = {
            "clip": name,
            "seconds": round(seconds, 2),
            "rtf": round(took / seconds, 3),
            "transcript": transcript.text,
        }
        if reference is not None:
            e = word_errors(reference, normalise(transcript.text))
            errors, words = errors + e, words + len(reference)
            row["wer"] = round(e / len(reference), 3)
        per_clip.append(row)
    return {
        "model": stt.name,
        "audio_s": round(audio_s, 2),
        "rtf": round(busy_s / audio_s, 3),
        "librivox_wer": round(errors / words, 4) if words else None,
        "librivox_words": words,
        "clips": per_clip,
    }


async def submit_media(settings, tenant: str, run: str, kind: str, files: list[bytes]) -> list[str]:
    from aiokafka import AIOKafkaProducer

    from gova.media.inspect import inspect
    from gova.models.text import deployment_thresholds
    from gova.schemas import ContentEvent, Policy, Submission
    from gova.storage import PostgresStorage
    from gova.streams import CONTENT_RAW

    storage = await PostgresStorage.connect(settings.database())
    thresholds = {**deployment_thresholds(settings)}
    if kind == "image":
        thresholds.update(settings.image_thresholds)
    policy = Policy(thresholds=thresholds, review_band=None)
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker(), linger_ms=5)
    await producer.start()
    ids = []
    try:
        subs = []
        for i, data in enumerate(files):
            media = inspect(kind, data, settings)
            await storage.media.put(
                tenant, media.sha256, kind, media.format, data, time.time() + 3600
            )
            cid = f"{run}-{i}"
            ids.append(cid)
            subs.append(
                Submission(
                    tenant_id=tenant,
                    event=ContentEvent(
                        id=cid,
                        userId=f"{run}-u{i}",
                        contentType=kind,
                        content=f"sha256:{media.sha256}",
                    ),
                    received_at=0.0,
                    policy=policy,
                    media=media,
                )
            )
        for sub in subs:  # accepted now: the clock starts when the first goes out
            sub.received_at = time.time()
            await producer.send(
                CONTENT_RAW.name,
                key=sub.key.encode(),
                value=sub.model_dump_json(by_alias=True).encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()
        await storage.close()
    return ids


def through_pipeline(settings, tenant: str, kind: str, files: list[bytes], timeout: float):
    from bench.run import collect

    run = f"{kind[:3]}{uuid.uuid4().hex[:8]}"
    asyncio.run(submit_media(settings, tenant, run, kind, files))
    rows = asyncio.run(collect(settings.database(), tenant, run, len(files), timeout=timeout))
    if len(rows) < len(files):
        raise SystemExit(f"only {len(rows)}/{len(files)} {kind} verdicts within {timeout}s")
    first = min(r["received_at"] for r in rows)
    last = max(r["stored_at"] for r in rows)
    return (last - first).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=192)
    parser.add_argument("--out", type=Path, default=Path("bench/results/media_stage.json"))
    args = parser.parse_args()

    os.environ["GOVA_DATA_DIR"] = tempfile.mkdtemp(prefix="gova-bench-media-", dir="/tmp")
    os.environ.setdefault("GOVA_RATE_LIMIT_BURST", "1000000")
    from gova.runners.up import DEMO_LABEL, DEMO_TENANT, Stack, create_key
    from gova.settings import get_settings
    from tests.fakes.media import speech

    settings = get_settings()
    result: dict = {"load_start": load(), "cores": os.cpu_count()}
    say(f"load average at start: {result['load_start']} ({os.cpu_count()} cores)")
    stack = Stack(settings)
    try:
        stack.start_infra()
        stack.prepare()
        asyncio.run(create_key(settings.database(), DEMO_TENANT, DEMO_LABEL))
        stack.start_worker()

        say(
            f"[1/4] bare image model: {args.images} pictures, batches of "
            f"{settings.image_batch_size} ..."
        )
        result["bare_images"] = bare_images(
            pictures(args.images, seed=1), settings.image_batch_size
        )
        say(f"[1/4] {result['bare_images']}")

        say(f"[2/4] image pipeline: {args.images} other pictures at once ...")
        through_pipeline(settings, DEMO_TENANT, "image", pictures(1, seed=90_000), timeout=300)
        took = through_pipeline(
            settings,
            DEMO_TENANT,
            "image",
            pictures(args.images, seed=50_000),
            timeout=max(120, args.images),
        )
        result["pipeline_images_per_s"] = round(args.images / took, 2)
        say(f"[2/4] pipeline: {result['pipeline_images_per_s']} images/s")

        clips: list[tuple[str, bytes, list[str] | None]] = [
            (name, wav, ref) for name, wav, ref in librivox()
        ] + [(f"espeak-{i}", speech(s), None) for i, s in enumerate(SENTENCES)]
        say(f"[3/4] bare recogniser: {len(clips)} clips ...")
        result["bare_audio"] = bare_audio(clips)
        say(
            f"[3/4] rtf {result['bare_audio']['rtf']}, LibriVox WER "
            f"{result['bare_audio']['librivox_wer']} over {result['bare_audio']['librivox_words']}"
            " words"
        )

        say(f"[4/4] audio pipeline: the same {len(clips)} clips at once ...")
        through_pipeline(settings, DEMO_TENANT, "audio", [speech("warming up")], timeout=300)
        took = through_pipeline(settings, DEMO_TENANT, "audio", [c[1] for c in clips], timeout=300)
        result["pipeline_audio_rtf"] = round(took / result["bare_audio"]["audio_s"], 3)
        say(f"[4/4] pipeline rtf {result['pipeline_audio_rtf']}")
    finally:
        stack.stop_all()
    result["load_end"] = load()
    result["floors"] = {
        "pipeline images/s >= 50": result["pipeline_images_per_s"] >= 50,
        "bare images/s >= 50": result["bare_images"]["images_per_s"] >= 50,
        "pipeline audio rtf <= 0.25": result["pipeline_audio_rtf"] <= 0.25,
        "bare audio rtf <= 0.25": result["bare_audio"]["rtf"] <= 0.25,
    }
    say(f"load average at end: {result['load_end']}")
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
