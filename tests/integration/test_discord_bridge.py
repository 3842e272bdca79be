"""`gova discord-bridge` against a fake Discord gateway, with discord.py doing the protocol:
a started moderator's guild is listened to with the tenant's own bot token, its messages and
edits get verdicts through the real stack, a dropped connection is resumed without losing
what was sent meanwhile, and stopping the moderator closes the connection."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import GUILD, client_for, discord_moderator, eventually, snowflake

DISPATCHES = json.loads(
    (Path(__file__).parents[1] / "fakes/data/discord_dispatches.json").read_text()
)
TOKEN = "fake-bot-token-of-the-bridge-tenant"


@pytest.fixture()
def gateway():
    from tests.fakes.discord_gateway import FakeGateway

    with FakeGateway(token=TOKEN) as fake:
        yield fake


@pytest.fixture()
async def bridge(running, settings, gateway):
    """The bridge in this process, pointed at the fake gateway, rereading moderators often."""
    from gova.api.state import ApiState
    from gova.integrations.discord_gateway import Bridge, point_discord_py_at

    local = settings.model_copy(
        update={
            "discord_api_base": gateway.api_base,
            "discord_gateway_url": gateway.gateway_url,
            "discord_bridge_refresh_s": 0.2,
        }
    )
    point_discord_py_at(local)
    async with ApiState.opened(local) as state:
        bridge = Bridge(state)
        task = asyncio.create_task(bridge.run())
        try:
            yield bridge
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)
    point_discord_py_at(settings)


def message(kind: str, content: str, message_id: str, author: str) -> dict:
    payload = copy.deepcopy(DISPATCHES[kind]["d"])
    payload.update(id=message_id, content=content, guild_id=GUILD)
    payload["author"]["id"] = author
    return payload


async def test_the_bridge_forwards_a_started_guild_and_resumes_after_a_reconnect(
    running, pool, gateway, bridge
):
    from tests.conftest import new_tenant

    tenant = await new_tenant(pool, f"bridge-{uuid.uuid4().hex[:6]}")
    async with client_for(running, tenant["key"]) as api:
        assert (await api.put("/api/v1/discord", json={"bot_token": TOKEN})).status_code == 200
        await discord_moderator(running, api, tenant["id"], "mods", shadow=True)

        # The started moderator makes the bridge identify with the tenant's own token.
        identify = await eventually(lambda: _first(gateway.identifies), timeout=30)
        assert identify["token"] == TOKEN
        assert identify["intents"] & (1 << 15), "the message-content intent is asked for"

        async def verdict(content_id: str):
            answer = await api.get(f"/api/v1/content/{content_id}")
            return answer.json() if answer.status_code == 200 else None

        author, first = snowflake(), snowflake()
        gateway.dispatch(
            "MESSAGE_CREATE", message("message_create", "you are a worthless idiot", first, author)
        )
        got = await eventually(lambda: verdict(f"discord-{first}"), timeout=30)
        assert got["decision"] == "act" and got["author_id"] == author

        # Discord asks the bot to reconnect; what is sent meanwhile is replayed on resume.
        seen = len(gateway.resumes)
        gateway.reconnect()
        edited = message("message_update", "thanks, have a nice day", first, author)
        gateway.dispatch("MESSAGE_UPDATE", edited)
        resume = await eventually(lambda: _first(gateway.resumes[seen:]), timeout=30)
        assert resume["session_id"] == "session-1" and resume["token"] == TOKEN
        edit = await eventually(lambda: verdict(f"discord-{first}.edit-1796280060500"), 30)
        assert edit["decision"] == "allow", edit
        assert len(gateway.identifies) == 1, "resumed, not identified again"

        # Stopping the moderator closes the bridge's connection.
        assert (await api.post("/api/v1/moderators/mods/stop")).status_code == 200
        await eventually(lambda: _true(gateway.connections == 0 and not bridge.connections), 30)


async def _first(items: list):
    return items[0] if items else None


async def _true(value: bool):
    return value
