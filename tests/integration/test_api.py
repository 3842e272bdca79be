"""Over HTTP against the running stack: verdicts, storage, duplicates, errors, tenancy."""

from __future__ import annotations

import asyncio

from tests.conftest import new_tenant
from tests.integration.conftest import client_for, event, eventually, new_id

TOXIC = "you are a stupid worthless idiot"
BENIGN = "thanks for the help, see you at the meetup"


async def stored(pool, tenant_id: str, cid: str) -> list:
    return await pool.fetch(
        "SELECT verdict FROM moderation_results WHERE tenant_id=$1 AND content_id=$2",
        tenant_id,
        cid,
    )


async def test_wait_answers_with_the_stored_verdict(api, pool, tenant):
    cid = new_id()
    r = await api.post("/api/v1/moderate?wait=true", json=event(cid, TOXIC))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "done" and body["decision"] == "act"
    assert "toxicity" in body["flagged"]
    assert body["scores"]["toxicity"] >= body["thresholds"]["toxicity"]
    assert body["language"]["code"] == "en" and body["language"]["well_covered"]
    assert body["latency_ms"] > 0
    [row] = await stored(pool, tenant["id"], cid)
    answered = {k: v for k, v in body.items() if k not in ("status", "stored_at")}
    assert row["verdict"] == answered


async def test_accepted_then_polled(api):
    cid = new_id()
    r = await api.post("/api/v1/moderate", json=event(cid, BENIGN))
    assert r.status_code == 202
    url = r.json()["status_url"]
    assert url.endswith(f"/api/v1/content/{cid}")

    async def done():
        got = await api.get(url)
        return got.json() if got.status_code == 200 else None

    verdict = await eventually(done)
    assert verdict["decision"] == "allow" and verdict["content_id"] == cid


async def test_duplicate_posts_leave_one_row(api, pool, tenant):
    cid = new_id()
    first, second = await asyncio.gather(
        api.post("/api/v1/moderate?wait=true", json=event(cid, BENIGN)),
        api.post("/api/v1/moderate?wait=true", json=event(cid, BENIGN)),
    )
    third = await api.post("/api/v1/moderate?wait=true", json=event(cid, BENIGN))
    assert {first.status_code, second.status_code, third.status_code} == {200}
    assert first.json() == second.json() == third.json()
    assert len(await stored(pool, tenant["id"], cid)) == 1


async def test_identical_content_is_classified_once(api):
    text = f"{BENIGN} {new_id()}"
    a = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), text))
    b = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), "  " + text))
    assert (a.json()["cached"], b.json()["cached"]) == (False, True)
    assert a.json()["scores"] == b.json()["scores"]


async def test_batch(api):
    items = [event(new_id("b"), t, user="batcher") for t in (TOXIC, BENIGN, BENIGN + "!")]
    r = await api.post("/api/v1/moderate/batch?wait=true", json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["content_id"] for x in results] == [i["id"] for i in items]
    assert [x["decision"] for x in results] == ["act", "allow", "allow"]

    too_many = [event(new_id("b"), BENIGN) for _ in range(101)]
    r = await api.post("/api/v1/moderate/batch", json={"items": too_many})
    assert r.status_code == 422 and "body.items" in r.json()["detail"]


async def test_bad_requests_get_4xx_naming_the_field(running, api):
    async with client_for(running, None) as anonymous:
        r = await anonymous.post("/api/v1/moderate", json=event(new_id(), BENIGN))
        assert r.status_code == 401
    async with client_for(running, "gova_not-a-real-key") as wrong:
        r = await wrong.post("/api/v1/moderate", json=event(new_id(), BENIGN))
        assert r.status_code == 401 and "invalid" in r.json()["detail"]

    cases = [
        ({"userId": "u", "contentType": "text", "content": "x"}, 422, "body.id"),
        (event(new_id(), "x") | {"contentType": "video"}, 422, "body.contentType"),
        (event(new_id(), "x") | {"contentType": "image"}, 422, "body.content: image content must"),
        (event(new_id(), "x") | {"contentType": "audio"}, 422, "body.content: audio content must"),
        (event(new_id(), "x" * 30_000), 422, "body.content"),
        (event(new_id(), ""), 422, "body.content"),
        (event(new_id(), "x", metadata={"priority": "urgent"}), 422, "body.metadata.priority"),
    ]
    for body, code, needle in cases:
        r = await api.post("/api/v1/moderate", json=body)
        assert r.status_code == code, (body, r.text)
        assert needle in r.json()["detail"], (needle, r.text)

    r = await api.post(
        "/api/v1/moderate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "body" in r.json()["detail"]
    # The moderate routes take base64 images and audio: their limit is the media one.
    limit = running.settings.media_body_bytes
    r = await api.post("/api/v1/moderate", content=b"x" * (limit + 1))
    assert r.status_code == 413 and f"body: larger than {limit} bytes" in r.json()["detail"]
    r = await api.put("/api/v1/policy", content=b"x" * (running.settings.max_body_bytes + 1))
    assert r.status_code == 413 and "body" in r.json()["detail"]

    async def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(limit // 65_536 + 2):
            yield b"x" * 65_536

    r = await api.post("/api/v1/moderate", content=chunks())
    assert r.status_code == 413 and "body" in r.json()["detail"]
    r = await api.get(f"/api/v1/content/{new_id()}")
    assert r.status_code == 404


async def test_curl_style_form_content_type_is_read_as_json(api):
    r = await api.post(
        "/api/v1/moderate?wait=true",
        content=f'{{"id":"{new_id()}","userId":"{new_id()}","contentType":"text","content":"hi"}}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json()["decision"] == "allow"


async def test_tenants_never_see_each_other(running, api, tenant_b):
    cid = new_id()
    assert (await api.post("/api/v1/moderate?wait=true", json=event(cid, TOXIC))).status_code == 200
    async with client_for(running, tenant_b["key"]) as other:
        assert (await other.get(f"/api/v1/content/{cid}")).status_code == 404
        mine = await other.post("/api/v1/moderate?wait=true", json=event(cid, BENIGN))
        assert mine.json()["tenant_id"] == "globex" and mine.json()["decision"] == "allow"
    assert (await api.get(f"/api/v1/content/{cid}")).json()["decision"] == "act"


async def test_tenant_policy_overrides_default_thresholds(running, tenant_b):
    async with client_for(running, tenant_b["key"]) as api:
        text = f"{BENIGN} {new_id()}"
        default = (await api.post("/api/v1/moderate?wait=true", json=event(new_id(), text))).json()
        assert default["decision"] == "allow"
        strict = default["scores"]["toxicity"] / 2
        r = await api.put("/api/v1/policy", json={"thresholds": {"toxicity": strict}})
        assert r.status_code == 200 and r.json()["effective"]["thresholds"]["toxicity"] == strict
        try:
            after = (
                await api.post("/api/v1/moderate?wait=true", json=event(new_id(), text))
            ).json()
            assert (after["decision"], after["flagged"], after["cached"]) == (
                "act",
                ["toxicity"],
                True,
            )
            assert after["thresholds"]["toxicity"] == strict
            bad = await api.put("/api/v1/policy", json={"thresholds": {"nudity": 0.5}})
            assert bad.status_code == 422 and "unknown categories" in bad.json()["detail"]
            bad = await api.put("/api/v1/policy", json={"thresholds": {"toxicity": 2}})
            assert bad.status_code == 422 and "thresholds" in bad.json()["detail"]
        finally:
            await api.put("/api/v1/policy", json={"thresholds": {}})


async def test_an_id_repeated_in_a_batch_is_one_item(api, pool, tenant):
    cid = new_id("b")
    items = [event(cid, TOXIC, user="repeater"), event(cid, BENIGN, user="repeater")]
    r = await api.post("/api/v1/moderate/batch?wait=true", json={"items": items})
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first == second and first["decision"] == "act"  # the first occurrence's verdict
    assert len(await stored(pool, tenant["id"], cid)) == 1


async def test_metadata_timestamp_is_an_rfc3339_date_time(api):
    ok = event(new_id(), BENIGN, metadata={"timestamp": "2026-05-01T12:00:00+02:00"})
    assert (await api.post("/api/v1/moderate", json=ok)).status_code == 202
    for loose in (0, "0", "2026-05-01", "2026-05-01T12:00:00"):
        r = await api.post(
            "/api/v1/moderate", json=event(new_id(), BENIGN, metadata={"timestamp": loose})
        )
        assert r.status_code == 422, (loose, r.text)
        assert "body.metadata.timestamp" in r.json()["detail"]


async def test_policy_numbers_and_band(running, pool):
    tenant = await new_tenant(pool, new_id("policy"))
    async with client_for(running, tenant["key"]) as api:
        r = await api.put("/api/v1/policy", json={"review_band": [0.8, 0.2]})
        assert r.status_code == 200 and r.json()["overrides"]["review_band"] == [0.2, 0.8]
        for loose in ({"thresholds": {"toxicity": "0.5"}}, {"review_band": [0, True]}):
            r = await api.put("/api/v1/policy", json=loose)
            assert r.status_code == 422, (loose, r.text)
        assert (await api.get("/api/v1/policy")).json()["overrides"]["review_band"] == [0.2, 0.8]


async def test_text_postgresql_cannot_store_is_refused(api):
    r = await api.put("/api/v1/moderators/nul", json={"guidelines": "G1: be kind\x00"})
    assert r.status_code == 422 and "body.guidelines" in r.json()["detail"], r.text
    assert (await api.get("/api/v1/moderators/nul")).status_code == 404


async def test_unsupported_methods_list_every_allowed_one(api):
    for path, allowed in [("/api/v1/policy", "GET, PUT"), ("/api/v1/moderate", "POST")]:
        r = await api.delete(path)
        assert r.status_code == 405 and r.headers["allow"] == allowed, (path, r.headers)
