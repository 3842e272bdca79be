"""Redis speeds Gova up but is not the record: without it, verdicts still arrive."""

from __future__ import annotations

from gova.runners.embedded import start_postgres, start_redis
from tests.integration.conftest import event, eventually, new_id


async def test_verdicts_arrive_while_redis_is_down(running, api, pool, tenant):
    s = running.settings
    running.stop("redis")
    try:
        cid = new_id("noredis")
        r = await api.post("/api/v1/moderate?wait=true", json=event(cid, "you are a stupid idiot"))
        assert r.status_code == 200, r.text
        assert r.json()["decision"] == "act" and r.json()["cached"] is False
        got = await api.get(f"/api/v1/content/{cid}")
        assert got.status_code == 200 and got.json()["decision"] == "act"
    finally:
        running.procs["redis"] = start_redis(
            s.embedded_redis_port, s.data_dir / "redis", running.log_dir
        )

    # Back again: the wake-up and the cache work as before.
    text = f"back to normal {new_id()}"
    first = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), text))
    second = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), text))
    assert first.status_code == second.status_code == 200
    assert (first.json()["cached"], second.json()["cached"]) == (False, True)


async def test_items_are_accepted_while_postgres_is_down_and_stored_once_it_is_back(running, api):
    s = running.settings
    assert (await api.get("/api/v1/policy")).status_code == 200  # key lookup cached
    running.stop("postgres")
    try:
        cid = new_id("nodb")
        r = await api.post("/api/v1/moderate", json=event(cid, "hello while the db is away"))
        assert r.status_code == 202, r.text  # the broker holds it
        r = await api.get(f"/api/v1/content/{cid}")
        assert r.status_code == 503 and "database unavailable" in r.json()["detail"]
    finally:
        running.procs["postgres"] = start_postgres(s.pg_dir, running.log_dir)

    async def stored():
        r = await api.get(f"/api/v1/content/{cid}")
        return r.json() if r.status_code == 200 else None

    verdict = await eventually(stored, timeout=60, interval=0.5)
    assert verdict["decision"] == "allow"
