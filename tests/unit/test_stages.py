"""Each stage under Faust's test_context, with real Redis and PostgreSQL: that it applies the
engine's effects (sends, table writes), stores, caches and refuses as it should. What each
decision is lives in tests/core, with no services."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from gova import cache
from gova.core.keys import content_hash
from gova.schemas import DeadLetter, Item, Verdict
from tests.unit.conftest import make_submission, wire


def uid() -> str:
    return uuid.uuid4().hex[:8]


def topics_of(sent) -> list[str]:
    return [s[0] for s in sent]


async def next_message(pubsub, timeout: float = 10.0) -> dict:
    """The next published message, or fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(left, 1))
        if message is not None:
            return message
    raise AssertionError(f"nothing published within {timeout}s")


# --- ingest ---------------------------------------------------------------------------


async def test_ingest_normalises_and_routes_text(stack, sent):
    from gova.worker.stages.ingest import ingest
    from gova.worker.tables import tables

    sub = make_submission(f"a-{uid()}", "  hello \u200b  w0rld ")
    async with ingest.test_context() as agent:
        await agent.put(wire(sub), key=sub.key.encode())
    [(topic, key, value)] = sent
    assert (topic, key) == ("content.text", sub.key)
    item = Item.model_validate_json(value)
    assert item.text == "hello world"
    assert item.content_hash == content_hash("hello world")
    assert item.scores is None
    assert tables["rate_limits"][sub.key]["tokens"] < 8  # the token spent was kept


async def test_ingest_rate_limits_an_author_without_dropping(stack, sent, monkeypatch):
    from gova.worker.app import settings
    from gova.worker.stages.ingest import ingest
    from gova.worker.tables import tables

    rate_limits = tables["rate_limits"]

    monkeypatch.setattr(settings, "rate_limit_burst", 2.0)
    monkeypatch.setattr(settings, "rate_limit_per_s", 0.0)
    user, now = f"u-{uid()}", time.time()
    subs = [
        make_submission(f"r{i}-{uid()}", f"hi {uid()}", user=user, received_at=now)
        for i in range(3)
    ]
    async with ingest.test_context() as agent:
        for sub in subs:
            await agent.put(wire(sub), key=sub.key.encode())
        assert rate_limits[subs[0].key]["tokens"] == pytest.approx(0.0)
    assert topics_of(sent) == ["content.text", "content.text", "moderation.results"]
    verdict = Verdict.model_validate_json(sent[2][2])
    assert verdict.decision == "rate_limited"
    assert verdict.content_id == subs[2].event.id


async def test_ingest_dead_letters_poison_and_goes_on(stack, sent):
    from gova.worker.stages.ingest import ingest

    good = make_submission(f"g-{uid()}", "fine")
    image = make_submission(f"i-{uid()}", "aGVsbG8=", content_type="image")
    async with ingest.test_context() as agent:
        await agent.put(b"\xff not json", key=b"acme:u1")
        await agent.put(wire(image), key=image.key.encode())
        await agent.put(wire(good), key=good.key.encode())
    assert topics_of(sent) == ["gova.deadletter", "gova.deadletter", "content.text"]
    poison, refused = (DeadLetter.model_validate_json(s[2]) for s in sent[:2])
    assert poison.stage == "ingest" and "ValidationError" in poison.error
    assert "'image' item without stored media" in refused.error


# --- text classification --------------------------------------------------------------


def item_for(text: str, **kw) -> Item:
    sub = make_submission(f"t-{uid()}", text, **kw)
    return Item(**sub.model_dump(), text=text, content_hash=content_hash(text))


async def outcomes(agent, n: int) -> list:
    """Wait until a batched agent has yielded `n` outcomes."""

    async def enough():
        while len(agent.results) < n:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(enough(), timeout=30)
    return [agent.results[i] for i in sorted(agent.results)]


async def test_classifier_scores_a_batch_and_fills_the_cache(stack, sent, redis):
    from gova.worker.resources import resources
    from gova.worker.stages.text_classifier import classify_text

    # Fixed texts (a random suffix moved the scores across the threshold now and then), with
    # any scores an earlier test cached for them removed first.
    toxic = item_for("you are a worthless idiot")
    benign = item_for("thanks, see you tomorrow")
    model = await resources.text_model()
    await redis.delete(*(cache.scores_key(model.name, i.content_hash) for i in (toxic, benign)))
    async with classify_text.test_context() as agent:
        for item in (toxic, benign):
            await agent.put(wire(item), key=item.key.encode(), wait=False)
        await outcomes(agent, 2)
    assert topics_of(sent) == ["content.scored", "content.scored"]
    toxic, benign = (Item.model_validate_json(s[2]) for s in sent)
    threshold = model.thresholds["toxicity"]
    assert toxic.scores["toxicity"] > threshold > benign.scores["toxicity"]
    assert toxic.language.code == benign.language.code == "en"
    assert not toxic.cached and not benign.cached
    cached = await cache.cached_scores(redis, model.name, [toxic.content_hash, "nope"])
    assert cached == [toxic.scores, None]


async def test_the_text_model_loads_once_with_its_views_built(monkeypatch):
    # /gova/ready/ waits for the start-up load; a backlog's first batch waits for the same one.
    from gova.worker import resources as worker_resources

    loads = []
    real = worker_resources._load_text_model
    monkeypatch.setattr(worker_resources, "_load_text_model", lambda: loads.append(1) or real())
    fresh = worker_resources.Resources()
    first, second = await asyncio.gather(fresh.text_model(), fresh.text_model())
    assert first is second and loads == [1] and fresh.text_model_loaded
    assert {"features", "multilingual_encoder"} <= set(vars(first))


async def test_classifier_reuses_cached_scores_for_identical_text(stack, sent, redis):
    from gova.worker.resources import resources
    from gova.worker.stages.text_classifier import classify_text

    seen, fresh = item_for(f"seen before {uid()}"), item_for(f"never seen {uid()}")
    # A score the model would not give this text, so its use proves the model was skipped.
    model = await resources.text_model()
    await cache.cache_scores(redis, model.name, [(seen.content_hash, {"toxicity": 0.42})], 60)
    async with classify_text.test_context() as agent:
        for item in (seen, fresh):
            await agent.put(wire(item), key=item.key.encode(), wait=False)
        await outcomes(agent, 2)
    by_id = {i.event.id: i for i in (Item.model_validate_json(s[2]) for s in sent)}
    assert (by_id[seen.event.id].cached, by_id[seen.event.id].scores) == (True, {"toxicity": 0.42})
    assert by_id[fresh.event.id].cached is False
    assert by_id[seen.event.id].language.code == by_id[fresh.event.id].language.code == "en"
    [again] = await cache.cached_scores(redis, model.name, [fresh.content_hash])
    assert again == by_id[fresh.event.id].scores


async def test_classifier_dead_letters_poison(stack, sent):
    from gova.worker.stages.text_classifier import classify_text

    good = item_for("hello")
    async with classify_text.test_context() as agent:
        await agent.put(b'{"tenant_id": "acme"}', key=b"acme:u1", wait=False)
        await agent.put(wire(good), key=good.key.encode(), wait=False)
        await outcomes(agent, 2)
    assert sorted(topics_of(sent)) == ["content.scored", "gova.deadletter"]


# --- decide -----------------------------------------------------------------------------


async def test_decide_applies_policy_and_counts_strikes(stack, sent):
    from gova.worker.stages.decide import decide_scored as decide
    from gova.worker.tables import tables

    behaviour = tables["behaviour"]

    user = f"u-{uid()}"
    toxic = item_for("x", user=user)
    toxic.scores, toxic.model = {"toxicity": 0.9}, "m"
    lenient = item_for("y", user=user, thresholds={"toxicity": 0.95})
    lenient.scores, lenient.model = {"toxicity": 0.9}, "m"
    async with decide.test_context() as agent:
        await agent.put(wire(toxic), key=toxic.key.encode())
        await agent.put(wire(lenient), key=lenient.key.encode())
        assert behaviour[toxic.key]["strikes"] == 1
    assert topics_of(sent) == ["moderation.results", "moderation.actions", "moderation.results"]
    first, second = (
        Verdict.model_validate_json(s[2]) for s in sent if s[0] == "moderation.results"
    )
    assert (first.decision, first.flagged) == ("act", ["toxicity"])
    assert (second.decision, second.flagged) == ("allow", [])
    assert first.behaviour.strikes == 1 and first.behaviour.score == pytest.approx(0.9)
    # the author's history carries over to the next item
    assert second.behaviour.strikes == 1 and second.behaviour.score == pytest.approx(0.9, abs=1e-3)


async def test_decide_dead_letters_unscored_items(stack, sent):
    from gova.worker.stages.decide import decide_scored as decide

    unscored = item_for("z")
    async with decide.test_context() as agent:
        await agent.put(wire(unscored), key=unscored.key.encode())
    [(topic, _, value)] = sent
    assert topic == "gova.deadletter"
    assert "without scores" in DeadLetter.model_validate_json(value).error


# --- persist ----------------------------------------------------------------------------


def verdict(tenant: str, cid: str) -> Verdict:
    now = time.time()
    return Verdict(
        tenant_id=tenant,
        content_id=cid,
        author_id="u1",
        content_type="text",
        decision="allow",
        scores={"toxicity": 0.1},
        model="m",
        received_at=now - 0.05,
        decided_at=now,
    )


async def test_persist_is_idempotent_and_wakes_waiters(stack, sent, pool, storage, redis, tenant):
    from gova.worker.stages.persist import persist

    cid = f"p-{uid()}"
    pubsub = redis.pubsub()
    await pubsub.subscribe(cache.verdict_channel("acme", cid))
    v = verdict("acme", cid)
    async with persist.test_context() as agent:
        await agent.put(wire(v), key=v.key.encode())
        await agent.put(wire(v), key=v.key.encode())  # redelivered
    rows = await pool.fetch(
        "SELECT decision FROM moderation_results WHERE tenant_id='acme' AND content_id=$1", cid
    )
    assert [r["decision"] for r in rows] == ["allow"]
    message = await next_message(pubsub)
    assert json.loads(message["data"])["content_id"] == cid
    await pubsub.aclose()
    assert (await storage.verdicts.get("acme", cid))["decision"] == "allow"


async def test_persist_dead_letters_the_bad_row_and_keeps_the_rest(stack, sent, storage, tenant):
    from gova.worker.stages.persist import persist_batch

    good, orphan = verdict("acme", f"ok-{uid()}"), verdict("no-such-tenant", f"x-{uid()}")

    class Event:  # the shape dead_letter reads from a Faust event
        def __init__(self, v):
            self.value = wire(v)
            self.message = type(
                "M",
                (),
                {"topic": "moderation.results", "partition": 0, "offset": 1, "key": v.key.encode()},
            )

    outcomes = await persist_batch([(Event(good), good), (Event(orphan), orphan)])
    assert isinstance(outcomes[1], DeadLetter) and "ForeignKey" in outcomes[1].error
    assert await storage.verdicts.get("acme", good.content_id) is not None


# --- dead letters -----------------------------------------------------------------------


async def test_dead_letters_are_stored_and_announced(stack, sent, pool, storage, redis):
    from gova.worker.stages.dead_letters import record_dead_letters

    sub = make_submission(f"d-{uid()}", "x")
    letter = DeadLetter(
        stage="ingest",
        topic="content.raw",
        partition=3,
        offset=int(time.time()),
        key=sub.key,
        error="Boom: no",
        payload=wire(sub).decode(),
        failed_at=time.time(),
    )
    anonymous = letter.model_copy(update={"payload": "\x00garbage", "offset": letter.offset + 1})
    pubsub = redis.pubsub()
    await pubsub.subscribe(cache.verdict_channel("acme", sub.event.id))
    async with record_dead_letters.test_context() as agent:
        await agent.put(wire(letter), key=sub.key.encode(), wait=False)
        await agent.put(wire(letter), key=sub.key.encode(), wait=False)  # redelivered
        await agent.put(wire(anonymous), key=b"", wait=False)
        await outcomes(agent, 3)
    rows = await pool.fetch(
        'SELECT tenant_id, content_id, error FROM dead_letters WHERE "offset" IN ($1, $2)',
        letter.offset,
        anonymous.offset,
    )
    assert sorted((tuple(r) for r in rows), key=str) == sorted(
        [("acme", sub.event.id, "Boom: no"), (None, None, "Boom: no")], key=str
    )
    message = await next_message(pubsub)
    await pubsub.aclose()
    announced = json.loads(message["data"])
    assert (announced["status"], announced["stage"]) == ("failed", "ingest")
    assert (await storage.dead_letters.failure("acme", sub.event.id))["stage"] == "ingest"
    assert sent == []  # the last stop: nothing is sent further
