"""Carries out actions on Discord through its REST API, as a bot.

A hand-written retry loop rather than a retry library, because Discord's rate limits are not
a backoff policy: a 429 says exactly how long to wait (`retry_after`, in seconds, as a float
in the JSON body, or the `Retry-After` header), a response can announce that its bucket is
spent before any 429 happens (`X-RateLimit-Remaining: 0` with `X-RateLimit-Reset-After`),
and buckets are shared by every request on the same route and channel or guild. Those waits
are taken as given; only 5xx answers and transport errors get exponential backoff. Every
wait counts against `max_wait_s` and every request against `max_attempts`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from gova import secrets
from gova.integrations.executors import (
    Attempt,
    ExecutionContext,
    ExecutionResult,
    HttpExecutor,
    backoff_delay,
    describe_transport_error,
)
from gova.schemas.actions import MAX_TIMEOUT_S, ActionEvent, ModeratorConfig
from gova.settings import Settings
from gova.storage.interface import Storage

DEFAULT_BASE_URL = "https://discord.com/api/v10"
#: Discord wants bots to name themselves as `DiscordBot ($url, $version)`.
USER_AGENT = "DiscordBot (gova, 0.1.0)"
SNOWFLAKE = re.compile(r"^[0-9]{1,20}$")
#: Discord's limits: audit-log reasons, message content, a ban's message clean-up.
MAX_REASON_CHARS = 512
MAX_CONTENT_CHARS = 2000
MAX_BAN_DELETE_S = 604_800
DEFAULT_TIMEOUT_DURATION_S = 600
#: Discord's message nonce is at most 25 characters.
NONCE_CHARS = 25
#: Rate-limit buckets remembered per executor; the oldest are forgotten first.
MAX_BUCKETS = 1024


async def bot_token(storage: Storage, settings: Settings, tenant_id: str) -> str | None:
    """The bot a tenant acts and listens as: its own token (PUT /api/v1/discord, stored
    sealed), else the deployment's DISCORD_BOT_TOKEN; None when neither is configured."""
    sealed = (await storage.tenants.get_discord(tenant_id)).get("bot_token")
    return secrets.decrypt(settings.secret_key, sealed) if sealed else settings.discord_bot_token


class InvalidAction(ValueError):
    """The action cannot be sent: an id is missing or malformed, a parameter is out of range."""


@dataclass(frozen=True)
class DiscordRequest:
    """One REST call: `route` is the method and path template (Discord's rate-limit route),
    `scope` its major parameter (the channel or guild id), which splits a bucket."""

    method: str
    path: str
    route: str
    scope: str
    json: dict[str, Any] | None = None


def audit_reason(reason: str) -> str:
    """The X-Audit-Log-Reason header value: at most 512 characters, then URL-encoded (Discord
    decodes it; percent-encoding also keeps non-ASCII text and newlines out of the header)."""
    text = reason.strip() or "Gova moderator action"
    return quote(text[:MAX_REASON_CHARS], safe="")


def nonce_for(action: ActionEvent) -> str:
    """A stable nonce per action, so Discord (with `enforce_nonce`) creates a reply once even
    when a retry follows a request whose answer was lost, or the worker executes it again."""
    return hashlib.sha256(action.id.encode()).hexdigest()[:NONCE_CHARS]


def _snowflake(value: str | None, name: str, action_type: str) -> str:
    if not value:
        raise InvalidAction(f"{action_type} needs {name}, which the action does not have")
    if not SNOWFLAKE.fullmatch(value):
        raise InvalidAction(f"{action_type}: {name} is not a Discord id: {value!r}")
    return value


def _content(action: ActionEvent) -> str:
    message = action.params.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidAction(f"{action.type}: params.message must be text, not {message!r}")
    if message and message.strip():
        return message[:MAX_CONTENT_CHARS]
    reason = action.reason.strip()
    if action.type == "WARN":
        guideline = action.params.get("guideline")
        label = ": ".join(str(part) for part in (guideline, reason) if part)
        text = "⚠️ Warning: this message breaks the community's rules"
        text = f"{text} ({label})." if label else f"{text}."
    else:
        text = "This message was flagged by the moderator"
        text = f"{text}: {reason}" if reason else f"{text}."
    return text[:MAX_CONTENT_CHARS]


def _until(action: ActionEvent) -> str:
    duration = action.params.get(
        "duration", action.params.get("duration_s", DEFAULT_TIMEOUT_DURATION_S)
    )
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise InvalidAction(f"TIMEOUT: params.duration must be seconds, not {duration!r}")
    if not 1 <= duration <= MAX_TIMEOUT_S:
        raise InvalidAction(f"TIMEOUT: params.duration must be 1 to {MAX_TIMEOUT_S} seconds")
    return (datetime.now(UTC) + timedelta(seconds=duration)).isoformat()


def plan(action: ActionEvent, config: ModeratorConfig) -> DiscordRequest:
    """The REST call that carries out `action`, or InvalidAction saying what is missing."""
    kind = action.type
    target = action.target
    if kind in ("REPLY", "WARN", "DELETE"):
        channel = _snowflake(target.channel_id, "target.channel_id", kind)
        message = _snowflake(target.message_id, "target.message_id", kind)
        if kind == "DELETE":
            path = f"/channels/{channel}/messages/{message}"
            return DiscordRequest("DELETE", path, "DELETE /channels/{c}/messages/{m}", channel)
        body = {
            "content": _content(action),
            "message_reference": {"message_id": message, "fail_if_not_exists": False},
            "allowed_mentions": {"parse": []},
            "nonce": nonce_for(action),
            "enforce_nonce": True,
        }
        path = f"/channels/{channel}/messages"
        return DiscordRequest("POST", path, "POST /channels/{c}/messages", channel, body)
    guild_id = target.guild_id or (config.discord.guild_id if config.discord else None)
    guild = _snowflake(guild_id, "target.guild_id (or config.discord.guild_id)", kind)
    user = _snowflake(action.author_id, "author_id", kind)
    if kind == "TIMEOUT":
        body = {"communication_disabled_until": _until(action)}
        path = f"/guilds/{guild}/members/{user}"
        return DiscordRequest("PATCH", path, "PATCH /guilds/{g}/members/{u}", guild, body)
    if kind == "KICK":
        path = f"/guilds/{guild}/members/{user}"
        return DiscordRequest("DELETE", path, "DELETE /guilds/{g}/members/{u}", guild)
    if kind == "BAN":
        body = {}
        if "delete_message_seconds" in action.params:
            seconds = action.params["delete_message_seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise InvalidAction("BAN: params.delete_message_seconds must be an integer")
            if not 0 <= seconds <= MAX_BAN_DELETE_S:
                raise InvalidAction(
                    f"BAN: params.delete_message_seconds must be 0 to {MAX_BAN_DELETE_S}"
                )
            body["delete_message_seconds"] = seconds
        path = f"/guilds/{guild}/bans/{user}"
        return DiscordRequest("PUT", path, "PUT /guilds/{g}/bans/{u}", guild, body)
    raise AssertionError(f"unhandled action type {kind!r}")  # ActionType is closed


def _seconds(value: Any) -> float | None:
    """A non-negative, finite number of seconds from a header or JSON value, else None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_BUCKETS:
        table.popitem(last=False)


class DiscordExecutor(HttpExecutor):
    """Executes REPLY, WARN, DELETE, TIMEOUT, KICK and BAN with the moderator's bot token.

    `base_url` points at Discord's API (or a fake); `base_delay_s` and `max_delay_s` shape the
    backoff after 5xx answers and transport errors. Pass `client` to share a connection pool
    (it is then left open by `aclose`). Safe to share between concurrent `execute` calls.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        max_attempts: int = 5,
        max_wait_s: float = 30.0,
        base_delay_s: float = 0.5,
        max_delay_s: float = 8.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            max_attempts=max_attempts,
            max_wait_s=max_wait_s,
            base_delay_s=base_delay_s,
            max_delay_s=max_delay_s,
            client=client,
        )
        self.base_url = base_url.rstrip("/")
        #: route -> the bucket id Discord reported for it (X-RateLimit-Bucket).
        self._buckets: OrderedDict[str, str] = OrderedDict()
        #: "bucket:scope" -> time.monotonic() before which that bucket must not be used.
        self._not_before: OrderedDict[str, float] = OrderedDict()
        self._global_not_before = 0.0

    async def execute(self, action: ActionEvent, context: ExecutionContext) -> ExecutionResult:
        if not context.secret:
            return ExecutionResult(ok=False, error="no Discord bot token for this moderator")
        try:
            request = plan(action, context.config)
        except InvalidAction as exc:
            return ExecutionResult(ok=False, error=str(exc))
        headers = {
            "Authorization": f"Bot {context.secret}",
            "X-Audit-Log-Reason": audit_reason(action.reason),
            "User-Agent": USER_AGENT,
        }
        return await self._send(request, headers, action.type)

    async def _send(
        self, request: DiscordRequest, headers: dict[str, str], kind: str
    ) -> ExecutionResult:
        attempts: list[Attempt] = []
        deadline = time.monotonic() + self.max_wait_s
        pause = 0.0  # what the last failure asks to wait before the next attempt
        last_error = "no attempt made"
        for number in range(1, self.max_attempts + 1):
            wait = max(pause, self._rate_limit_wait(request))
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    return ExecutionResult(
                        ok=False,
                        error=f"{last_error}; gave up: the next attempt would wait {wait:.2f}s, "
                        f"beyond max_wait_s={self.max_wait_s}",
                        attempts=attempts,
                    )
                await asyncio.sleep(wait)
            at = time.time()
            try:
                response = await self._client.request(
                    request.method, self.base_url + request.path, headers=headers, json=request.json
                )
            except httpx.TransportError as exc:
                last_error = describe_transport_error(exc)
                attempts.append(Attempt(at=at, status_code=None, error=last_error))
                pause = backoff_delay(number, self.base_delay_s, self.max_delay_s)
                continue
            status = response.status_code
            retry_after = self._note_rate_limits(request, response)
            if 200 <= status < 300:
                attempts.append(Attempt(at=at, status_code=status))
                return ExecutionResult(
                    ok=True, attempts=attempts, detail=self._detail(request, response)
                )
            body = _json(response)
            if status == 429:
                last_error = f"rate limited by Discord (429), retry after {retry_after:g}s"
                attempts.append(Attempt(at=at, status_code=status, error=last_error))
                pause = retry_after
                continue
            if status >= 500:
                last_error = f"Discord answered {status}"
                attempts.append(Attempt(at=at, status_code=status, error=last_error))
                pause = backoff_delay(number, self.base_delay_s, self.max_delay_s)
                continue
            message = body.get("message") or response.text[:200] or response.reason_phrase
            code = body.get("code")
            error = f"Discord refused the {kind}: {status} {message} (code {code})"
            attempts.append(Attempt(at=at, status_code=status, error=error))
            detail = {"status": status, "code": code, "message": message}
            return ExecutionResult(ok=False, error=error, attempts=attempts, detail=detail)
        return ExecutionResult(
            ok=False,
            error=f"gave up after {self.max_attempts} attempts: {last_error}",
            attempts=attempts,
        )

    # -- rate limits -------------------------------------------------------------------------

    def _key(self, request: DiscordRequest) -> str:
        # Until Discord names the route's bucket, the route itself stands for it.
        return f"{self._buckets.get(request.route, request.route)}:{request.scope}"

    def _rate_limit_wait(self, request: DiscordRequest) -> float:
        not_before = max(self._global_not_before, self._not_before.get(self._key(request), 0.0))
        return max(0.0, not_before - time.monotonic())

    def _note_rate_limits(self, request: DiscordRequest, response: httpx.Response) -> float:
        """Learn from a response's rate-limit headers; return the wait a 429 asks for (else 0)."""
        now = time.monotonic()
        headers = response.headers
        bucket = headers.get("X-RateLimit-Bucket")
        if bucket:
            _remember(self._buckets, request.route, bucket)
        key = self._key(request)
        reset_after = _seconds(headers.get("X-RateLimit-Reset-After"))
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining == "0" and reset_after is not None:
            _remember(self._not_before, key, now + reset_after)
        elif remaining is not None:
            self._not_before.pop(key, None)
        if response.status_code != 429:
            return 0.0
        body = _json(response)
        retry_after = _seconds(body.get("retry_after"))
        if retry_after is None:
            retry_after = _seconds(headers.get("Retry-After"))
        if retry_after is None:
            retry_after = reset_after if reset_after is not None else 1.0
        if body.get("global") is True or headers.get("X-RateLimit-Global", "").lower() == "true":
            self._global_not_before = max(self._global_not_before, now + retry_after)
        else:
            _remember(self._not_before, key, max(self._not_before.get(key, 0.0), now + retry_after))
        return retry_after

    @staticmethod
    def _detail(request: DiscordRequest, response: httpx.Response) -> dict[str, Any]:
        body = _json(response)
        if request.method == "POST" and "id" in body:
            return {"message_id": body["id"], "channel_id": body.get("channel_id")}
        if request.method == "PATCH":
            return {"communication_disabled_until": body.get("communication_disabled_until")}
        return {}
