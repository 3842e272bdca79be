"""Discord attachments through the real stack: `POST /api/v1/discord/messages` fetches a
message's image from a fake CDN (over TLS, on the allowed host), the image stage scores it as
a part of the item and the verdict names it; a failed fetch leaves the text's verdict; a
message that is only an image is moderated."""

from __future__ import annotations

import pytest

from tests.fakes.media import b64, encoded, picture
from tests.integration.conftest import discord_moderator, discord_tenant, eventually, snowflake

CHANNEL = "777000000000000001"


@pytest.fixture(scope="module")
def cdn():
    from tests.fakes.cdn import FakeCDN

    with FakeCDN() as fake:
        yield fake


@pytest.fixture()
async def guild(running, pool):
    """A tenant of its own with a shadow Discord moderator (actions recorded, never run)."""
    async with discord_tenant(running, pool, "cdn") as tenant:
        await discord_moderator(running, tenant["api"], tenant["id"], "mods", shadow=True)
        yield tenant


def discord_object(content: str, *attachments: dict) -> dict:
    from tests.integration.conftest import GUILD

    return {
        "id": snowflake(),
        "channel_id": CHANNEL,
        "guild_id": GUILD,
        "author": {"id": snowflake(), "username": "someone"},
        "content": content,
        "attachments": list(attachments),
    }


def attachment(url: str, size: int, content_type: str = "image/png") -> dict:
    return {
        "id": snowflake(),
        "filename": "picture.png",
        "content_type": content_type,
        "size": size,
        "url": url,
        "proxy_url": url,
    }


async def posted_verdict(api, body: dict) -> tuple[dict, dict]:
    """POST the message; its answer and, once decided, its verdict."""
    answer = await api.post("/api/v1/discord/messages", json=body)
    assert answer.status_code == 202, answer.text

    async def decided():
        got = await api.get(f"/api/v1/content/discord-{body['id']}")
        return got.json() if got.status_code == 200 else None

    return answer.json(), await eventually(decided, timeout=90, interval=0.2)


async def test_an_image_attachment_is_a_scored_part_named_in_the_verdict(guild, cdn):
    api = guild["api"]
    image = picture(seed=9191)
    png = encoded(image, "PNG")
    banked = await api.post(
        "/api/v1/hash-bank/entries",
        json={"image": b64(png), "label": "known", "category": "violence/graphic"},
    )
    assert banked.status_code == 201, banked.text
    file = attachment(cdn.serve(f"{CHANNEL}/1/picture.png", png, "image/png"), len(png))
    answer, verdict = await posted_verdict(api, discord_object("nice weather today", file))
    assert "attachments_skipped" not in answer
    assert cdn.requests.count(f"{CHANNEL}/1/picture.png") == 1
    text, picture_part = verdict["parts"]
    assert (text["part"], text["content_type"], text["name"]) == (0, "text", None)
    assert (picture_part["name"], picture_part["content_type"]) == (file["id"], "image")
    assert picture_part["flagged"] == ["violence/graphic"]
    assert picture_part["media"]["format"] == "png" and picture_part["media"]["size"] == len(png)
    assert (verdict["triggered_by"], verdict["decision"]) == (1, "act")


async def test_a_failed_fetch_leaves_the_texts_verdict_and_says_why(guild, cdn):
    file = attachment(cdn.url(f"{CHANNEL}/2/gone.png"), 1000)
    answer, verdict = await posted_verdict(
        guild["api"], discord_object("you are a worthless idiot", file)
    )
    assert answer["attachments_skipped"] == [{"id": file["id"], "reason": "HTTP 404"}]
    assert verdict["content_type"] == "text" and verdict["decision"] == "act"
    assert verdict["parts"] is None


async def test_a_message_that_is_only_an_image_is_moderated(guild, cdn):
    png = encoded(picture(seed=5150), "PNG")
    file = attachment(cdn.serve(f"{CHANNEL}/3/only.png", png, "image/png"), len(png))
    _, verdict = await posted_verdict(guild["api"], discord_object("", file))
    assert verdict["content_type"] == "image" and verdict["decision"] == "allow"
    assert set(verdict["scores"]) == {"sexual", "violence/graphic"}
    assert verdict["media"]["format"] == "png"
