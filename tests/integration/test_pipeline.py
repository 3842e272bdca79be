"""Through the real broker: dead letters, and tables that survive a worker restart."""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gova.streams import CONTENT_RAW, DEAD_LETTER
from tests.integration.conftest import event, eventually, new_id

TOXIC = "you are a stupid worthless idiot"


async def test_poison_event_is_dead_lettered_and_the_next_gets_its_verdict(running, api):
    broker = running.settings.broker()
    marker = f"poison-{uuid.uuid4().hex}"
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        await producer.send_and_wait(CONTENT_RAW.name, key=b"acme:p", value=marker.encode())
    finally:
        await producer.stop()

    r = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), "after the poison"))
    assert r.status_code == 200 and r.json()["decision"] == "allow"

    consumer = AIOKafkaConsumer(
        DEAD_LETTER.name,
        bootstrap_servers=broker,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:

        async def letter():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for rec in records:
                    dead = json.loads(rec.value)
                    if dead["payload"] == marker:
                        return dead
            return None

        dead = await eventually(letter, timeout=30)
    finally:
        await consumer.stop()
    assert dead["stage"] == "ingest" and dead["topic"] == CONTENT_RAW.name
    assert "ValidationError" in dead["error"]


async def test_a_dead_lettered_item_reports_failed_instead_of_pending_forever(running, api, pool):
    """A bridge may send what no stage handles; its caller learns that, with the reason."""
    import time

    from gova.schemas import ContentEvent, Policy, Submission

    cid = new_id("img")
    sub = Submission(
        tenant_id="acme",
        event=ContentEvent(id=cid, userId="bridge-user", contentType="image", content="aGk="),
        received_at=time.time(),
        policy=Policy(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.broker())
    await producer.start()
    try:
        await producer.send_and_wait(
            CONTENT_RAW.name,
            key=sub.key.encode(),
            value=sub.model_dump_json(by_alias=True).encode(),
        )
    finally:
        await producer.stop()

    async def failed():
        r = await api.get(f"/api/v1/content/{cid}")
        return r.json() if r.status_code == 200 else None

    outcome = await eventually(failed, timeout=30)
    assert outcome["status"] == "failed" and outcome["stage"] == "ingest"
    assert "'image' item without stored media" in outcome["error"]
    rows = await pool.fetch("SELECT tenant_id, stage FROM dead_letters WHERE content_id = $1", cid)
    assert [tuple(r) for r in rows] == [("acme", "ingest")]


async def _send(api, user: str, text: str) -> dict:
    r = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), text, user=user))
    assert r.status_code == 200, r.text
    return r.json()


async def test_worker_restart_keeps_rate_limits_and_behaviour(running, api):
    burst = int(running.settings.rate_limit_burst)
    limited, offender = f"rl-{new_id()}", f"bh-{new_id()}"
    # One batch, so the table's changelog records travel in shared producer batches: the case
    # where the embedded broker misreports end offsets and an uncorrected recovery loses data.
    items = [event(new_id(), f"hello number {i}", user=limited) for i in range(burst + 1)]
    r = await api.post("/api/v1/moderate/batch?wait=true", json={"items": items})
    decisions = sorted(a["decision"] for a in r.json()["results"])
    assert decisions == ["allow"] * burst + ["rate_limited"]
    strikes = [(await _send(api, offender, f"{TOXIC} {i}"))["behaviour"] for i in range(2)]
    assert [s["strikes"] for s in strikes] == [1, 2]

    running.stop("worker")
    running.start_worker()

    assert (await _send(api, limited, "still here"))["decision"] == "rate_limited"
    after = await _send(api, offender, f"{TOXIC} again")
    assert after["behaviour"]["strikes"] == 3
    assert after["behaviour"]["score"] > strikes[-1]["score"]

    async def fresh_author_allowed():
        return (await _send(api, f"new-{new_id()}", "hello"))["decision"] == "allow"

    assert await eventually(fresh_author_allowed)
