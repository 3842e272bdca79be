"""Delivers actions to a moderator's own webhook, signed so the receiver can trust them.

A delivery is a `POST` of `{"action": <ActionEvent>, "verdict": <stored verdict>}` as compact
JSON, sent byte for byte as signed, with a `Gova-Signature` header (see `verify` for the
scheme integrators check). 5xx answers, 429 and transport errors are retried with exponential
backoff within `max_wait_s`; any 2xx is success; any other answer is final. A small loop
rather than a retry library: each attempt is re-signed with a fresh timestamp (so a late
retry still falls inside the receiver's replay window) and every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from typing import Any

import httpx

from gova.integrations.executors import (
    Attempt,
    ExecutionContext,
    ExecutionResult,
    HttpExecutor,
    backoff_delay,
    describe_transport_error,
)
from gova.schemas.actions import ActionEvent

SIGNATURE_HEADER = "Gova-Signature"
USER_AGENT = "Gova-Webhook/0.1"
#: How far a signature's timestamp may be from the receiver's clock (the replay window).
DEFAULT_TOLERANCE_S = 300
#: Retry-After values above this are not believed (the backoff applies instead).
MAX_RETRY_AFTER_S = 3600.0


def new_secret() -> str:
    """A fresh webhook signing secret (256 random bits), shown once to the integrator."""
    return "whsec_" + secrets.token_urlsafe(32)


def _digest(secret: str, body: bytes, t: int) -> str:
    signed = str(t).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int) -> str:
    """The `Gova-Signature` header value for `body` sent at Unix time `t` (see `verify`)."""
    return f"t={t},v1={_digest(secret, body, t)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a delivery's `Gova-Signature` header is genuine and recent.

    The scheme: the header is `t=<unix seconds>,v1=<hex>`, where `<hex>` is the lowercase hex
    HMAC-SHA256, keyed with the whole webhook secret (`whsec_…`, as UTF-8), of the bytes
    `<t>.<raw body>`: the timestamp in decimal, a dot, then the request body exactly as
    received (verify before parsing the JSON; re-serialising it changes the bytes).

    A receiver should: split the header on `,` into `key=value` pairs; take `t` (an integer)
    and every `v1` (more than one may come while a secret is rotated; one match suffices);
    reject a `t` more than `tolerance_s` (5 minutes) away from its own clock, so a captured
    delivery cannot be replayed later; compute the HMAC and compare it in constant time
    (`hmac.compare_digest`). Anything malformed is a rejection, never an exception.
    """
    if not secret or not isinstance(header, str) or not isinstance(body, bytes):
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, body, timestamp)
    # Every candidate is compared (no early exit), so timing tells nothing about which matched.
    matches = [hmac.compare_digest(expected, c) for c in candidates if c.isascii()]
    return any(matches)


def delivery_body(action: ActionEvent, verdict: dict[str, Any] | None) -> bytes:
    """The bytes delivered (and signed): compact JSON of the action and its verdict."""
    payload = {"action": action.model_dump(mode="json"), "verdict": verdict}
    return json.dumps(payload, separators=(",", ":")).encode()


def host_of(url: str) -> str:
    """The host a webhook URL delivers to, lower-cased (as allow-lists are kept)."""
    return (httpx.URL(url).host or "").lower()


async def refused_destination(url: str, allowed_hosts: frozenset[str]) -> str | None:
    """Why a delivery to `url` must not be made, or None.

    The worker posts wherever a tenant points a webhook, so without a check a tenant could
    make it call the deployment's own services (server-side request forgery). With an
    allow-list, only those hosts; without one, any host whose every address is public (not
    loopback, private, link-local or reserved). The check resolves the name just before the
    request; a name that changes its answer between the two is not caught, so a deployment
    that must be sure lists its integrators' hosts.
    """
    host = host_of(url)
    if allowed_hosts:
        if host in allowed_hosts:
            return None
        return f"host {host!r} is not in GOVA_WEBHOOK_ALLOWED_HOSTS"
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        return f"host {host!r} does not resolve: {exc}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return (
                f"host {host!r} resolves to a non-public address ({address}); list the host"
                " in GOVA_WEBHOOK_ALLOWED_HOSTS to deliver there"
            )
    return None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER_S else None


class WebhookExecutor(HttpExecutor):
    """Delivers every action type to `config.webhook.url`, signed with `context.secret`,
    when `refused_destination` allows that URL (`allowed_hosts`: GOVA_WEBHOOK_ALLOWED_HOSTS).

    Pass `client` to share a connection pool (it is then left open by `aclose`). Redirects are
    not followed: a 3xx is a final failure, so a delivery never lands somewhere unconfigured.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        max_wait_s: float = 60.0,
        base_delay_s: float = 0.5,
        max_delay_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        allowed_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.allowed_hosts = allowed_hosts
        super().__init__(
            max_attempts=max_attempts,
            max_wait_s=max_wait_s,
            base_delay_s=base_delay_s,
            max_delay_s=max_delay_s,
            client=client,
        )

    async def execute(self, action: ActionEvent, context: ExecutionContext) -> ExecutionResult:
        if context.config.webhook is None:
            return ExecutionResult(ok=False, error="the moderator has no webhook configured")
        if not context.secret:
            return ExecutionResult(ok=False, error="no webhook secret: deliveries are signed")
        url = str(context.config.webhook.url)
        if refusal := await refused_destination(url, self.allowed_hosts):
            return ExecutionResult(ok=False, error=f"not delivered: {refusal}")
        body = delivery_body(action, context.verdict)
        attempts: list[Attempt] = []
        deadline = time.monotonic() + self.max_wait_s
        last_error = "no attempt made"
        for number in range(1, self.max_attempts + 1):
            at = time.time()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: sign(context.secret, body, int(at)),
            }
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                last_error = describe_transport_error(exc)
                attempts.append(Attempt(at=at, status_code=None, error=last_error))
                wait = backoff_delay(number, self.base_delay_s, self.max_delay_s)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    attempts.append(Attempt(at=at, status_code=status))
                    return ExecutionResult(ok=True, attempts=attempts, detail={"status": status})
                last_error = f"the webhook answered {status}"
                attempts.append(Attempt(at=at, status_code=status, error=last_error))
                if status != 429 and status < 500:
                    answer = response.text.strip()[:200]
                    return ExecutionResult(
                        ok=False,
                        error=f"{last_error}: {answer}" if answer else last_error,
                        attempts=attempts,
                        detail={"status": status},
                    )
                wait = backoff_delay(number, self.base_delay_s, self.max_delay_s)
                wait = max(wait, _retry_after(response) or 0.0)
            if number == self.max_attempts:
                break
            if time.monotonic() + wait > deadline:
                return ExecutionResult(
                    ok=False,
                    error=f"{last_error}; gave up: the next attempt would wait {wait:.2f}s, "
                    f"beyond max_wait_s={self.max_wait_s}",
                    attempts=attempts,
                )
            await asyncio.sleep(wait)
        return ExecutionResult(
            ok=False,
            error=f"gave up after {self.max_attempts} attempts: {last_error}",
            attempts=attempts,
        )
