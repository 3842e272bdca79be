"""Discord attachments fetched into an item's parts, against a fake CDN over TLS: what is
fetched (https, the allowed hosts, image/audio, within the limits), what is skipped and why,
and that neither way in loses the message's text when a fetch fails."""

from __future__ import annotations

import base64
import io
import wave
from types import SimpleNamespace

import pytest

from gova.integrations import discord_attachments
from gova.integrations.discord_attachments import discord_item
from gova.schemas.content import MAX_ATTACHMENTS
from gova.schemas.discord import DiscordMessage
from tests.fakes.media import encoded, picture

GUILD, CHANNEL = "424242424242", "777000000000000001"


@pytest.fixture(scope="module")
def cdn():
    from tests.fakes.cdn import FakeCDN

    with FakeCDN() as fake:
        yield fake


@pytest.fixture()
def local(settings):
    """The session's settings (127.0.0.1 allowed, the fake's CA trusted), quick to time out."""
    return settings.model_copy(update={"discord_attachment_timeout_s": 5.0})


def png(seed: int = 1) -> bytes:
    return encoded(picture(seed=seed), "PNG")


def wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(int(seconds * rate) * 2))
    return out.getvalue()


def attachment(n: int, url: str, content_type: str = "image/png", size: int = 1000) -> dict:
    return {
        "id": f"88800000000000000{n}",
        "filename": f"file{n}",
        "content_type": content_type,
        "size": size,
        "url": url,
    }


def message(content: str, *attachments: dict) -> DiscordMessage:
    return DiscordMessage.model_validate(
        {
            "id": "1313131313131313100",
            "channel_id": CHANNEL,
            "guild_id": GUILD,
            "author": {"id": "900000000000000777"},
            "content": content,
            "attachments": list(attachments),
        }
    )


def reasons(skipped: list[dict]) -> dict[str, str]:
    return {s["id"]: s["reason"] for s in skipped}


async def test_an_image_and_a_clip_become_the_items_named_parts(cdn, local):
    image, clip = png(), wav()
    event, skipped = await discord_item(
        message(
            "look at this",
            attachment(1, cdn.serve("c/1/cat.png", image, "image/png")),
            attachment(2, cdn.serve("c/2/hi.wav", clip, "audio/wav"), "audio/wav"),
        ),
        "mods",
        local,
    )
    assert skipped == []
    assert (event.content_type, event.content) == ("text", "look at this")
    parts = [(a.content_type, a.name, base64.b64decode(a.content)) for a in event.attachments]
    assert parts == [
        ("image", "888000000000000001", image),
        ("audio", "888000000000000002", clip),
    ]
    assert "attachments_skipped" not in event.metadata.model_extra


async def test_a_message_without_text_is_its_first_file(cdn, local):
    image = png(2)
    event, _ = await discord_item(
        message("", attachment(1, cdn.serve("c/3/only.png", image, "image/png"))), "mods", local
    )
    assert event.content_type == "image" and base64.b64decode(event.content) == image
    assert event.attachments == []
    assert event.metadata.model_extra["content_attachment"] == "888000000000000001"
    assert event.id == "discord-1313131313131313100"


async def test_hosts_off_the_list_and_plain_http_are_never_asked(cdn, local):
    cdn.serve("c/4/a.png", png(), "image/png")
    before = len(cdn.requests)
    other_host = cdn.url("c/4/a.png").replace("127.0.0.1", "localhost")
    plain = cdn.url("c/4/a.png").replace("https://", "http://")
    event, skipped = await discord_item(
        message("hi", attachment(1, other_host), attachment(2, plain)), "mods", local
    )
    assert cdn.requests[before:] == []
    why = reasons(skipped)
    assert "host 'localhost' is not in GOVA_DISCORD_ATTACHMENT_HOSTS" in why["888000000000000001"]
    assert why["888000000000000002"] == "not https (http)"
    assert event.content == "hi" and event.attachments == []
    assert event.metadata.model_extra["attachments_skipped"] == skipped

    off = local.model_copy(update={"discord_attachment_hosts": ""})
    _, skipped = await discord_item(message("hi", attachment(1, cdn.url("c/4/a.png"))), "m", off)
    assert "fetching is off" in skipped[0]["reason"] and cdn.requests[before:] == []


async def test_a_redirect_to_another_host_is_not_followed(cdn, local):
    elsewhere = cdn.url("c/5/a.png").replace("127.0.0.1", "localhost")
    start = cdn.redirect("c/5/start.png", elsewhere)
    before = len(cdn.requests)
    _, skipped = await discord_item(message("hi", attachment(1, start)), "mods", local)
    assert cdn.requests[before:] == ["c/5/start.png"]
    assert "host 'localhost'" in skipped[0]["reason"]
    # A redirect within the allowed hosts is followed.
    image = png(3)
    cdn.serve("c/5/there.png", image, "image/png")
    hop = cdn.redirect("c/5/hop.png", cdn.url("c/5/there.png"))
    event, skipped = await discord_item(message("hi", attachment(1, hop)), "mods", local)
    assert skipped == [] and base64.b64decode(event.attachments[0].content) == image


async def test_a_file_over_the_cap_is_refused_before_or_while_reading(cdn, local):
    limit = local.image_max_bytes
    before = len(cdn.requests)
    # Declared over the limit: not asked for.
    declared = attachment(1, cdn.serve("c/6/big.png", png(), "image/png"), size=limit + 1)
    _, skipped = await discord_item(message("hi", declared), "mods", local)
    assert f"over the limit GOVA_IMAGE_MAX_BYTES={limit:,}" in skipped[0]["reason"]
    assert cdn.requests[before:] == []
    # Declared small, but the body does not end: only a read that stops past the limit
    # comes back with this (one that read on would run into the timeout).
    lying = attachment(2, cdn.endless("c/6/endless.png"), size=10)
    event, skipped = await discord_item(message("hi", lying), "mods", local)
    assert skipped[0]["reason"] == (
        f"over {limit:,} bytes, the limit GOVA_IMAGE_MAX_BYTES={limit:,} (not read further)"
    )
    assert event.content == "hi" and event.attachments == []


async def test_a_404_a_wrong_type_and_a_disguised_file_leave_the_text(cdn, local):
    cdn.serve("c/7/song.png", wav(), "image/png")
    before = len(cdn.requests)
    event, skipped = await discord_item(
        message(
            "you are a worthless idiot",
            attachment(1, cdn.url("c/7/missing.png")),
            attachment(2, cdn.url("c/7/film.mp4"), "video/mp4"),
            attachment(3, cdn.url("c/7/song.png")),
        ),
        "mods",
        local,
    )
    why = reasons(skipped)
    assert why["888000000000000001"] == "HTTP 404"
    assert "'video/mp4' is not image/* or audio/*" in why["888000000000000002"]
    assert "contentType is 'image' but the bytes are WAV audio" in why["888000000000000003"]
    assert sorted(cdn.requests[before:]) == ["c/7/missing.png", "c/7/song.png"]  # no video
    assert event.content == "you are a worthless idiot" and event.attachments == []
    # Without text, nothing fetched is nothing to moderate.
    event, skipped = await discord_item(
        message("", attachment(1, cdn.url("c/7/missing.png"))), "mods", local
    )
    assert event is None and skipped[0]["reason"] == "HTTP 404"


async def test_no_more_files_than_an_item_holds_are_fetched(cdn, local):
    url = cdn.serve("c/8/a.png", png(), "image/png")
    before = len(cdn.requests)
    many = [attachment(n, url) for n in range(MAX_ATTACHMENTS + 2)]
    event, skipped = await discord_item(message("hi", *many), "mods", local)
    assert len(event.attachments) == MAX_ATTACHMENTS
    assert len(cdn.requests[before:]) == MAX_ATTACHMENTS
    too_many = f"more than {MAX_ATTACHMENTS} files in one message"
    assert [s["reason"] for s in skipped] == [too_many, too_many]


async def test_a_missing_extra_skips_that_kind_naming_the_extra(cdn, local, monkeypatch):
    why = "image moderation needs the image extra, not installed: pip install '.[image]'"
    monkeypatch.setattr(
        discord_attachments, "missing_extra", lambda kind: why if kind == "image" else None
    )
    before = len(cdn.requests)
    url = cdn.serve("c/9/a.png", png(), "image/png")
    event, skipped = await discord_item(message("hi", attachment(1, url)), "mods", local)
    assert skipped == [{"id": "888000000000000001", "reason": why}]
    assert cdn.requests[before:] == [] and event.content == "hi"


async def test_the_bridge_fetches_once_and_submits_the_parts(cdn, local, monkeypatch):
    from gova.api.key_cache import Tenant
    from gova.integrations import discord_gateway
    from gova.integrations.discord_gateway import Bridge, Incoming
    from gova.schemas import Policy

    submitted: list = []

    async def stored_or_none(state, tenant_id, ids):
        return {}

    async def submit(state, tenant, events):
        submitted.extend(events)

    monkeypatch.setattr(discord_gateway, "stored_or_none", stored_or_none)
    monkeypatch.setattr(discord_gateway, "submit", submit)
    bridge = Bridge(SimpleNamespace(settings=local.model_copy(update={"discord_bridge_queue": 4})))
    image = png(4)
    url = cdn.serve("c/10/a.png", image, "image/png")
    tenant = Tenant("acme", "acme", "free", Policy())
    await bridge.forward(tenant, Incoming(message("", attachment(1, url)), "mods"))
    await bridge.forward(tenant, Incoming(message("hi", attachment(2, cdn.url("c/10/no"))), "m"))
    [image_item, text_item] = submitted
    assert image_item.content_type == "image" and base64.b64decode(image_item.content) == image
    assert text_item.content == "hi"
    assert text_item.metadata.model_extra["attachments_skipped"] == [
        {"id": "888000000000000002", "reason": "HTTP 404"}
    ]
