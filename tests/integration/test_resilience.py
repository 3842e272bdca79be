"""Redis speeds Gova up but is not the record: without it, verdicts still arrive."""

from __future__ import annotations

from gova.runners.embedded import start_redis
from tests.integration.conftest import event, new_id


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
