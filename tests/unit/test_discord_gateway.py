"""The Discord bridge's reading of gateway dispatches: which payloads become items, for which
tenants and moderators, and under which ids (payloads in tests/fakes/data)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from gova.api.key_cache import Tenant
from gova.integrations.discord_gateway import Bridge, Watch, dispatched, items_for
from gova.schemas import Policy
from gova.schemas.actions import ModeratorConfig
from gova.schemas.discord import content_event

DISPATCHES = json.loads(
    (Path(__file__).parents[1] / "fakes/data/discord_dispatches.json").read_text()
)
GUILD, CHANNEL = "424242424242", "777000000000000001"


def tenant(tid: str) -> Tenant:
    return Tenant(tid, tid, "free", Policy())


def watch(tid: str, name: str, guild: str = GUILD, channels: list[str] | None = None) -> Watch:
    config = ModeratorConfig.model_validate(
        {"platform": "discord", "discord": {"guild_id": guild, "channel_ids": channels or []}}
    )
    return Watch(tenant(tid), name, config)


def test_a_message_create_becomes_an_item_of_the_guilds_moderator():
    message, edit = dispatched(json.dumps(DISPATCHES["message_create"]))
    assert edit is None
    [(who, incoming)] = items_for(
        message, edit, [watch("acme", "mods"), watch("acme", "other", "1")]
    )
    item = content_event(incoming.message, incoming.moderator, edit=incoming.edit)
    assert who.id == "acme" and incoming.id == item.id
    assert item.id == "discord-1313131313131313100"
    assert item.user_id == "900000000000000777"
    assert item.content == "you are a worthless idiot"
    assert item.metadata.moderator == "mods"
    assert (item.metadata.guild_id, item.metadata.channel_id, item.metadata.message_id) == (
        GUILD,
        CHANNEL,
        "1313131313131313100",
    )


def test_an_edit_is_an_item_of_its_own_named_by_its_edit_time():
    message, edit = dispatched(DISPATCHES["message_update"])
    [(_, incoming)] = items_for(message, edit, [watch("acme", "mods")])
    item = content_event(incoming.message, incoming.moderator, edit=incoming.edit)
    assert edit == "1796280060500"  # 2026-12-03T06:41:00.500Z in milliseconds
    assert item.id == "discord-1313131313131313100.edit-1796280060500"
    assert item.content == "have a nice day everyone"
    assert item.model_dump(by_alias=True)["metadata"]["attachments"][0]["filename"] == "cat.png"


@pytest.mark.parametrize(
    "name",
    [
        "embed_unfurl_update",
        "bot_message",
        "webhook_message",
        "direct_message",
        "typing_start",
        "heartbeat_ack",
    ],
)
def test_payloads_that_are_not_a_person_writing_in_a_guild_are_skipped(name):
    assert dispatched(json.dumps(DISPATCHES[name])) is None


def test_a_malformed_message_is_skipped_not_raised():
    payload = copy.deepcopy(DISPATCHES["message_create"])
    payload["d"]["author"]["id"] = "not-a-snowflake"
    assert dispatched(payload) is None


def test_each_tenant_watching_the_guild_gets_its_own_item_and_unwatched_channels_none():
    message, edit = dispatched(DISPATCHES["message_create"])
    watching = [
        watch("acme", "a-mods"),
        watch("acme", "b-mods"),  # the tenant's second moderator of the guild: not twice
        watch("globex", "mods", channels=[CHANNEL]),
        watch("initech", "mods", channels=["1"]),  # other channels only
    ]
    found = items_for(message, edit, watching)
    assert [(t.id, i.moderator) for t, i in found] == [
        ("acme", "a-mods"),
        ("globex", "mods"),
    ]


def test_the_queue_is_bounded_and_counts_what_it_drops():
    state = SimpleNamespace(settings=SimpleNamespace(discord_bridge_queue=2))
    bridge = Bridge(state)
    bridge.watching = {"token": [watch("acme", "mods")]}
    raw = json.dumps(DISPATCHES["message_create"])
    assert [bridge.receive("token", raw) for _ in range(3)] == [1, 1, 0]
    assert (bridge.queue.qsize(), bridge.dropped) == (2, 1)
    assert bridge.receive("another token", raw) == 0  # a token serves only its own tenants
    assert bridge.receive("token", "{not json") == 0
