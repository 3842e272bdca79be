"""Actions across worker deaths and restarts, and over time: a worker SIGKILLed between
claiming an action and calling Discord acts exactly once after a restart; moderators'
started, stopped and updated configs survive a restart (the changelog-backed table); an
action nobody approves expires.

The module runs its own worker, with a short approval TTL and executor lease (so expiry and
the hand-back of a dead executor's claim take seconds, not a day and a minute), and gives
the session back a worker with the usual settings at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket

import pytest

from gova.streams import ACTIONS_EXECUTE
from tests.integration.conftest import (
    BOT_TOKEN,
    GUILD,
    actions_of,
    discord_message,
    discord_moderator,
    discord_port,
    discord_tenant,
    eventually,
    records_of,
    running_in_worker,
    settled,
    snowflake,
)

TOXIC = "you are a stupid worthless idiot"
#: The module's worker: awaiting approval expires after 3 s, a claim not settled within 5 s
#: is handed back (the sweeper looks every 2 s: GOVA_ACTION_SWEEP_INTERVAL_S).
RECOVERY_ENV = {"GOVA_APPROVAL_TTL_S": "3", "GOVA_ACTION_LEASE_S": "5"}


def start_worker_with(running, env: dict[str, str]) -> None:
    """Start the session's worker with `env` on top of the session's environment."""
    saved = {k: os.environ.pop(k, None) for k in RECOVERY_ENV}
    os.environ.update(env)
    try:
        running.start_worker()
    finally:
        for k in RECOVERY_ENV:
            os.environ.pop(k, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def kill_worker(running) -> None:
    """SIGKILL: no goodbye to the group, no offsets committed, no changelog flushed."""
    proc = running.procs.pop("worker")
    proc.popen.send_signal(signal.SIGKILL)
    proc.popen.wait(10)


@pytest.fixture(scope="module")
def recovering(running):
    running.stop("worker")
    start_worker_with(running, RECOVERY_ENV)
    yield running
    running.stop("worker")
    start_worker_with(running, {})


@pytest.fixture(autouse=True)
def a_worker(recovering):
    """Each test starts with the module's worker running (one that failed may have left it
    dead)."""
    worker = recovering.procs.get("worker")
    if worker is None or not worker.alive():
        recovering.procs.pop("worker", None)
        start_worker_with(recovering, RECOVERY_ENV)


@pytest.fixture(scope="module")
async def tenant_api(recovering, pool, discord):
    async with discord_tenant(recovering, pool, "recovery") as tenant:
        yield tenant


async def offend(api, author: str, moderator: str, text: str = TOXIC) -> dict:
    message = discord_message(text, author, snowflake(), moderator=moderator)
    verdict = await api.post("/api/v1/moderate?wait=true", json=message)
    assert verdict.status_code == 200 and verdict.json()["decision"] == "act", verdict.text
    return verdict.json()


async def one_action(api, author: str, *statuses: str, timeout: float = 60) -> dict:
    """The author's only action, once its status is one of `statuses`."""

    async def reached():
        items = await actions_of(api, author)
        return items[0] if len(items) == 1 and items[0]["status"] in statuses else None

    return await eventually(reached, timeout=timeout)


async def audit_trail(pool, tenant_id: str, action_id: str) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT event, actor FROM audit_logs WHERE tenant_id = $1 AND stage = 'actions'"
        " AND detail->>'action_id' = $2 ORDER BY id",
        tenant_id,
        action_id,
    )
    return [(r["event"].split(":")[2], r["actor"]) for r in rows]


@contextlib.contextmanager
def black_hole(port: int):
    """A listener on `port` that never accepts: the kernel completes each connection and
    buffers what is sent, but no server ever reads a request, let alone answers one."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", port))
    hole.listen(64)
    try:
        yield
    finally:
        hole.close()  # resets the connections nobody accepted, unread


async def where_sent(bootstrap: str, topic: str, action_id: str) -> list[tuple[int, int]]:
    """(partition, offset) of every record on `topic` that carries `action_id`."""
    return [(r.partition, r.offset) for r in await records_of(bootstrap, topic, action_id)]


async def replay(bootstrap: str, topic: str, action_id: str) -> int:
    """Send every record that carried `action_id` once more, byte for byte, to its partition:
    what a broker redelivers after a worker died before committing. How many were sent."""
    from aiokafka import AIOKafkaProducer

    records = await records_of(bootstrap, topic, action_id)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(topic, r.value, key=r.key, partition=r.partition)
    finally:
        await producer.stop()
    return len(records)


async def committed(bootstrap: str, group: str, topic: str, partition: int) -> int | None:
    """The group's committed offset on the partition (the next offset it reads), if any."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    # Assigned by hand, never subscribed: it reads the group's offsets without joining it.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def test_a_worker_killed_between_claim_and_call_acts_exactly_once(
    recovering, tenant_api, discord, pool
):
    api, author = tenant_api["api"], snowflake()
    kick = [{"strikes": 1, "actions": [{"type": "KICK"}]}]
    await discord_moderator(recovering, api, tenant_api["id"], "kick", ladder=kick)
    settings = recovering.settings
    broker, group, topic = settings.broker(), settings.app_id, ACTIONS_EXECUTE.name

    # A first action runs as usual, and the group commits past it.
    first = snowflake()
    await offend(api, first, "kick")
    warm = await one_action(api, first, "EXECUTED")
    [(partition, warm_offset)] = await where_sent(broker, topic, warm["id"])

    async def committed_past_it():
        return (await committed(broker, group, topic, partition) or 0) > warm_offset

    await eventually(committed_past_it, timeout=30)

    # Discord's address answers nothing: the executor's call cannot land, so the worker is
    # caught holding the claim, and dies there.
    discord.stop()
    try:
        with black_hole(discord_port()):
            await offend(api, author, "kick")
            claimed = await one_action(api, author, "EXECUTING")
            kill_worker(recovering)
        # The event was never acknowledged: the group's committed offset is not past it (the
        # same partition: one per moderator), so the restarted worker reads it again.
        [(same, offset)] = await where_sent(broker, topic, claimed["id"])
        assert same == partition
        assert warm_offset < await committed(broker, group, topic, partition) <= offset
    finally:
        discord.start()
    member = f"/api/v10/guilds/{GUILD}/members/{author}"
    assert not [r for r in discord.requests if r.path == member], "nothing reached Discord"
    assert (await api.get(f"/api/v1/actions/{claimed['id']}")).json()["status"] == "EXECUTING"

    start_worker_with(recovering, RECOVERY_ENV)
    done = await settled(api, claimed["id"], timeout=120)
    assert done["status"] == "EXECUTED", done["history"]
    # A later action of the same moderator (same partition, in order) has run: whatever the
    # restarted worker redelivered or retried of the first one is behind us.
    later = snowflake()
    await offend(api, later, "kick", text=f"{TOXIC} again")
    await one_action(api, later, "EXECUTED")

    # Every event of it delivered once more, now that it is done (as after a worker died
    # between settling and committing): the claim refuses them all.
    assert await replay(broker, topic, claimed["id"]) >= 2  # the planner's and the sweeper's
    last = snowflake()
    await offend(api, last, "kick", text=f"{TOXIC} and again")
    await one_action(api, last, "EXECUTED")
    done = (await api.get(f"/api/v1/actions/{claimed['id']}")).json()

    calls = [r for r in discord.requests if r.path == member]
    assert [(r.method, r.route, r.status) for r in calls] == [("DELETE", "remove_member", 204)]
    assert calls[0].headers["authorization"] == f"Bot {BOT_TOKEN}"
    history = [(h["status"], h["by"]) for h in done["history"]]
    assert history[:3] == [
        ("PROPOSED", "classifier"),
        ("APPROVED", "planner"),
        ("EXECUTING", "executor"),
    ]
    assert ("APPROVED", "sweeper") in history  # the dead executor's claim handed back
    assert history[-2:] == [("EXECUTING", "executor"), ("EXECUTED", "executor")]
    assert [s for s, _ in history].count("EXECUTED") == 1
    handed_back = next(h for h in done["history"] if h["by"] == "sweeper")
    assert "did not settle it within 5s" in handed_back["error"]
    assert await audit_trail(pool, tenant_api["id"], claimed["id"]) == history


async def test_a_slow_answer_from_discord_is_not_taken_for_a_dead_executor(
    recovering, tenant_api, discord, pool
):
    """Discord answering after the lease (8 s against 5 s, within the client's 10 s timeout):
    the executor still holds its claim, so the sweeper hands nothing back and the action is
    carried out, and recorded, once."""
    api, author = tenant_api["api"], snowflake()
    kick = [{"strikes": 1, "actions": [{"type": "KICK"}]}]
    await discord_moderator(recovering, api, tenant_api["id"], "slow", ladder=kick)
    discord.slow(8.0)
    await offend(api, author, "slow")
    done = await settled(api, (await one_action(api, author, "EXECUTING"))["id"], timeout=60)
    later = snowflake()  # the same partition, after it: anything handed back is behind us
    await offend(api, later, "slow", text=f"{TOXIC} later")
    await one_action(api, later, "EXECUTED")

    member = f"/api/v10/guilds/{GUILD}/members/{author}"
    assert [r.route for r in discord.requests if r.path == member] == ["remove_member"]
    done = (await api.get(f"/api/v1/actions/{done['id']}")).json()
    history = [(h["status"], h["by"]) for h in done["history"]]
    assert history == [
        ("PROPOSED", "classifier"),
        ("APPROVED", "planner"),
        ("EXECUTING", "executor"),
        ("EXECUTED", "executor"),
    ]
    assert done["history"][-1]["at"] - done["history"][-2]["at"] >= 8.0  # it did wait
    assert await audit_trail(pool, tenant_api["id"], done["id"]) == history


async def test_moderator_configs_survive_a_worker_restart(recovering, tenant_api, discord):
    api, tenant_id = tenant_api["api"], tenant_api["id"]
    # "kept": started, then updated to reply instead of the default ladder's DELETE.
    await discord_moderator(recovering, api, tenant_id, "kept")
    reply = [{"strikes": 1, "actions": [{"type": "REPLY", "params": {"message": "kept config"}}]}]
    body = {"platform": "discord", "discord": {"guild_id": GUILD}, "ladder": reply}
    assert (await api.put("/api/v1/moderators/kept", json=body)).status_code == 200

    async def updated():
        state = await running_in_worker(recovering, tenant_id, "kept", True)
        return state["config"]["ladder"] == [{"strikes": 1, "actions": reply[0]["actions"]}]

    await eventually(updated, timeout=30)
    # "halted": started, then stopped.
    await discord_moderator(recovering, api, tenant_id, "halted")
    assert (await api.post("/api/v1/moderators/halted/stop")).json()["status"] == "stopped"
    await running_in_worker(recovering, tenant_id, "halted", False)

    recovering.stop("worker")
    start_worker_with(recovering, RECOVERY_ENV)

    # The restarted worker's table has both as they were left...
    assert (await running_in_worker(recovering, tenant_id, "kept", True))["config"]["ladder"][0][
        "actions"
    ] == reply[0]["actions"]
    await running_in_worker(recovering, tenant_id, "halted", False)
    # ...and its pipeline acts on them: "halted" proposes nothing, "kept" replies.
    quiet, loud = snowflake(), snowflake()
    ignored = await offend(api, quiet, "halted")
    await offend(api, loud, "kept")
    action = await settled(api, (await one_action(api, loud, "EXECUTED", "FAILED"))["id"])
    assert (action["type"], action["status"]) == ("REPLY", "EXECUTED"), action["history"]
    [sent] = [m for m in discord.messages if m["content"] == "kept config"]
    assert sent["message_reference"]["message_id"] == action["target"]["message_id"]

    # Started again (no restart), "halted" acts on the next item; the planner (one partition
    # per moderator, in order) passed the earlier one, which made none.
    assert (await api.post("/api/v1/moderators/halted/start")).json()["status"] == "running"
    await running_in_worker(recovering, tenant_id, "halted", True)
    again = await offend(api, quiet, "halted", text=f"{TOXIC} once more")

    async def planned():
        items = await actions_of(api, quiet)
        return items if len(items) == 2 else None

    after = await eventually(planned, timeout=60)
    assert {a["content_id"] for a in after} == {again["content_id"]} != {ignored["content_id"]}
    # The stopped moderator's item still counted as a strike: the default ladder's 2nd step.
    assert sorted(a["type"] for a in after) == ["DELETE", "TIMEOUT"]


async def test_an_action_nobody_approves_expires(recovering, tenant_api, discord, pool):
    api, author = tenant_api["api"], snowflake()
    await discord_moderator(recovering, api, tenant_api["id"], "held", manual_approval=True)
    verdict = await offend(api, author, "held")
    expired = await one_action(api, author, "EXPIRED", timeout=60)
    history = [(h["status"], h["by"]) for h in expired["history"]]
    assert history == [
        ("PROPOSED", "classifier"),
        ("AWAITING_APPROVAL", "planner"),
        ("EXPIRED", "sweeper"),
    ]
    assert expired["history"][-1]["error"] == "not approved within 3s"
    assert await audit_trail(pool, tenant_api["id"], expired["id"]) == history
    late = await api.post(f"/api/v1/actions/{expired['id']}/approve")
    assert late.status_code == 409, late.text
    listed = await actions_of(api, author, "EXPIRED")
    assert [a["id"] for a in listed] == [expired["id"]]
    assert expired["content_id"] == verdict["content_id"]
    message = expired["target"]["message_id"]
    assert not [r for r in discord.requests if message in r.path], "an expired action never runs"
