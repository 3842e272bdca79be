"""The OpenAI- and Perspective-compatible endpoints against the running API, through the
clients those APIs' users already have; and the per-tenant rate limit they share.

Scores come from whichever text model is installed, so these tests assert shapes exactly
and behaviour only through toxicity, never exact scores.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from types import SimpleNamespace

import httpx
import openai
import pytest
from fastapi import HTTPException
from openai import AsyncOpenAI
from openai.types import ModerationCreateResponse

from gova import cache
from gova.api import ratelimit, text_scoring
from gova.api.app import create_app
from gova.models.text import OPENAI_CATEGORIES
from tests.conftest import new_tenant
from tests.fakes.perspective_requests import REQUESTS, Recorded
from tests.integration.conftest import client_for

TOXIC = "you are a stupid worthless idiot"
BENIGN = "thanks, have a nice day"
ANALYZE = "/v1alpha1/comments:analyze"
OPENAI_ERROR_KEYS = {"message", "type", "param", "code"}
RESULT_KEYS = {"flagged", "categories", "category_scores", "category_applied_input_types"}


async def fresh_tenant(pool) -> dict:
    """A tenant of its own, so policies and rate limits here touch no other test."""
    return await new_tenant(pool, f"compat-{uuid.uuid4().hex[:8]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openai_client(running, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{running.api_url}/v1", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
async def acme(pool) -> dict:
    return await fresh_tenant(pool)


def assert_result_shape(result: dict) -> None:
    assert set(result) == RESULT_KEYS
    assert isinstance(result["flagged"], bool)
    assert list(result["categories"]) == list(OPENAI_CATEGORIES)
    assert all(isinstance(v, bool) for v in result["categories"].values())
    assert list(result["category_scores"]) == list(OPENAI_CATEGORIES)
    # As in OpenAI's API: flagged exactly when some category is.
    assert result["flagged"] == any(result["categories"].values())
    for value in result["category_scores"].values():
        assert isinstance(value, float) and 0.0 <= value <= 1.0
    assert result["category_applied_input_types"] == {c: ["text"] for c in OPENAI_CATEGORIES}


async def toxicity(api: httpx.AsyncClient, text: str) -> float:
    r = await api.post(
        ANALYZE, json={"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}}
    )
    assert r.status_code == 200, r.text
    return r.json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"]


# --- OpenAI: POST /v1/moderations -----------------------------------------------------------


async def test_openai_response_shape(running, acme):
    async with client_for(running, acme["key"]) as api:
        # "you suck" was flagged with every category false (by toxicity and profanity).
        r = await api.post("/v1/moderations", json={"input": [TOXIC, BENIGN, "", "you suck"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "model", "results"}
    assert body["id"].startswith("modr-") and len(body["id"]) == len("modr-") + 32
    assert body["model"].startswith("gova-text-")
    assert len(body["results"]) == 4
    for result in body["results"]:
        assert_result_shape(result)


def same_scores(a, b) -> bool:
    """Equal up to float32 summation order, which differs with the batch's shape."""
    a, b = a.model_dump(by_alias=True), b.model_dump(by_alias=True)
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-5 for k in a)


async def test_openai_client_string_list_and_parts(running, acme):
    async with openai_client(running, acme["key"]) as client:
        one = await client.moderations.create(input=TOXIC, model="omni-moderation-latest")
        assert one.id.startswith("modr-") and one.model == "omni-moderation-latest"
        [result] = one.results
        assert isinstance(result.flagged, bool)
        scores = result.category_scores.model_dump(by_alias=True)
        assert set(scores) == set(OPENAI_CATEGORIES)

        many = await client.moderations.create(input=[BENIGN, TOXIC, ""])
        assert len(many.results) == 3 and many.model.startswith("gova-text-")
        # One result per input, in order: the toxic one alone answers like the string input.
        assert same_scores(many.results[1].category_scores, result.category_scores)

        parts = await client.moderations.create(input=[{"type": "text", "text": TOXIC}])
        assert len(parts.results) == 1
        assert same_scores(parts.results[0].category_scores, result.category_scores)

        empty = await client.moderations.create(input=[])
        assert empty.results == []

        with pytest.raises(openai.UnprocessableEntityError) as refused:
            await client.moderations.create(
                input=[
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ]
            )
        assert "must be a data: URL" in refused.value.message  # no URL is fetched


async def test_openai_flags_follow_each_tenants_policy(running, pool):
    a, b = await fresh_tenant(pool), await fresh_tenant(pool)
    async with client_for(running, a["key"]) as api_a, client_for(running, b["key"]) as api_b:
        tox_toxic, tox_benign = await toxicity(api_b, TOXIC), await toxicity(api_b, BENIGN)
        assert tox_toxic > tox_benign

        async def flags(key: str) -> list[tuple[bool, dict]]:
            async with openai_client(running, key) as client:
                out = [await client.moderations.create(input=t) for t in (TOXIC, BENIGN)]
            return [(m.results[0].flagged, m.results[0].categories.model_dump()) for m in out]

        b_before = await flags(b["key"])
        assert b_before[1][0] is False  # the deployment's defaults do not flag a kind text

        # A flags toxicity beyond half the kind text's: Gova's verdicts would flag both, but
        # toxicity is no OpenAI category, so /v1/moderations flags neither for it.
        r = await api_a.put("/api/v1/policy", json={"thresholds": {"toxicity": tox_benign / 2}})
        assert r.status_code == 200, r.text
        assert [flagged for flagged, _ in await flags(a["key"])] == [b_before[0][0], False]
        # A flags any harassment at all: both texts, for A only, and it says why.
        r = await api_a.put("/api/v1/policy", json={"thresholds": {"harassment": 1e-9}})
        assert r.status_code == 200, r.text
        a_after = await flags(a["key"])
        assert [flagged for flagged, _ in a_after] == [True, True]
        assert all(categories["harassment"] for _, categories in a_after)
        assert await flags(b["key"]) == b_before


async def test_openai_errors_use_openais_envelope(running, acme):
    async with openai_client(running, "gova_not-a-real-key") as client:
        with pytest.raises(openai.AuthenticationError) as denied:
            await client.moderations.create(input=BENIGN)
    assert denied.value.code == "invalid_api_key"

    async with client_for(running, acme["key"]) as api:
        cases = [
            ({"input": [BENIGN] * 101}, "input", "at most 100"),
            ({"input": "x" * 30_000}, "input", "longer than"),
            ({"input": ["ok", "x" * 30_000]}, "input.1", "longer than"),
            ({"model": "m"}, "input", "Field required"),
            ({"input": 5}, "input", "must be a string"),
            ({"input": [{"type": "text"}]}, "input", "typed parts"),
        ]
        for body, param, needle in cases:
            r = await api.post("/v1/moderations", json=body)
            assert r.status_code == 422, (body, r.text)
            error = r.json()["error"]
            assert set(r.json()) == {"error"}
            assert set(error) == {"message", "type", "param", "code"}
            assert error["type"] == "invalid_request_error" and error["param"] == param
            assert needle in error["message"], (needle, error)
        r = await api.post(
            "/v1/moderations", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["error"]["param"] == "body"
    async with client_for(running, None) as anonymous:
        r = await anonymous.post("/v1/moderations", json={"input": BENIGN})
        assert r.status_code == 401 and "API key" in r.json()["error"]["message"]

    async with openai_client(running, acme["key"]) as client:
        with pytest.raises(openai.UnprocessableEntityError):
            await client.moderations.create(input=[BENIGN] * 101)


async def test_openai_rate_limit(running, pool, settings):
    """Each input costs a token: concurrent batches of 100 overrun the burst of 300."""
    assert settings.api_rate_burst <= 300
    tenant = await fresh_tenant(pool)
    async with openai_client(running, tenant["key"]) as client:
        await client.moderations.create(input=[])  # costs nothing; the key is now cached
        outcomes = await asyncio.gather(
            *(client.moderations.create(input=[BENIGN] * 100) for _ in range(6)),
            return_exceptions=True,
        )
    limited = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    assert limited, outcomes
    served = [o for o in outcomes if isinstance(o, ModerationCreateResponse)]
    assert len(served) + len(limited) == len(outcomes) and len(served) >= 3, outcomes
    error = limited[0]
    assert int(error.response.headers["retry-after"]) >= 1
    assert error.code == "rate_limit_exceeded" and "rate limit" in error.message


# --- Perspective: POST /v1alpha1/comments:analyze -------------------------------------------


def assert_analysis(recorded: Recorded, body: dict) -> None:
    request = recorded.body
    expected_keys = {"attributeScores", "languages", "detectedLanguages"}
    if "clientToken" in request:
        expected_keys.add("clientToken")
        assert body["clientToken"] == request["clientToken"]
    assert set(body) == expected_keys
    if "languages" in request:
        assert body["languages"] == request["languages"]
    assert all(isinstance(code, str) and code for code in body["detectedLanguages"])
    assert len(body["languages"]) >= 1
    text = request["comment"]["text"]
    assert set(body["attributeScores"]) == set(recorded.attributes)
    for attribute in body["attributeScores"].values():
        assert set(attribute) == {"spanScores", "summaryScore"}
        summary = attribute["summaryScore"]
        assert set(summary) == {"value", "type"} and summary["type"] == "PROBABILITY"
        assert isinstance(summary["value"], float) and 0.0 <= summary["value"] <= 1.0
        spans = attribute["spanScores"]
        assert len(spans) == recorded.spans
        for span in spans:
            assert set(span) == {"begin", "end", "score"}
            assert set(span["score"]) == {"value", "type"}
            assert span["score"]["type"] == "PROBABILITY"
            assert 0.0 <= span["score"]["value"] <= 1.0
        if recorded.spans == 1:
            assert (spans[0]["begin"], spans[0]["end"]) == (0, len(text))
            assert spans[0]["score"] == summary


@pytest.mark.parametrize("recorded", REQUESTS, ids=[r.name for r in REQUESTS])
async def test_perspective_recorded_requests(running, acme, recorded):
    async with client_for(running, acme["key"]) as bearer:
        by_header = await bearer.post(ANALYZE, json=recorded.body)
    async with client_for(running, None) as keyed:
        by_query = await keyed.post(ANALYZE, params={"key": acme["key"]}, json=recorded.body)
    for r in (by_header, by_query):
        assert r.status_code == 200, r.text
        assert_analysis(recorded, r.json())
    assert by_header.json() == by_query.json()


async def test_perspective_spans_are_sentences(running, acme):
    [recorded] = [r for r in REQUESTS if r.body.get("spanAnnotations")]
    text = recorded.body["comment"]["text"]
    async with client_for(running, acme["key"]) as api:
        r = await api.post(ANALYZE, json=recorded.body)
    spans = r.json()["attributeScores"]["TOXICITY"]["spanScores"]
    assert [text[s["begin"] : s["end"]] for s in spans] == [
        "Thanks for the review.",
        "You are an idiot!",
        "See you tomorrow.",
    ]
    insulting, thanks = spans[1]["score"]["value"], spans[0]["score"]["value"]
    assert insulting > thanks


async def test_perspective_toxicity_ranks_texts(running, acme):
    async with client_for(running, acme["key"]) as api:
        assert await toxicity(api, TOXIC) > await toxicity(api, BENIGN)
        r = await api.post(
            ANALYZE,
            json={
                "comment": {"text": TOXIC},
                "requestedAttributes": {"SEVERE_TOXICITY": {}, "TOXICITY": {}},
            },
        )
    scores = {k: v["summaryScore"]["value"] for k, v in r.json()["attributeScores"].items()}
    assert scores["SEVERE_TOXICITY"] <= scores["TOXICITY"]  # derived: toxicity × a fraction


def assert_perspective_error(r: httpx.Response, code: int, status: str) -> str:
    assert r.status_code == code, r.text
    assert set(r.json()) == {"error"}
    error = r.json()["error"]
    assert set(error) == {"code", "message", "status"}
    assert (error["code"], error["status"]) == (code, status)
    return error["message"]


async def test_perspective_errors(running, acme):
    comment = {"text": "hello there"}
    async with client_for(running, acme["key"]) as api:
        for unknown in ("FLIRTATION", "SEXUALLY_EXPLICIT"):
            r = await api.post(
                ANALYZE,
                json={"comment": comment, "requestedAttributes": {unknown: {}, "TOXICITY": {}}},
            )
            message = assert_perspective_error(r, 400, "INVALID_ARGUMENT")
            assert message.startswith(f"Attribute {unknown} does not support request languages")
            assert "TOXICITY" in message and "THREAT" in message
        bad = [
            ({"comment": {}, "requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
            ({"requestedAttributes": {"TOXICITY": {}}}, "comment"),
            ({"comment": {"text": "  "}, "requestedAttributes": {"TOXICITY": {}}}, "comment.text"),
            ({"comment": comment, "requestedAttributes": {}}, "requestedAttributes"),
            ({"comment": comment}, "requestedAttributes"),
            (
                {"comment": comment, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}},
                "scoreThreshold",
            ),
            (
                {"comment": {"text": "x" * 30_000}, "requestedAttributes": {"TOXICITY": {}}},
                "comment.text",
            ),
            (  # one attribute in two spellings: each is checked
                {
                    "comment": comment,
                    "requestedAttributes": {"toxicity": {"scoreType": "RAW"}, "TOXICITY": {}},
                },
                "scoreType",
            ),
        ]
        for body, needle in bad:
            r = await api.post(ANALYZE, json=body)
            assert needle in assert_perspective_error(r, 400, "INVALID_ARGUMENT"), body
        r = await api.post(ANALYZE, content=b"{", headers={"content-type": "application/json"})
        assert_perspective_error(r, 400, "INVALID_ARGUMENT")
        assert (await api.post("/v1alpha1/comments", json={})).status_code == 404

    ok = {"comment": comment, "requestedAttributes": {"TOXICITY": {}}}
    async with client_for(running, "gova_not-a-real-key") as wrong:
        assert_perspective_error(await wrong.post(ANALYZE, json=ok), 401, "UNAUTHENTICATED")
    async with client_for(running, None) as anonymous:
        r = await anonymous.post(ANALYZE, params={"key": "gova_not-a-real-key"}, json=ok)
        assert_perspective_error(r, 401, "UNAUTHENTICATED")
        r = await anonymous.post(ANALYZE, json=ok)
        assert "?key=" in assert_perspective_error(r, 401, "UNAUTHENTICATED")


async def test_unreadable_and_oversized_bodies_get_each_apis_envelope(running, acme, settings):
    too_big = b"x" * (settings.max_body_bytes + 1)
    # /v1/moderations takes images as data: URLs: its limit is the media one.
    too_big_media = b"x" * (settings.media_body_bytes + 1)
    json_type = {"content-type": "application/json"}
    async with client_for(running, acme["key"]) as api:
        for body, media_body, code in (
            (b"\x17\xff", b"\x17\xff", 400),
            (too_big, too_big_media, 413),
        ):
            r = await api.post("/v1/moderations", content=media_body, headers=json_type)
            assert r.status_code == code and set(r.json()["error"]) == OPENAI_ERROR_KEYS, r.text
            assert r.json()["error"]["type"] == "invalid_request_error"
            r = await api.post(ANALYZE, content=body, headers=json_type)
            assert_perspective_error(r, code, "INVALID_ARGUMENT")


async def test_perspective_counts_against_the_rate_limit(running, pool, redis):
    tenant = await fresh_tenant(pool)
    ok = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}}
    async with client_for(running, tenant["key"]) as api:
        assert (await api.post(ANALYZE, json=ok)).status_code == 200
        # Put the bucket in debt: the next request is refused whatever the refill rate.
        key = ratelimit.bucket_key(tenant["id"])
        await redis.hset(key, mapping={"tokens": "-1000000", "at": str(time.time())})
        r = await api.post(ANALYZE, json=ok)
    assert "rate limit" in assert_perspective_error(r, 429, "RESOURCE_EXHAUSTED")
    assert int(r.headers["retry-after"]) >= 1


async def test_routes_are_documented(running, settings):
    async with client_for(running, None) as anonymous:
        document = (await anonymous.get("/openapi.json")).json()
    paths = document["paths"]
    assert paths["/v1/moderations"]["post"]["summary"]
    assert paths[ANALYZE]["post"]["summary"]
    # The text limit is documented for text alone: a base64 image is longer than it.
    event = document["components"]["schemas"]["ContentEvent"]
    text_rule = event["allOf"][0]
    assert text_rule["if"]["properties"]["contentType"] == {"const": "text"}
    assert text_rule["then"]["properties"]["content"]["maxLength"] == settings.max_content_chars
    assert event["properties"]["content"]["maxLength"] > 4 * settings.image_max_bytes // 3


# --- The rate limit and the scorer, in this process ------------------------------------------


def limiter_state(redis_client, settings):
    return SimpleNamespace(redis=redis_client, settings=settings)


async def test_charge_token_bucket(redis, settings):
    state = limiter_state(redis, settings)
    tenant = f"bucket-{uuid.uuid4().hex[:8]}"
    await ratelimit.charge(state, tenant, 2, burst=3, per_s=0.5)
    await ratelimit.charge(state, tenant, 1, burst=3, per_s=0.5)
    with pytest.raises(HTTPException) as refused:
        await ratelimit.charge(state, tenant, 1, burst=3, per_s=0.5)
    assert refused.value.status_code == 429 and "rate limit" in refused.value.detail
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 2
    # Another tenant's bucket is its own.
    await ratelimit.charge(state, f"{tenant}-other", 3, burst=3, per_s=0.5)

    fast = f"{tenant}-fast"
    await ratelimit.charge(state, fast, 2, burst=2, per_s=50)
    with pytest.raises(HTTPException):
        await ratelimit.charge(state, fast, 2, burst=2, per_s=50)
    await asyncio.sleep(0.1)  # refilled, and capped at the burst
    await ratelimit.charge(state, fast, 2, burst=2, per_s=50)

    # More than the whole bucket costs the whole bucket: it waits, never refused for ever.
    big = f"{tenant}-big"
    await ratelimit.charge(state, big, 50, burst=5, per_s=0.01)
    with pytest.raises(HTTPException):
        await ratelimit.charge(state, big, 1, burst=5, per_s=0.01)


async def test_charge_is_atomic_under_concurrency(redis, settings):
    state = limiter_state(redis, settings)
    tenant = f"bucket-{uuid.uuid4().hex[:8]}"
    outcomes = await asyncio.gather(
        *(ratelimit.charge(state, tenant, 1, burst=10, per_s=0.001) for _ in range(30)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 10
    assert all(o is None or isinstance(o, HTTPException) for o in outcomes)


async def test_charge_allows_when_redis_is_away(settings, caplog, monkeypatch):
    monkeypatch.setattr(ratelimit, "_redis_away", False)
    away = cache.connect(f"redis://127.0.0.1:{free_port()}/0")
    state = limiter_state(away, settings)
    try:
        with caplog.at_level(logging.WARNING, logger="gova.api.ratelimit"):
            for _ in range(3):
                await ratelimit.charge(state, "anyone", 1, burst=1, per_s=0.001)
    finally:
        await away.aclose()
    warnings = [r for r in caplog.records if r.name == "gova.api.ratelimit"]
    assert len(warnings) == 1 and "not enforced" in warnings[0].getMessage()


async def test_missing_model_is_503(stack, pool, settings, monkeypatch, tmp_path):
    """No text model where the settings point: both endpoints answer 503 in their own
    envelopes, with the loader's own word on how to get one."""
    monkeypatch.setattr(settings, "text_model_dir", tmp_path)  # an empty directory
    monkeypatch.setattr(text_scoring, "_model", None)
    tenant = await fresh_tenant(pool)
    app = create_app(settings)
    transport = httpx.ASGITransport(app)
    headers = {"Authorization": f"Bearer {tenant['key']}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gova", headers=headers) as api,
    ):
        r = await api.post("/v1/moderations", json={"input": BENIGN})
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "server_error"
        ok = {"comment": {"text": BENIGN}, "requestedAttributes": {"TOXICITY": {}}}
        message = assert_perspective_error(await api.post(ANALYZE, json=ok), 503, "UNAVAILABLE")
    assert message == error["message"]
    # How to fix it: train a model there, or point GOVA_TEXT_MODEL_DIR at one.
    assert "gova train text" in message and "GOVA_TEXT_MODEL_DIR" in message
    assert text_scoring._model is None  # nothing half-loaded is kept
