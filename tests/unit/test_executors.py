"""The action executors, over real HTTP against local fakes of Discord and of a webhook.

What the fakes received is what is asserted (path, method, headers, body), and the fakes
refuse what the real services would refuse, so a wrong request fails here. Waits are tiny
(retry_after of a few hundredths of a second, backoffs of 10 ms) and always bounded.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gova.integrations.discord import DiscordExecutor
from gova.integrations.executors import ExecutionContext, Executor
from gova.integrations.webhook import (
    WebhookExecutor,
    new_secret,
    refused_destination,
    sign,
    verify,
)
from gova.schemas.actions import ActionEvent, ActionTarget, ModeratorConfig
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.webhook_receiver import FakeWebhookReceiver

TOKEN = "bot-token-abc"
GUILD, CHANNEL, MESSAGE, USER = (
    "811111111111111111",
    "822222222222222222",
    "833333333333333333",
    "844444444444444444",
)
OTHER_GUILD = "899999999999999999"


def action(
    kind: str,
    *,
    params: dict[str, Any] | None = None,
    reason: str = "G2: no harassment",
    target: ActionTarget | None = None,
    author: str = USER,
) -> ActionEvent:
    return ActionEvent(
        id=f"act-{uuid.uuid4().hex}",
        tenant_id="acme",
        moderator="mod-1",
        content_id=f"c-{uuid.uuid4().hex[:8]}",
        author_id=author,
        type=kind,
        params=params or {},
        status="APPROVED",
        source="review",
        reason=reason,
        target=target or ActionTarget(guild_id=GUILD, channel_id=CHANNEL, message_id=MESSAGE),
        created_at=time.time(),
    )


def discord_context(secret: str | None = TOKEN, guild: str = OTHER_GUILD) -> ExecutionContext:
    config = ModeratorConfig(platform="discord", discord={"guild_id": guild})
    return ExecutionContext(config=config, secret=secret)


# -- Discord -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord(token=TOKEN) as fake:
        yield fake


@pytest.fixture()
async def executor(discord: FakeDiscord) -> AsyncIterator[DiscordExecutor]:
    discord.reset()
    async with DiscordExecutor(
        discord.base_url, max_attempts=4, max_wait_s=5.0, base_delay_s=0.01, max_delay_s=0.05
    ) as ex:
        yield ex


def test_the_executors_implement_the_protocol():
    assert isinstance(DiscordExecutor(), Executor)
    assert isinstance(WebhookExecutor(), Executor)


async def test_reply_posts_a_reply_that_pings_nobody(executor, discord):
    act = action("REPLY", params={"message": "Please keep it civil."})
    result = await executor.execute(act, discord_context())

    assert result.ok, result.error
    [request] = discord.requests
    assert (request.method, request.path) == ("POST", f"/api/v10/channels/{CHANNEL}/messages")
    assert request.status == 200
    assert request.headers["authorization"] == f"Bot {TOKEN}"
    assert request.reason == "G2: no harassment"
    assert request.json["content"] == "Please keep it civil."
    assert request.json["message_reference"] == {"message_id": MESSAGE, "fail_if_not_exists": False}
    assert request.json["allowed_mentions"] == {"parse": []}
    [created] = discord.messages
    assert result.detail == {"message_id": created["id"], "channel_id": CHANNEL}
    assert [(a.status_code, a.error) for a in result.attempts] == [(200, None)]


async def test_reply_without_a_message_names_the_reason(executor, discord):
    result = await executor.execute(action("REPLY", reason="G4: spoilers"), discord_context())
    assert result.ok, result.error
    assert "G4: spoilers" in discord.requests[0].json["content"]


async def test_warn_replies_with_a_warning_naming_the_guideline(executor, discord):
    act = action("WARN", params={"guideline": "G7"}, reason="slurs")
    result = await executor.execute(act, discord_context())

    assert result.ok, result.error
    [request] = discord.requests
    assert (request.method, request.path) == ("POST", f"/api/v10/channels/{CHANNEL}/messages")
    content = request.json["content"]
    assert "warning" in content.lower() and "G7" in content and "slurs" in content
    assert request.json["message_reference"]["message_id"] == MESSAGE


async def test_delete_deletes_the_message(executor, discord):
    result = await executor.execute(action("DELETE"), discord_context())
    assert result.ok, result.error
    [request] = discord.requests
    assert (request.method, request.path) == (
        "DELETE",
        f"/api/v10/channels/{CHANNEL}/messages/{MESSAGE}",
    )
    assert request.status == 204 and request.raw == b""
    assert request.headers["authorization"] == f"Bot {TOKEN}"
    assert request.reason == "G2: no harassment"
    assert result.attempts[0].status_code == 204


async def test_timeout_disables_communication_for_the_duration(executor, discord):
    before = datetime.now(UTC)
    result = await executor.execute(action("TIMEOUT", params={"duration": 3600}), discord_context())
    after = datetime.now(UTC)

    assert result.ok, result.error
    [request] = discord.requests
    assert (request.method, request.path) == ("PATCH", f"/api/v10/guilds/{GUILD}/members/{USER}")
    assert set(request.json) == {"communication_disabled_until"}
    until = datetime.fromisoformat(request.json["communication_disabled_until"])
    assert until.utcoffset() == timedelta(0)
    assert before + timedelta(seconds=3600) <= until <= after + timedelta(seconds=3600)
    assert (
        result.detail["communication_disabled_until"]
        == request.json["communication_disabled_until"]
    )


async def test_kick_removes_the_member(executor, discord):
    result = await executor.execute(action("KICK"), discord_context())
    assert result.ok, result.error
    [request] = discord.requests
    assert (request.method, request.path) == ("DELETE", f"/api/v10/guilds/{GUILD}/members/{USER}")
    assert request.status == 204 and request.raw == b""


@pytest.mark.parametrize(
    ("params", "body"),
    [({}, {}), ({"delete_message_seconds": 3600}, {"delete_message_seconds": 3600})],
)
async def test_ban_bans_the_member(executor, discord, params, body):
    result = await executor.execute(action("BAN", params=params), discord_context())
    assert result.ok, result.error
    [request] = discord.requests
    assert (request.method, request.path) == ("PUT", f"/api/v10/guilds/{GUILD}/bans/{USER}")
    assert request.json == body
    assert request.status == 204


async def test_the_guild_comes_from_the_config_when_the_target_has_none(executor, discord):
    target = ActionTarget(channel_id=CHANNEL, message_id=MESSAGE)
    result = await executor.execute(action("KICK", target=target), discord_context())
    assert result.ok, result.error
    assert discord.requests[0].path == f"/api/v10/guilds/{OTHER_GUILD}/members/{USER}"


async def test_the_audit_reason_is_url_encoded_and_truncated(executor, discord):
    reason = "Règle 3 : « insultes »\nsecond line " + "x" * 600
    result = await executor.execute(action("DELETE", reason=reason), discord_context())
    assert result.ok, result.error
    [request] = discord.requests
    assert request.headers["x-audit-log-reason"].isascii()
    assert request.reason == reason[:512]


async def test_a_429_is_waited_out_then_the_action_succeeds(executor, discord):
    discord.rate_limit(0.15)
    result = await executor.execute(action("DELETE"), discord_context())

    assert result.ok, result.error
    assert [a.status_code for a in result.attempts] == [429, 204]
    first, second = discord.requests
    assert (first.status, second.status) == (429, 204)
    assert second.at - first.at >= 0.15


async def test_a_429_with_only_a_retry_after_header_is_waited_out(executor, discord):
    discord.rate_limit(0.15, in_body=False)
    result = await executor.execute(action("KICK"), discord_context())

    assert result.ok, result.error
    assert [a.status_code for a in result.attempts] == [429, 204]
    first, second = discord.requests
    assert 0.15 <= second.at - first.at < 0.9  # the header's wait, not a 1 s default


async def test_a_global_429_holds_back_every_route(discord):
    discord.reset()
    discord.rate_limit(0.2, is_global=True)
    # One attempt each: the DELETE gives up at once, so only the global limit can hold the KICK.
    async with DiscordExecutor(discord.base_url, max_attempts=1, max_wait_s=5.0) as ex:
        first = await ex.execute(action("DELETE"), discord_context())
        second = await ex.execute(action("KICK"), discord_context())

    assert not first.ok and [a.status_code for a in first.attempts] == [429]
    assert second.ok, second.error
    limited, other_route = discord.requests
    assert other_route.path.endswith(f"/members/{USER}") and other_route.status == 204
    assert other_route.at - limited.at >= 0.2


async def test_a_spent_bucket_is_waited_out_before_the_next_request(executor, discord):
    discord.exhaust_bucket(0.2)
    first = await executor.execute(action("DELETE"), discord_context())
    second = await executor.execute(action("DELETE"), discord_context())

    assert first.ok and second.ok
    assert discord.violations == []  # no request came while Discord said the bucket was spent
    a, b = discord.requests
    assert (a.status, b.status) == (204, 204)
    assert b.at - a.at >= 0.2


async def test_a_spent_bucket_does_not_hold_back_another_channel(discord):
    discord.reset()
    discord.exhaust_bucket(30.0)
    elsewhere = ActionTarget(guild_id=GUILD, channel_id="855555555555555555", message_id=MESSAGE)
    # max_wait_s is far below the spent bucket's 30 s: waiting on it would be a failure.
    async with DiscordExecutor(discord.base_url, max_wait_s=1.0) as ex:
        assert (await ex.execute(action("DELETE"), discord_context())).ok
        other_channel = await ex.execute(action("DELETE", target=elsewhere), discord_context())
        same_channel = await ex.execute(action("DELETE"), discord_context())

    assert other_channel.ok, other_channel.error
    assert not same_channel.ok and "max_wait_s" in same_channel.error
    assert same_channel.attempts == [] and len(discord.requests) == 2
    assert discord.violations == []


async def test_a_rate_limit_longer_than_max_wait_gives_up_without_waiting(discord):
    discord.reset()
    discord.rate_limit(30.0)
    async with DiscordExecutor(discord.base_url, max_wait_s=1.0) as ex:
        result = await ex.execute(action("DELETE"), discord_context())
    assert not result.ok
    assert "rate limited" in result.error and "max_wait_s" in result.error
    assert len(discord.requests) == 1 and [a.status_code for a in result.attempts] == [429]


async def test_5xx_is_retried_with_the_same_nonce_then_succeeds(executor, discord):
    discord.server_error(times=1, status=500)
    discord.server_error(times=1, status=502)
    result = await executor.execute(action("REPLY"), discord_context())

    assert result.ok, result.error
    assert [a.status_code for a in result.attempts] == [500, 502, 200]
    assert [r.status for r in discord.requests] == [500, 502, 200]
    nonces = {r.json["nonce"] for r in discord.requests}
    assert len(nonces) == 1 and all(r.json["enforce_nonce"] is True for r in discord.requests)
    assert len(discord.messages) == 1


async def test_executing_a_reply_twice_creates_one_message(executor, discord):
    act = action("REPLY")
    first = await executor.execute(act, discord_context())
    second = await executor.execute(act, discord_context())
    assert first.ok and second.ok
    assert len(discord.messages) == 1
    assert first.detail["message_id"] == second.detail["message_id"]


async def test_5xx_forever_fails_after_max_attempts(executor, discord):
    discord.server_error(times=10, status=503)
    result = await executor.execute(action("DELETE"), discord_context())

    assert not result.ok
    assert "4 attempts" in result.error and "503" in result.error
    assert [a.status_code for a in result.attempts] == [503] * 4
    assert len(discord.requests) == 4
    assert all(a.error for a in result.attempts)
    assert [a.at for a in result.attempts] == sorted(a.at for a in result.attempts)


async def test_transport_errors_are_retried_and_recorded():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with DiscordExecutor(
        f"http://127.0.0.1:{port}/api/v10", max_attempts=3, base_delay_s=0.01
    ) as ex:
        result = await ex.execute(action("DELETE"), discord_context())
    assert not result.ok and "ConnectError" in result.error
    assert [a.status_code for a in result.attempts] == [None, None, None]
    assert all("ConnectError" in a.error for a in result.attempts)


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("BAN", 403, 50013, "Missing Permissions"),
        ("DELETE", 404, 10008, "Unknown Message"),
        ("TIMEOUT", 404, 10007, "Unknown Member"),
    ],
)
async def test_a_discord_refusal_is_final(executor, discord, kind, status, code, message):
    discord.refuse(status, code, message, times=3)
    result = await executor.execute(action(kind), discord_context())

    assert not result.ok
    assert message in result.error and str(code) in result.error
    assert len(discord.requests) == 1 and [a.status_code for a in result.attempts] == [status]
    assert result.detail == {"status": status, "code": code, "message": message}


async def test_a_wrong_token_is_refused_by_discord(executor, discord):
    result = await executor.execute(action("KICK"), discord_context(secret="not-the-token"))
    assert not result.ok and "401" in result.error
    assert len(discord.requests) == 1


async def test_no_token_sends_nothing(executor, discord):
    result = await executor.execute(action("DELETE"), discord_context(secret=None))
    assert not result.ok and "token" in result.error
    assert result.attempts == [] and discord.requests == []


@pytest.mark.parametrize(
    ("kind", "target", "author", "missing"),
    [
        ("REPLY", ActionTarget(guild_id=GUILD, message_id=MESSAGE), USER, "target.channel_id"),
        ("WARN", ActionTarget(guild_id=GUILD, channel_id=CHANNEL), USER, "target.message_id"),
        ("DELETE", ActionTarget(guild_id=GUILD, channel_id=CHANNEL), USER, "target.message_id"),
        ("TIMEOUT", ActionTarget(), "", "author_id"),
        ("KICK", ActionTarget(), "", "author_id"),
        ("BAN", ActionTarget(channel_id=CHANNEL), "../../users/@me", "author_id"),
    ],
)
async def test_a_missing_or_malformed_id_sends_nothing(
    executor, discord, kind, target, author, missing
):
    result = await executor.execute(action(kind, target=target, author=author), discord_context())
    assert not result.ok and missing in result.error
    assert result.attempts == [] and discord.requests == []


async def test_no_guild_anywhere_sends_nothing(executor, discord):
    context = ExecutionContext(config=ModeratorConfig(), secret=TOKEN)  # platform "api"
    result = await executor.execute(action("KICK", target=ActionTarget()), context)
    assert not result.ok and "guild_id" in result.error
    assert discord.requests == []


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("TIMEOUT", {"duration": 0}),
        ("TIMEOUT", {"duration": 29 * 86_400}),
        ("TIMEOUT", {"duration": "10m"}),
        ("BAN", {"delete_message_seconds": 10**7}),
        ("REPLY", {"message": ["not", "text"]}),
    ],
)
async def test_out_of_range_params_send_nothing(executor, discord, kind, params):
    result = await executor.execute(action(kind, params=params), discord_context())
    assert not result.ok and "params." in result.error
    assert discord.requests == []


# The fake's own checks, so a request the executor got wrong would fail the tests above.


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", f"/channels/{CHANNEL}/messages", {"content": "hi"}, 400),
        ("POST", f"/channels/{CHANNEL}/messages", {"content": "", "allowed_mentions": {}}, 400),
        ("PATCH", f"/guilds/{GUILD}/members/{USER}", {"communication_disabled_until": "x"}, 400),
        ("PATCH", f"/guilds/{GUILD}/members/{USER}", {"timeout": 60}, 400),
        ("PUT", f"/guilds/{GUILD}/bans/{USER}", {"delete_message_days": 1}, 400),
        ("POST", f"/guilds/{GUILD}/bans/{USER}", {}, 405),
        ("DELETE", f"/guilds/{GUILD}/kick/{USER}", None, 404),
        ("DELETE", f"/channels/{CHANNEL}/messages/not-an-id", None, 400),
    ],
)
def test_the_fake_refuses_what_discord_would(discord, method, path, body, status):
    discord.reset()
    headers = {"Authorization": f"Bot {TOKEN}", "X-Audit-Log-Reason": "test"}
    response = httpx.request(
        method, discord.base_url + path, json=body, headers=headers, timeout=5.0
    )
    assert response.status_code == status
    assert set(response.json()) >= {"message", "code"}


def test_the_fake_wants_the_bot_token_and_an_audit_reason(discord):
    url = f"{discord.base_url}/guilds/{GUILD}/members/{USER}"
    assert httpx.delete(url, headers={"Authorization": TOKEN}).status_code == 401
    assert httpx.delete(url, headers={"Authorization": f"Bot {TOKEN}"}).status_code == 400


# -- Webhooks ----------------------------------------------------------------------------

SECRET = new_secret()
VERDICT = {"severity_score": 0.93, "reason": "G2: no harassment", "guideline": "G2"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as fake:
        yield fake


@pytest.fixture()
async def webhook(receiver: FakeWebhookReceiver) -> AsyncIterator[WebhookExecutor]:
    receiver.reset()
    async with WebhookExecutor(
        max_attempts=4, max_wait_s=5.0, base_delay_s=0.01, allowed_hosts=LOOPBACK
    ) as ex:
        yield ex


LOOPBACK = frozenset({"127.0.0.1"})


def webhook_context(receiver: FakeWebhookReceiver, secret: str | None = SECRET) -> ExecutionContext:
    config = ModeratorConfig(platform="webhook", webhook={"url": receiver.url})
    return ExecutionContext(config=config, secret=secret, verdict=VERDICT)


async def test_a_delivery_is_signed_and_carries_the_action_and_verdict(webhook, receiver):
    act = action("TIMEOUT", params={"duration": 600})
    result = await webhook.execute(act, webhook_context(receiver))

    assert result.ok, result.error
    [delivery] = receiver.deliveries
    assert delivery.verified and delivery.status == 200
    assert delivery.headers["content-type"] == "application/json"
    assert verify(SECRET, delivery.headers["gova-signature"], delivery.body)
    assert delivery.json["verdict"] == VERDICT
    assert ActionEvent.model_validate(delivery.json["action"]) == act
    compact = json.dumps(json.loads(delivery.body), separators=(",", ":")).encode()
    assert delivery.body == compact  # compact JSON, the bytes that were signed
    assert [(a.status_code, a.error) for a in result.attempts] == [(200, None)]


async def test_failing_twice_then_succeeding_takes_three_attempts(webhook, receiver):
    receiver.fail_next(2)
    result = await webhook.execute(action("BAN"), webhook_context(receiver))

    assert result.ok, result.error
    assert [a.status_code for a in result.attempts] == [500, 500, 200]
    assert [d.status for d in receiver.deliveries] == [500, 500, 200]
    assert all(d.verified for d in receiver.deliveries)
    assert len({d.body for d in receiver.deliveries}) == 1  # the same delivery each time


async def test_429_is_retried_after_its_retry_after(webhook, receiver):
    receiver.fail_next(1, status=429, headers={"Retry-After": "0.2"})
    result = await webhook.execute(action("KICK"), webhook_context(receiver))

    assert result.ok, result.error
    assert [a.status_code for a in result.attempts] == [429, 200]
    first, second = receiver.deliveries
    assert second.at - first.at >= 0.2


async def test_failing_forever_gives_up_after_max_attempts(webhook, receiver):
    receiver.fail_next(10, status=503)
    result = await webhook.execute(action("DELETE"), webhook_context(receiver))

    assert not result.ok and "4 attempts" in result.error and "503" in result.error
    assert [a.status_code for a in result.attempts] == [503] * 4
    assert len(receiver.deliveries) == 4


async def test_a_4xx_is_final(webhook, receiver):
    receiver.fail_next(3, status=410)
    result = await webhook.execute(action("DELETE"), webhook_context(receiver))
    assert not result.ok and "410" in result.error
    assert [a.status_code for a in result.attempts] == [410]
    assert len(receiver.deliveries) == 1


async def test_a_delivery_signed_with_another_secret_is_refused(webhook, receiver):
    result = await webhook.execute(action("DELETE"), webhook_context(receiver, new_secret()))
    assert not result.ok and "401" in result.error
    [delivery] = receiver.deliveries
    assert not delivery.verified and delivery.status == 401


async def test_without_a_secret_or_a_url_nothing_is_sent(webhook, receiver):
    unsigned = await webhook.execute(action("DELETE"), webhook_context(receiver, secret=None))
    no_url = await webhook.execute(
        action("DELETE"), ExecutionContext(config=ModeratorConfig(), secret=SECRET)
    )
    assert not unsigned.ok and "secret" in unsigned.error
    assert not no_url.ok and "webhook" in no_url.error
    assert unsigned.attempts == no_url.attempts == [] and receiver.deliveries == []


async def test_an_unreachable_webhook_is_retried_and_recorded():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = ModeratorConfig(platform="webhook", webhook={"url": f"http://127.0.0.1:{port}/h"})
    async with WebhookExecutor(max_attempts=3, base_delay_s=0.01, allowed_hosts=LOOPBACK) as ex:
        result = await ex.execute(action("DELETE"), ExecutionContext(config=config, secret=SECRET))
    assert not result.ok
    assert [a.status_code for a in result.attempts] == [None, None, None]


async def test_without_an_allow_list_a_webhook_on_a_private_address_is_refused_unsent(receiver):
    receiver.reset()
    async with WebhookExecutor(base_delay_s=0.01) as ex:
        result = await ex.execute(action("DELETE"), webhook_context(receiver))
    assert not result.ok and result.attempts == []
    assert "non-public address (127.0.0.1)" in result.error
    assert receiver.deliveries == []


async def test_with_an_allow_list_only_its_hosts_are_delivered_to(receiver):
    receiver.reset()
    async with WebhookExecutor(base_delay_s=0.01, allowed_hosts=frozenset({"hooks.example"})) as ex:
        result = await ex.execute(action("DELETE"), webhook_context(receiver))
    assert not result.ok and "'127.0.0.1' is not in GOVA_WEBHOOK_ALLOWED_HOSTS" in result.error
    assert receiver.deliveries == []


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/h", "http://[::1]:8080/h", "http://169.254.169.254/latest/meta-data"]
)
async def test_private_link_local_and_loopback_addresses_are_refused(url):
    assert "non-public address" in await refused_destination(url, frozenset())


BODY = b'{"action":{"id":"a1"},"verdict":null}'
T = 1_700_000_000


def test_sign_follows_the_documented_scheme():
    header = sign("whsec_k", BODY, T)
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match and int(match.group(1)) == T
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_k", f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert match.group(2) == expected


def test_verify_accepts_a_genuine_recent_signature():
    header = sign(SECRET, BODY, T)
    assert verify(SECRET, header, BODY, now=T)
    assert verify(SECRET, header, BODY, now=T + 299)
    assert verify(SECRET, header, BODY, now=T - 299)  # a receiver's clock a little behind


def test_verify_accepts_any_matching_v1_during_a_rotation():
    old, new = new_secret(), new_secret()
    header = f"{sign(old, BODY, T)},v1={sign(new, BODY, T).split('v1=')[1]}"
    assert verify(new, header, BODY, now=T) and verify(old, header, BODY, now=T)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        (SECRET, BODY.replace(b"a1", b"a2"), T),  # tampered body
        (SECRET, BODY + b" ", T),  # re-serialised
        ("whsec_other", BODY, T),  # wrong secret
        (SECRET, BODY, T + 301),  # too old: a replay
        (SECRET, BODY, T - 301),  # from the future
        ("", BODY, T),  # no secret configured
    ],
)
def test_verify_rejects(secret, body, now):
    assert not verify(secret, sign(SECRET, BODY, T), body, now=now)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"v1={'0' * 64}",
        f"t={T}",
        f"t=abc,v1={'0' * 64}",
        f"t=-{T},v1=00",
        f"t={T},t={T},v1=00",
        f"t={T},v1=é",
        "t=१२,v1=00",  # non-ASCII digits
        f"t={T};v1=00",
    ],
)
def test_verify_rejects_malformed_headers(header):
    assert verify(SECRET, header, BODY, now=T) is False


def test_verify_rejects_a_header_with_the_right_signature_but_mangled():
    header = sign(SECRET, BODY, T)
    assert not verify(SECRET, header.replace("v1=", "v2="), BODY, now=T)
    assert not verify(SECRET, header.upper(), BODY, now=T)


def test_new_secrets_are_prefixed_and_unique():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 6 + 43 for s in secrets)
    assert json.dumps(sorted(secrets))  # plain text, safe to show once
