"""Every action type, the ladder across an author's strikes, and webhook deliveries, each
carried out by the running worker: the fake Discord checks every request (route, method, bot
token, JSON body, audit-log reason) and the fake receiver every delivery's signature."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gova.integrations.discord import nonce_for
from gova.schemas.actions import ActionEvent
from gova.streams import ACTIONS_EXECUTE
from tests.fakes.webhook_receiver import FakeWebhookReceiver
from tests.integration.conftest import (
    BOT_TOKEN,
    CHANNEL,
    GUILD,
    actions_of,
    discord_message,
    discord_moderator,
    discord_tenant,
    event,
    eventually,
    new_id,
    records_of,
    running_in_worker,
    snowflake,
)

TOXIC = "you are a stupid worthless idiot"
EXECUTED = ["PROPOSED", "APPROVED", "EXECUTING", "EXECUTED"]


@pytest.fixture(scope="module")
async def acting(running, pool, discord):
    async with discord_tenant(running, pool, "types") as tenant:
        yield tenant


async def offend(api, author: str, n: int, moderator: str) -> list[dict]:
    """`n` acting verdicts for `author`'s messages to `moderator`, one after another."""
    verdicts = []
    for i in range(n):
        message = discord_message(f"{TOXIC} {i}", author, snowflake(), moderator=moderator)
        answer = await api.post("/api/v1/moderate?wait=true", json=message)
        assert answer.status_code == 200, answer.text
        assert answer.json()["decision"] == "act", answer.text
        verdicts.append({**answer.json(), "message_id": message["metadata"]["messageId"]})
    return verdicts


async def all_settled(api, author: str, count: int) -> list[dict]:
    """The author's `count` actions, once each is EXECUTED or FAILED (oldest first)."""

    async def done():
        items = await actions_of(api, author)
        finished = [a for a in items if a["status"] in ("EXECUTED", "FAILED")]
        return finished if len(items) == len(finished) == count else None

    return sorted(await eventually(done, timeout=60), key=lambda a: a["created_at"])


def calls_for(discord, action: dict) -> list:
    """The fake's requests on `action`'s path (for a message: with its nonce). Two actions
    of one type on one member share a path."""
    target, author = action["target"], action["author_id"]
    kind = action["type"]
    if kind in ("REPLY", "WARN"):
        nonce = nonce_for(ActionEvent.model_validate(action))
        return [r for r in discord.requests if (r.json or {}).get("nonce") == nonce]
    route, path = {
        "DELETE": (
            "delete_message",
            f"/channels/{target['channel_id']}/messages/{target['message_id']}",
        ),
        "TIMEOUT": ("modify_member", f"/guilds/{GUILD}/members/{author}"),
        "KICK": ("remove_member", f"/guilds/{GUILD}/members/{author}"),
        "BAN": ("create_ban", f"/guilds/{GUILD}/bans/{author}"),
    }[kind]
    return [r for r in discord.requests if r.path == f"/api/v10{path}" and r.route == route]


async def test_every_action_type_reaches_discord_as_discord_wants_it(acting, discord, running):
    api, author = acting["api"], snowflake()
    ladder = [
        {
            "strikes": 1,
            "actions": [
                {"type": "REPLY", "params": {"message": "Please keep it civil."}},
                {"type": "WARN", "params": {"guideline": "G1 be kind"}},
                {"type": "DELETE"},
            ],
        },
        {
            "strikes": 2,
            "actions": [
                {"type": "TIMEOUT", "params": {"duration": 120}},
                {"type": "KICK"},
                {"type": "BAN", "params": {"delete_message_seconds": 3600}},
            ],
        },
    ]
    every = ["REPLY", "WARN", "DELETE", "TIMEOUT", "KICK", "BAN"]
    await discord_moderator(
        running, api, acting["id"], "every", ladder=ladder, allowed_actions=every
    )
    first, second = await offend(api, author, 2, "every")
    actions = {a["type"]: a for a in await all_settled(api, author, 6)}
    assert sorted(actions) == sorted(every)
    for kind, action in actions.items():
        assert action["status"] == "EXECUTED", (kind, action["history"])
        assert [h["status"] for h in action["history"]] == EXECUTED, kind
        calls = calls_for(discord, action)
        assert len(calls) == 1, (kind, calls)  # exactly one request per action
        call = calls[0]
        assert 200 <= call.status < 300, (kind, call)
        assert call.headers["authorization"] == f"Bot {BOT_TOKEN}"
        assert call.reason == action["reason"] and action["reason"].startswith("flagged: ")
        attempts = action["history"][-1]["detail"]["attempts"]
        assert [a["status_code"] for a in attempts] == [call.status], kind

    step = {first["content_id"]: set(every[:3]), second["content_id"]: set(every[3:])}
    for content_id, kinds in step.items():  # the ladder step of each item's strikes
        assert {k for k, a in actions.items() if a["content_id"] == content_id} == kinds

    reply, warn = calls_for(discord, actions["REPLY"])[0], calls_for(discord, actions["WARN"])[0]
    for call in (reply, warn):
        assert (call.method, call.path) == ("POST", f"/api/v10/channels/{CHANNEL}/messages")
        assert call.json["message_reference"]["message_id"] == first["message_id"]
        assert call.json["allowed_mentions"] == {"parse": []} and call.json["enforce_nonce"]
    assert reply.json["content"] == "Please keep it civil."
    assert warn.json["content"].startswith("⚠️ Warning") and "G1 be kind" in warn.json["content"]
    created = {m["id"] for m in discord.messages}
    for kind in ("REPLY", "WARN"):  # the created message's id is kept in the history
        assert actions[kind]["history"][-1]["detail"]["message_id"] in created

    delete = calls_for(discord, actions["DELETE"])[0]
    assert delete.method == "DELETE" and delete.raw == b""
    assert delete.path == f"/api/v10/channels/{CHANNEL}/messages/{first['message_id']}"

    timeout = calls_for(discord, actions["TIMEOUT"])[0]
    assert timeout.method == "PATCH" and set(timeout.json) == {"communication_disabled_until"}
    until = datetime.fromisoformat(timeout.json["communication_disabled_until"])
    assert 0 < (until - datetime.now(UTC)).total_seconds() <= 120  # the ladder's duration
    assert actions["TIMEOUT"]["history"][-1]["detail"]["communication_disabled_until"]

    kick = calls_for(discord, actions["KICK"])[0]
    assert kick.method == "DELETE" and kick.raw == b""
    ban = calls_for(discord, actions["BAN"])[0]
    assert ban.method == "PUT" and ban.json == {"delete_message_seconds": 3600}


async def test_the_ladder_follows_an_authors_strikes(acting, discord, running):
    """The default ladder: the 1st offence deletes, the 2nd (and 3rd) deletes and times out
    for 600 s, the 4th kicks; each step carried out once."""
    api, author = acting["api"], snowflake()
    put = await discord_moderator(running, api, acting["id"], "ladder")
    assert [s["strikes"] for s in put["ladder"]] == [1, 2, 4]  # the default
    verdicts = await offend(api, author, 4, "ladder")
    assert [v["behaviour"]["strikes"] for v in verdicts] == [1, 2, 3, 4]
    actions = await all_settled(api, author, 1 + 2 + 2 + 1)
    by_item = {
        v["content_id"]: sorted(a["type"] for a in actions if a["content_id"] == v["content_id"])
        for v in verdicts
    }
    assert [by_item[v["content_id"]] for v in verdicts] == [
        ["DELETE"],
        ["DELETE", "TIMEOUT"],
        ["DELETE", "TIMEOUT"],
        ["KICK"],
    ]
    assert all(a["status"] == "EXECUTED" for a in actions), [a["history"] for a in actions]
    assert all(a["params"] == {"duration": 600} for a in actions if a["type"] == "TIMEOUT")
    mine = {v["message_id"] for v in verdicts}
    deleted = [r.path.rsplit("/", 1)[1] for r in discord.requests if r.route == "delete_message"]
    # Each of the first three messages deleted once; the 4th offence kicks instead.
    assert sorted(m for m in deleted if m in mine) == sorted(v["message_id"] for v in verdicts[:3])
    members = f"/api/v10/guilds/{GUILD}/members/{author}"
    touched = [r.route for r in discord.requests if r.path == members]
    assert sorted(touched) == ["modify_member", "modify_member", "remove_member"]


@pytest.fixture(scope="module")
def receiver():
    with FakeWebhookReceiver(secret="not yet known") as fake:
        yield fake


async def test_a_webhook_moderator_gets_signed_deliveries_retried_until_one_lands(
    acting, receiver, running
):
    api, author = acting["api"], snowflake()
    put = await api.put(
        "/api/v1/moderators/hook", json={"platform": "webhook", "webhook": {"url": receiver.url}}
    )
    assert put.status_code == 200, put.text
    receiver.secret = put.json()["webhook_secret"]  # shown once; the receiver checks with it
    assert (await api.get("/api/v1/moderators/hook")).json().get("webhook_secret") is None
    assert (await api.post("/api/v1/moderators/hook/start")).status_code == 200
    await running_in_worker(running, acting["id"], "hook", True)
    receiver.fail_next(2)  # 500, 500, then 200

    cid = new_id("hook")
    item = event(cid, f"{TOXIC} hook", user=author, metadata={"moderator": "hook"})
    verdict = await api.post("/api/v1/moderate?wait=true", json=item)
    assert verdict.json()["decision"] == "act", verdict.text
    [action] = await all_settled(api, author, 1)
    assert action["status"] == "EXECUTED", action["history"]
    assert (action["type"], action["moderator"], action["content_id"]) == ("DELETE", "hook", cid)
    done = action["history"][-1]
    assert (done["status"], done["by"]) == ("EXECUTED", "executor")
    assert [a["status_code"] for a in done["detail"]["attempts"]] == [500, 500, 200]
    assert [a["error"] for a in done["detail"]["attempts"]][:2] == ["the webhook answered 500"] * 2

    mine = [
        d for d in receiver.deliveries if (d.json or {}).get("action", {}).get("id") == action["id"]
    ]
    assert [d.status for d in mine] == [500, 500, 200]
    assert all(d.verified for d in mine), "every attempt signed with the moderator's secret"
    assert all(d.headers["gova-signature"].startswith("t=") for d in mine)
    body = mine[-1].json
    assert body["verdict"]["content_id"] == cid and body["verdict"]["decision"] == "act"
    assert body["action"]["status"] == "EXECUTING" and body["action"]["type"] == "DELETE"


async def test_an_updated_config_reaches_the_running_worker(acting, discord, running):
    """PUT on a running moderator: its next item gets the new ladder, with no restart."""
    api = acting["api"]
    await discord_moderator(running, api, acting["id"], "live")
    before = snowflake()
    await offend(api, before, 1, "live")
    [deleted] = await all_settled(api, before, 1)
    assert deleted["type"] == "DELETE"  # the default ladder
    reply = {"type": "REPLY", "params": {"message": "the new config"}}
    config = {"platform": "discord", "discord": {"guild_id": GUILD}, "ladder": []}
    config["ladder"] = [{"strikes": 1, "actions": [reply]}]
    assert (await api.put("/api/v1/moderators/live", json=config)).status_code == 200

    async def replied():  # a new author each time: 1 strike, the new ladder's only step
        author = snowflake()
        await offend(api, author, 1, "live")
        [action] = await all_settled(api, author, 1)
        return action if action["type"] == "REPLY" else None

    action = await eventually(replied, timeout=30, interval=0.5)
    assert action["status"] == "EXECUTED", action["history"]
    [call] = calls_for(discord, action)
    assert call.json["content"] == "the new config"


async def test_a_shadow_moderator_records_what_it_would_do_and_calls_nobody(
    acting, discord, running
):
    api, author = acting["api"], snowflake()
    await discord_moderator(running, api, acting["id"], "shadow", shadow=True)
    [verdict] = await offend(api, author, 1, "shadow")

    async def recorded():
        return await actions_of(api, author, "SHADOW")

    [action] = await eventually(recorded, timeout=30)
    assert (action["type"], action["content_id"]) == ("DELETE", verdict["content_id"])
    assert [(h["status"], h["by"]) for h in action["history"]] == [
        ("PROPOSED", "classifier"),
        ("SHADOW", "planner"),
    ]
    # Approving a shadow action is refused: it never runs.
    refused = await api.post(f"/api/v1/actions/{action['id']}/approve")
    assert refused.status_code == 409, refused.text
    # The planner sent it nowhere: nothing on the executor's topic, no request to Discord.
    assert await records_of(running.settings.broker(), ACTIONS_EXECUTE.name, action["id"]) == []
    message = action["target"]["message_id"]
    assert not [r for r in discord.requests if message in r.path]
