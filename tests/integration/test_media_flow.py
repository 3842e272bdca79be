"""Images and audio end to end: the API's checks and limits, the content store, the image and
audio stages in the real worker, the hash bank, and tenants kept apart."""

from __future__ import annotations

import pytest

from gova.models.image import pdq
from tests.fakes.media import b64, encoded, picture, speech
from tests.integration.conftest import client_for, eventually, new_id


def media_event(kind: str, data: bytes | str, **kw) -> dict:
    content = data if isinstance(data, str) else b64(data)
    return {
        "id": new_id(kind[:3]),
        "userId": new_id("author"),
        "contentType": kind,
        "content": content,
        **kw,
    }


async def verdict_of(api, body: dict, timeout: float = 90.0) -> dict:
    """Submit, then poll until the item is decided (models load on first use)."""
    r = await api.post("/api/v1/moderate", json=body)
    assert r.status_code in (200, 202), r.text

    async def done():
        got = await api.get(f"/api/v1/content/{body['id']}")
        return got.json() if got.status_code == 200 else None

    return await eventually(done, timeout=timeout, interval=0.2)


async def test_an_image_is_checked_stored_once_and_judged(running, api, pool, tenant):
    data = encoded(picture(seed=4242), "JPEG", quality=85)
    first = await verdict_of(api, media_event("image", data))
    assert first["status"] == "done" and first["content_type"] == "image"
    assert first["decision"] == "allow" and first["flagged"] == []
    assert set(first["scores"]) == {"sexual", "violence/graphic"}
    media = first["media"]
    assert (media["format"], media["size"], media["width"], media["height"]) == (
        "jpeg",
        len(data),
        320,
        240,
    )
    assert len(media["pdq"]) == 64 and first["thresholds"]["sexual"] == 0.8
    # The same bytes again, as a data: URL: a second item, the same stored file.
    again = await verdict_of(api, media_event("image", f"data:image/jpeg;base64,{b64(data)}"))
    assert again["media"]["sha256"] == media["sha256"] and again["cached"]
    rows = await pool.fetch(
        "SELECT tenant_id, size FROM media_blobs WHERE sha256 = $1", media["sha256"]
    )
    assert [tuple(r) for r in rows] == [("acme", len(data))]


async def test_bad_media_gets_a_clear_4xx_naming_the_limit(running, api):
    limits = running.settings
    cases = [
        (
            media_event("image", speech("hello")),
            422,
            "contentType is 'image' but the bytes are WAV",
        ),
        (media_event("audio", encoded(picture(), "PNG")), 422, "bytes are PNG image"),
        (media_event("image", encoded(picture(), "PNG")[:300]), 422, "truncated or corrupt"),
        (media_event("image", "not base64!"), 422, "must be base64"),
        (
            media_event("image", encoded(picture(2100, 2000), "JPEG", quality=10)),
            413,
            f"over the limit GOVA_IMAGE_MAX_PIXELS={limits.image_max_pixels:,}",
        ),
        (
            media_event("image", b"\x89PNG\r\n\x1a\n" + b"\0" * limits.image_max_bytes),
            413,
            "GOVA_IMAGE_MAX_BYTES",
        ),
    ]
    for body, code, needle in cases:
        r = await api.post("/api/v1/moderate", json=body)
        assert r.status_code == code, (needle, r.text)
        assert needle in r.json()["detail"] and "body.content" in r.json()["detail"], r.text
        assert (await api.get(f"/api/v1/content/{body['id']}")).status_code == 404


async def test_the_hash_bank_flags_known_images_per_tenant(running, api, tenant_b):
    image = picture(seed=777)
    digest, _ = pdq(image)
    png = encoded(image, "PNG")
    r = await api.post(
        "/api/v1/hash-bank/entries",
        json={"image": b64(png), "label": "case 17", "category": "violence/graphic"},
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["pdq"] == digest and entry["category"] == "violence/graphic"
    listed = (await api.get("/api/v1/hash-bank/entries")).json()
    assert entry["id"] in [e["id"] for e in listed["items"]]
    # A re-encoded, resized copy still matches.
    copy = encoded(image.resize((256, 192)), "WEBP", quality=60)
    r = await api.post("/api/v1/hash-bank/match", json={"image": b64(copy)})
    assert r.json()["match"]["id"] == entry["id"] and r.json()["distance"] <= 31

    verdict = await verdict_of(api, media_event("image", copy))
    assert verdict["decision"] == "act" and verdict["flagged"] == ["violence/graphic"]
    assert verdict["media"]["match"]["entry_id"] == entry["id"]
    assert verdict["model"] == "hash-bank:pdq"

    async with client_for(running, tenant_b["key"]) as other:
        assert (await other.get("/api/v1/hash-bank/entries")).json()["items"] == []
        r = await other.post("/api/v1/hash-bank/match", json={"pdq": digest})
        assert r.json()["match"] is None
        assert (await other.delete(f"/api/v1/hash-bank/entries/{entry['id']}")).status_code == 404
        theirs = await verdict_of(other, media_event("image", copy))
        assert theirs["decision"] == "allow" and theirs["media"]["match"] is None
        assert (await other.get(f"/api/v1/content/{verdict['content_id']}")).status_code == 404

    assert (await api.delete(f"/api/v1/hash-bank/entries/{entry['id']}")).status_code == 204
    assert (await api.delete(f"/api/v1/hash-bank/entries/{entry['id']}")).status_code == 404
    r = await api.post("/api/v1/hash-bank/match", json={"pdq": digest})
    assert r.json()["match"] is None
    r = await api.post("/api/v1/hash-bank/entries", json={"pdq": "xyz", "category": "sexual"})
    assert r.status_code == 422 and "pdq" in r.json()["detail"]


async def test_spoken_insult_acts_and_a_neutral_sentence_does_not(running, api):
    insult = await verdict_of(
        api, media_event("audio", speech("you are a stupid worthless idiot and I hate you"))
    )
    assert insult["content_type"] == "audio" and insult["decision"] == "act", insult
    media = insult["media"]
    assert media["format"] == "wav" and media["language"] == "en" and media["duration_s"] > 1
    assert "idiot" in media["transcript"].lower()
    segment = media["offending_segment"]
    assert segment and segment["start"] < segment["end"] and "idiot" in segment["text"].lower()
    assert {"rms_dbfs", "peak_dbfs", "loud_fraction", "clipped_fraction"} <= set(media["levels"])

    neutral = await verdict_of(
        api, media_event("audio", speech("let us walk to the park after lunch"))
    )
    assert neutral["decision"] == "allow" and neutral["flagged"] == []
    assert neutral["media"]["offending_segment"] is None


async def test_openai_moderations_scores_image_parts_given_as_data_urls(running, api):
    import openai
    from openai import AsyncOpenAI

    url = f"data:image/png;base64,{b64(encoded(picture(seed=31), 'PNG'))}"
    key = api.headers["Authorization"].removeprefix("Bearer ")
    async with AsyncOpenAI(base_url=f"{running.api_url}/v1", api_key=key, max_retries=0) as client:
        answer = await client.moderations.create(
            input=[
                {"type": "text", "text": "look at this"},
                {"type": "image_url", "image_url": {"url": url}},
            ]
        )
        [result] = answer.results
        applied = result.category_applied_input_types.model_dump(by_alias=True)
        assert applied["sexual"] == ["text", "image"] and applied["violence"] == ["text"]
        scores = result.category_scores.model_dump(by_alias=True)
        assert 0.0 <= scores["sexual"] < 0.5 and result.flagged is False
        with pytest.raises(openai.UnprocessableEntityError) as refused:
            await client.moderations.create(
                input=[{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
            )
        assert "input.image_url.url" in refused.value.message
        assert "not a recognised image" in refused.value.message


async def test_text_with_attachments_is_one_verdict_naming_the_part(running, api):
    image = picture(seed=4711)
    r = await api.post(
        "/api/v1/hash-bank/entries",
        json={"image": b64(encoded(image, "PNG")), "category": "sexual", "label": "known"},
    )
    assert r.status_code == 201, r.text
    body = {
        "id": new_id("multi"),
        "userId": new_id("author"),
        "contentType": "text",
        "content": "have a nice day",
        "attachments": [
            {"contentType": "audio", "content": b64(speech("see you at the park tomorrow"))},
            {"contentType": "image", "content": b64(encoded(image, "JPEG"))},
        ],
    }
    verdict = await verdict_of(api, body)
    assert verdict["decision"] == "act" and verdict["flagged"] == ["sexual"]
    assert verdict["triggered_by"] == 2 and verdict["parts_missing"] == []
    kinds = [(p["part"], p["content_type"]) for p in verdict["parts"]]
    assert kinds == [(0, "text"), (1, "audio"), (2, "image")]
    assert verdict["parts"][2]["media"]["match"]["label"] == "known"
    assert "park" in verdict["parts"][1]["media"]["transcript"].lower()
    assert verdict["parts"][0]["flagged"] == [] and verdict["parts"][1]["flagged"] == []
    await api.delete(f"/api/v1/hash-bank/entries/{r.json()['id']}")

    bad = body | {
        "id": new_id("multi"),
        "attachments": [{"contentType": "image", "content": "AAAA"}],
    }
    r = await api.post("/api/v1/moderate", json=bad)
    assert r.status_code == 422 and "body.attachments.0.content" in r.json()["detail"]


async def test_a_lost_part_is_given_up_on_after_the_timeout(running, api, pool):
    """One part of two reaches decide (the other is lost): the verdict still comes."""
    import time

    from aiokafka import AIOKafkaProducer

    from gova.core.keys import content_hash
    from gova.schemas import ContentEvent, Item, Policy
    from gova.streams import CONTENT_SCORED

    cid = new_id("lost")
    item = Item(
        tenant_id="acme",
        event=ContentEvent(id=cid, userId=new_id("author"), contentType="text", content="hi"),
        received_at=time.time(),
        policy=Policy(thresholds={"toxicity": 0.8}),
        text="hi",
        content_hash=content_hash("hi"),
        scores={"toxicity": 0.01},
        model="test",
        part=0,
        parts=2,
    )
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.broker())
    await producer.start()
    try:
        await producer.send_and_wait(
            CONTENT_SCORED.name, key=item.key.encode(), value=item.model_dump_json().encode()
        )
    finally:
        await producer.stop()

    async def decided():
        got = await api.get(f"/api/v1/content/{cid}")
        return got.json() if got.status_code == 200 else None

    verdict = await eventually(decided, timeout=30, interval=0.2)
    assert verdict["decision"] == "allow" and verdict["parts_missing"] == [1]
    waited = verdict["decided_at"] - verdict["received_at"]
    assert waited >= running.settings.parts_timeout_s


async def test_a_multipart_upload_on_the_same_endpoint(running, api):
    import json

    cid = new_id("up")
    png = encoded(picture(seed=999), "PNG")
    form = {
        "id": cid,
        "userId": new_id("author"),
        "contentType": "image",
        "metadata": json.dumps({"source": "upload"}),
    }
    r = await api.post("/api/v1/moderate", data=form, files={"file": ("x.png", png, "image/png")})
    assert r.status_code in (200, 202), r.text

    async def done():
        got = await api.get(f"/api/v1/content/{cid}")
        return got.json() if got.status_code == 200 else None

    verdict = await eventually(done, timeout=60, interval=0.2)
    assert verdict["media"]["format"] == "png" and verdict["media"]["size"] == len(png)

    # The same checks as JSON: a WAV as `file` of an image item is refused, naming why.
    wav = speech("hello")
    form |= {"id": new_id("up")}
    r = await api.post("/api/v1/moderate", data=form, files={"file": ("x.png", wav, "image/png")})
    assert r.status_code == 422 and "bytes are WAV audio" in r.json()["detail"]
    r = await api.post("/api/v1/moderate", data={"id": new_id("up")}, files={"file": ("a", b"x")})
    assert r.status_code == 422 and "body.userId" in r.json()["detail"]
