"""From verdict to action through the real stack: moderators started over the API reach the
running worker, acting verdicts become actions, a human approves one, and the fake Discord
receives exactly one call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.conftest import (
    BOT_TOKEN,
    GUILD,
    actions_of,
    client_for,
    discord_message,
    discord_moderator,
    discord_tenant,
    eventually,
    running_in_worker,
)


@pytest.fixture()
async def guild(running, pool, discord):
    """A tenant of its own with a manual-approval Discord moderator, started."""
    async with discord_tenant(running, pool, "guild") as tenant:
        put = await discord_moderator(
            running, tenant["api"], tenant["id"], "mods", manual_approval=True
        )
        assert put["status"] == "stopped"  # as PUT answered, before the start
        yield tenant


async def test_a_repeat_offender_in_a_manual_guild_waits_for_approval_then_one_call(
    guild, discord, tenant_b, running, pool
):
    api, author = guild["api"], "900000000000000001"
    for i, text in enumerate(["you are a worthless idiot", "shut up you stupid idiot"]):
        verdict = await api.post(
            "/api/v1/moderate?wait=true",
            json=discord_message(text, author, f"55500000000000000{i}"),
        )
        assert verdict.json()["decision"] == "act", verdict.text

    async def proposed():
        items = await actions_of(api, author, "AWAITING_APPROVAL")
        return items if {"DELETE", "TIMEOUT"} <= {a["type"] for a in items} else None

    held = await eventually(proposed, timeout=30)
    timeout = next(a for a in held if a["type"] == "TIMEOUT")
    assert timeout["params"] == {"duration": 600} and timeout["source"] == "classifier"
    assert not [r for r in discord.requests if r.route], "nothing runs before approval"

    # Another tenant cannot see or approve it.
    async with client_for(running, tenant_b["key"]) as other:
        assert (await other.get(f"/api/v1/actions/{timeout['id']}")).status_code == 404
        assert (await other.post(f"/api/v1/actions/{timeout['id']}/approve")).status_code == 404

    approved = await api.post(
        f"/api/v1/actions/{timeout['id']}/approve", json={"params": {"duration": 300}}
    )
    assert approved.status_code == 200, approved.text
    again = await api.post(f"/api/v1/actions/{timeout['id']}/approve")
    assert again.status_code == 409

    async def executed():
        done = (await api.get(f"/api/v1/actions/{timeout['id']}")).json()
        return done if done["status"] in ("EXECUTED", "FAILED") else None

    done = await eventually(executed, timeout=30)
    assert done["status"] == "EXECUTED", done["history"]
    calls = [r for r in discord.requests if r.route == "modify_member"]
    assert len(calls) == 1 and calls[0].path.endswith(f"/guilds/{GUILD}/members/{author}")
    assert calls[0].headers["authorization"] == f"Bot {BOT_TOKEN}"
    until = datetime.fromisoformat(calls[0].json["communication_disabled_until"])
    left = (until - datetime.now(UTC)).total_seconds()
    assert 200 < left <= 300  # the edited duration, not the ladder's 600
    # The classifier's reason (which categories depends on the text model).
    assert calls[0].reason == done["reason"] and done["reason"].startswith("flagged: ")
    assert [h["status"] for h in done["history"]] == [
        "PROPOSED",
        "AWAITING_APPROVAL",
        "APPROVED",
        "EXECUTING",
        "EXECUTED",
    ]
    assert done["history"][2]["by"] == f"user:{guild['id']}"

    # The rest is rejected; the audit log tells the story of both.
    delete = next(a for a in held if a["type"] == "DELETE")
    rejected = await api.post(f"/api/v1/actions/{delete['id']}/reject", json={"reason": "joke"})
    assert rejected.json()["status"] == "REJECTED"
    rows = await pool.fetch(
        "SELECT event, actor FROM audit_logs WHERE tenant_id = $1 AND stage = 'actions'"
        " AND detail->>'action_id' = $2 ORDER BY id",
        guild["id"],
        timeout["id"],
    )
    assert [r["event"].split(":")[2] for r in rows] == [
        "PROPOSED",
        "AWAITING_APPROVAL",
        "APPROVED",
        "EXECUTING",
        "EXECUTED",
    ]
    content = (await api.get(f"/api/v1/content/{done['content_id']}")).json()
    assert {a["id"]: a["status"] for a in content["actions"]}[timeout["id"]] == "EXECUTED"


async def test_a_stopped_moderator_takes_no_actions_until_started_again(guild, running):
    api, author = guild["api"], "900000000000000002"
    await api.post("/api/v1/moderators/mods/stop")
    await running_in_worker(running, guild["id"], "mods", False)
    stopped = await api.post(
        "/api/v1/moderate?wait=true",
        json=discord_message("you are a worthless idiot", author, "555000000000000009"),
    )
    assert stopped.json()["decision"] == "act"  # still classified and recorded
    await api.post("/api/v1/moderators/mods/start")
    await running_in_worker(running, guild["id"], "mods", True)
    again = await api.post(
        "/api/v1/moderate?wait=true",
        json=discord_message("you stupid worthless idiot", author, "555000000000000010"),
    )

    async def planned():
        return await actions_of(api, author)

    # The later item's actions exist, so the planner (one partition per moderator, in order)
    # has passed the earlier one, which made none.
    items = await eventually(planned, timeout=30)
    assert {a["content_id"] for a in items} == {again.json()["content_id"]}
    assert stopped.json()["content_id"] not in {a["content_id"] for a in items}


async def test_bad_moderator_config_gets_field_level_422(guild):
    api = guild["api"]
    bad = {"platform": "discord", "discord": {"guild_id": GUILD}, "allowed_actions": ["NUKE"]}
    answer = await api.put("/api/v1/moderators/mods", json=bad)
    assert answer.status_code == 422 and "allowed_actions" in answer.json()["detail"]
    answer = await api.put("/api/v1/moderators/mods", json={"platform": "discord"})
    assert answer.status_code == 422 and "discord" in answer.json()["detail"]
    # A webhook host outside GOVA_WEBHOOK_ALLOWED_HOSTS (127.0.0.1 and localhost here).
    hook = {"platform": "webhook", "webhook": {"url": "https://internal.example/hook"}}
    answer = await api.put("/api/v1/moderators/hook", json=hook)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("body.webhook.url: host 'internal.example'")
    assert (await api.get("/api/v1/moderators/hook")).status_code == 404, "nothing stored"


def discord_object(message_id: str, author: str, content: str, *, bot: bool = False) -> dict:
    """A message as Discord's API and gateway describe it (trimmed to what relays send)."""
    return {
        "id": message_id,
        "channel_id": "777000000000000001",
        "guild_id": GUILD,
        "author": {"id": author, "username": "someone", "bot": bot},
        "content": content,
        "attachments": [
            {"id": "888000000000000001", "filename": "cat.png", "size": 1234, "url": "https://x/y"}
        ],
        "timestamp": "2026-12-02T10:00:00.000000+00:00",
        "mentions": [],
    }


async def test_discord_messages_from_a_relay_reach_the_guilds_moderator(guild):
    api, author = guild["api"], "900000000000000003"
    posted = await api.post(
        "/api/v1/discord/messages",
        json=discord_object("666000000000000001", author, "you are a worthless idiot"),
    )
    assert posted.status_code == 202, posted.text

    async def decided():
        answer = await api.get("/api/v1/content/discord-666000000000000001")
        return answer.json() if answer.status_code == 200 else None

    verdict = await eventually(decided, timeout=30)
    assert (verdict["decision"], verdict["author_id"]) == ("act", author)

    async def proposed():
        return await actions_of(api, author)

    [delete] = await eventually(proposed, timeout=30)
    assert (delete["type"], delete["target"]["message_id"]) == ("DELETE", "666000000000000001")
    assert delete["moderator"] == "mods"

    bot = await api.post(
        "/api/v1/discord/messages",
        json=discord_object("666000000000000002", "1", "beep", bot=True),
    )
    assert (bot.status_code, bot.json()["status"]) == (200, "ignored")
    elsewhere = discord_object("666000000000000003", author, "hello")
    elsewhere["guild_id"] = "111"
    missing = await api.post("/api/v1/discord/messages", json=elsewhere)
    assert missing.status_code == 404 and "guild 111" in missing.json()["detail"]
