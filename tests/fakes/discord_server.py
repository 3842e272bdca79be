"""A local fake of Discord's REST API: the routes Gova's `DiscordExecutor` calls, checked.

It lets tests drive the real executor over real HTTP with no network access, while deciding
per test how Discord misbehaves: a 429 with `retry_after` (and the `X-RateLimit-*` headers),
a spent bucket that must be waited out, 5xx answers, or 403/404 with Discord's error bodies.
Unlike a recorder that accepts anything, it refuses what Discord would refuse (a wrong token,
a wrong method, an unknown route, a malformed body), so a wrong request fails a test.

Routes (under /api/v10): POST /channels/{c}/messages, DELETE /channels/{c}/messages/{m},
PATCH /guilds/{g}/members/{u}, DELETE /guilds/{g}/members/{u}, PUT /guilds/{g}/bans/{u}.
One deviation: `Retry-After` carries fractional seconds (Discord's is whole seconds), so a
test that only sends that header need not wait a full second.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.serving import ServedFake

PREFIX = "/api/v10"
SNOWFLAKE = re.compile(r"^[0-9]{1,20}$")
BOT_USER = {
    "id": "1100000000000000001",
    "username": "gova",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
}
#: (method, path pattern, route name); the path is relative to PREFIX.
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/channels/(?P<channel>[^/]+)/messages$"), "create_message"),
    (
        "DELETE",
        re.compile(r"^/channels/(?P<channel>[^/]+)/messages/(?P<message>[^/]+)$"),
        "delete_message",
    ),
    ("PATCH", re.compile(r"^/guilds/(?P<guild>[^/]+)/members/(?P<user>[^/]+)$"), "modify_member"),
    ("DELETE", re.compile(r"^/guilds/(?P<guild>[^/]+)/members/(?P<user>[^/]+)$"), "remove_member"),
    ("PUT", re.compile(r"^/guilds/(?P<guild>[^/]+)/bans/(?P<user>[^/]+)$"), "create_ban"),
]
MESSAGE_KEYS = {"content", "message_reference", "allowed_mentions", "nonce", "enforce_nonce"}
MEMBER_KEYS = {"communication_disabled_until", "nick", "roles", "mute", "deaf", "channel_id"}
BAN_KEYS = {"delete_message_seconds"}
MAX_TIMEOUT = timedelta(days=28)


class FormError(Exception):
    """A request Discord would answer with 400 Invalid Form Body (code 50035)."""


@dataclass
class Recorded:
    """One request as the fake received it (every request, also those it refused)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    raw: bytes
    at: float = field(default_factory=time.monotonic)  # same clock as the executor's waits
    status: int | None = None  # what the fake answered
    route: str | None = None

    @property
    def reason(self) -> str | None:
        """The decoded X-Audit-Log-Reason."""
        value = self.headers.get("x-audit-log-reason")
        return None if value is None else unquote(value)


@dataclass
class Scripted:
    """An answer to give instead of the normal one, to the next matching request."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str]
    route: str | None = None  # a route name; None: any route


def _bucket(route: str) -> str:
    return hashlib.sha1(route.encode()).hexdigest()[:16]


def _error(status: int, message: str, code: int = 0, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, "code": code, **extra}, status_code=status)


class FakeDiscord(ServedFake):
    """Serves the routes above on 127.0.0.1 from a background thread.

    Use as `with FakeDiscord(token="t") as fake:`; point the executor at `base_url`. Script
    answers with `rate_limit`, `server_error`, `refuse`, `exhaust_bucket` and `slow`; read what came
    in from `requests`, the messages created from `messages`; `reset()` between tests.
    """

    name = "FakeDiscord"
    probe_path = f"{PREFIX}/gateway"

    def __init__(self, token: str = "fake-bot-token", port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.requests: list[Recorded] = []
        self.messages: list[dict[str, Any]] = []
        #: Requests that arrived on a bucket the fake had declared spent (answered 429).
        self.violations: list[Recorded] = []
        self._script: deque[Scripted] = deque()
        self._delays: deque[float] = deque()
        self._exhaust_after: float | None = None
        self._closed: dict[tuple[str, str], float] = {}
        self._nonces: dict[tuple[str, str], dict[str, Any]] = {}
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self._lock = threading.Lock()
        self.app = self._build_app()

    @property
    def base_url(self) -> str:
        """Where the executor points (`DISCORD_API_BASE`), once started."""
        return f"{self.root}{PREFIX}" if self.root else ""

    # -- scripting -----------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self.violations.clear()
            self._script.clear()
            self._delays.clear()
            self._exhaust_after = None
            self._closed.clear()
            self._nonces.clear()

    def rate_limit(
        self,
        retry_after: float,
        *,
        times: int = 1,
        in_body: bool = True,
        is_global: bool = False,
        route: str | None = None,
    ) -> None:
        """Answer 429 `times` times. `in_body`: Discord's JSON `retry_after` and X-RateLimit-*
        headers; otherwise only a `Retry-After` header (as a proxy in front would send)."""
        if in_body:
            body: dict[str, Any] = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": is_global,
                "code": 0,
            }
            headers = {
                "Retry-After": f"{retry_after:g}",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Scope": "global" if is_global else "user",
            }
            if is_global:
                headers["X-RateLimit-Global"] = "true"
        else:
            body = {"message": "You are being rate limited.", "global": False}
            headers = {"Retry-After": f"{retry_after:g}"}
        self._push(times, Scripted(429, body, headers, route))

    def server_error(self, *, times: int = 1, status: int = 500, route: str | None = None) -> None:
        """Answer `status` (a 5xx) `times` times."""
        body = {"message": "500: Internal Server Error", "code": 0}
        self._push(times, Scripted(status, body, {}, route))

    def refuse(
        self, status: int, code: int, message: str, *, times: int = 1, route: str | None = None
    ) -> None:
        """Answer a Discord error, e.g. `refuse(403, 50013, "Missing Permissions")`."""
        self._push(times, Scripted(status, {"message": message, "code": code}, {}, route))

    def exhaust_bucket(self, reset_after: float) -> None:
        """The next successful answer reports its bucket spent (`X-RateLimit-Remaining: 0`)
        for `reset_after` seconds; requests on that bucket before then get a 429 and are
        listed in `violations`, as Discord would."""
        self._exhaust_after = reset_after

    def slow(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next `times` requests only after `seconds` (they are recorded at once,
        then answered as usual): Discord taking its time."""
        with self._lock:
            self._delays.extend([seconds] * times)

    def _push(self, times: int, answer: Scripted) -> None:
        with self._lock:
            self._script.extend([answer] * times)

    def _scripted(self, route: str) -> Scripted | None:
        with self._lock:
            for index, answer in enumerate(self._script):
                if answer.route in (None, route):
                    del self._script[index]
                    return answer
        return None

    # -- HTTP ----------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get(f"{PREFIX}/gateway")
        async def gateway() -> dict[str, str]:  # readiness probe; not recorded
            return {"url": "wss://gateway.discord.gg"}

        @app.api_route(f"{PREFIX}/{{path:path}}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def handle(path: str, request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = ...  # marks "not JSON"
            record = Recorded(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                json=None if body is ... else body,
                raw=raw,
            )
            with self._lock:
                self.requests.append(record)
                delay = self._delays.popleft() if self._delays else 0.0
            if delay:
                await asyncio.sleep(delay)
            response = self._answer(record, body)
            record.status = response.status_code
            return response

        return app

    def _answer(self, record: Recorded, body: Any) -> Response:
        if record.headers.get("authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized")
        relative = record.path.removeprefix(PREFIX)
        matched = [(m, p.fullmatch(relative), name) for m, p, name in ROUTES]
        on_path = [(m, match, name) for m, match, name in matched if match]
        if not on_path:
            return _error(404, "404: Not Found")
        hit = next(((match, name) for m, match, name in on_path if m == record.method), None)
        if hit is None:
            return _error(405, "405: Method Not Allowed")
        match, route = hit
        record.route = route
        ids = match.groupdict()
        try:
            self._check_common(record, ids, body)
        except FormError as exc:
            return _error(400, str(exc), 50035)
        bucket, scope = _bucket(route), ids.get("channel") or ids["guild"]
        closed_until = self._closed.get((bucket, scope), 0.0)
        if time.monotonic() < closed_until:
            self.violations.append(record)
            retry_after = round(closed_until - time.monotonic(), 3)
            return JSONResponse(
                {"message": "You are being rate limited.", "retry_after": retry_after},
                status_code=429,
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Bucket": bucket},
            )
        scripted = self._scripted(route)
        if scripted is not None:
            headers = dict(scripted.headers)
            if scripted.status == 429 and "X-RateLimit-Limit" in headers:
                headers["X-RateLimit-Bucket"] = bucket
            return JSONResponse(scripted.body, status_code=scripted.status, headers=headers)
        try:
            response = getattr(self, f"_{route}")(ids, body)
        except FormError as exc:
            return _error(400, str(exc), 50035)
        self._rate_limit_headers(response, bucket, scope)
        return response

    def _check_common(self, record: Recorded, ids: dict[str, str], body: Any) -> None:
        for name, value in ids.items():
            if not SNOWFLAKE.fullmatch(value):
                raise FormError(f'Invalid Form Body: {name}: Value "{value}" is not snowflake.')
        reason = record.headers.get("x-audit-log-reason")
        if reason is None:
            raise FormError("X-Audit-Log-Reason is required (a check of this fake)")
        if not reason.isascii() or not 1 <= len(unquote(reason)) <= 512:
            raise FormError("X-Audit-Log-Reason must be 1-512 URL-encoded characters")
        if body is ...:
            raise FormError("The request body contains invalid JSON.")
        wants_body = record.route in ("create_message", "modify_member", "create_ban")
        if wants_body and record.headers.get("content-type") != "application/json":
            raise FormError("Content-Type must be application/json")
        if not wants_body and record.raw:
            raise FormError(f"{record.route} takes no body (a check of this fake)")
        if wants_body and not isinstance(body, dict):
            raise FormError("Invalid Form Body: the body must be a JSON object")

    def _rate_limit_headers(self, response: Response, bucket: str, scope: str) -> None:
        reset_after, remaining = 1.0, "4"
        if self._exhaust_after is not None:
            reset_after, remaining = self._exhaust_after, "0"
            self._closed[(bucket, scope)] = time.monotonic() + reset_after
            self._exhaust_after = None
        response.headers.update(
            {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": remaining,
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket,
            }
        )

    # -- routes --------------------------------------------------------------------------

    def _create_message(self, ids: dict[str, str], body: dict[str, Any]) -> Response:
        if unknown := set(body) - MESSAGE_KEYS:
            raise FormError(f"Invalid Form Body: unknown fields {sorted(unknown)}")
        content = body.get("content")
        if not isinstance(content, str) or not 1 <= len(content) <= 2000:
            raise FormError("Invalid Form Body: content: Must be 2000 or fewer in length.")
        reference = body.get("message_reference")
        if not isinstance(reference, dict) or set(reference) - {
            "message_id",
            "fail_if_not_exists",
        }:
            raise FormError("Invalid Form Body: message_reference must be a reply reference")
        if not SNOWFLAKE.fullmatch(str(reference.get("message_id", ""))):
            raise FormError("Invalid Form Body: message_reference.message_id is not snowflake.")
        if not isinstance(reference.get("fail_if_not_exists", True), bool):
            raise FormError("Invalid Form Body: message_reference.fail_if_not_exists: bool")
        mentions = body.get("allowed_mentions")
        if not isinstance(mentions, dict) or not isinstance(mentions.get("parse"), list):
            raise FormError("Invalid Form Body: allowed_mentions.parse must be a list")
        if set(mentions["parse"]) - {"roles", "users", "everyone"}:
            raise FormError("Invalid Form Body: allowed_mentions.parse: unknown mention type")
        nonce = body.get("nonce")
        if nonce is not None and not (isinstance(nonce, int | str) and len(str(nonce)) <= 25):
            raise FormError("Invalid Form Body: nonce: Must be 25 or fewer in length.")
        if body.get("enforce_nonce") and nonce is not None:
            previous = self._nonces.get((ids["channel"], str(nonce)))
            if previous is not None:  # Discord returns the message created before
                return JSONResponse(previous)
        message = {
            "id": str(next(self._ids)),
            "type": 19,  # REPLY
            "channel_id": ids["channel"],
            "author": BOT_USER,
            "content": content,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
            "nonce": nonce,
            "message_reference": {
                "type": 0,
                "channel_id": ids["channel"],
                "message_id": reference["message_id"],
            },
        }
        self.messages.append(message)
        if body.get("enforce_nonce") and nonce is not None:
            self._nonces[(ids["channel"], str(nonce))] = message
        return JSONResponse(message)

    def _delete_message(self, ids: dict[str, str], body: Any) -> Response:
        return Response(status_code=204)

    def _modify_member(self, ids: dict[str, str], body: dict[str, Any]) -> Response:
        if unknown := set(body) - MEMBER_KEYS:
            raise FormError(f"Invalid Form Body: unknown fields {sorted(unknown)}")
        if "communication_disabled_until" not in body:
            raise FormError("Invalid Form Body: communication_disabled_until is required here")
        until = body["communication_disabled_until"]
        if until is not None:
            try:
                when = datetime.fromisoformat(until)
            except (TypeError, ValueError) as exc:
                raise FormError("Invalid Form Body: not an ISO8601 timestamp") from exc
            if when.tzinfo is None:
                raise FormError("Invalid Form Body: the timestamp needs a time zone")
            now = datetime.now(UTC)
            if not now < when <= now + MAX_TIMEOUT + timedelta(seconds=5):
                raise FormError("Invalid Form Body: timeouts end within 28 days from now")
        member = {
            "user": {
                "id": ids["user"],
                "username": f"user{ids['user']}",
                "discriminator": "0",
                "global_name": None,
                "avatar": None,
            },
            "nick": None,
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": until,
        }
        return JSONResponse(member)

    def _remove_member(self, ids: dict[str, str], body: Any) -> Response:
        return Response(status_code=204)

    def _create_ban(self, ids: dict[str, str], body: dict[str, Any]) -> Response:
        if unknown := set(body) - BAN_KEYS:
            raise FormError(f"Invalid Form Body: unknown fields {sorted(unknown)}")
        seconds = body.get("delete_message_seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 604800:
            raise FormError("Invalid Form Body: delete_message_seconds: 0 to 604800")
        return Response(status_code=204)
