"""The interface every action executor implements, and the records it returns.

The worker's executor stage calls `await executor.execute(action, context)` for an approved
action and stores the result in the action's history. An HTTP failure is a result with
`ok=False` and a readable `error`, never an exception: a platform refusing an action is an
expected outcome to record, not a crash of the stage. Only programming errors raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

import httpx

from gova.schemas.actions import ActionEvent, ModeratorConfig


@dataclass
class Attempt:
    """One HTTP attempt: when it was sent (Unix time), the status answered (None when no
    answer came: a transport error) and what went wrong, if anything."""

    at: float
    status_code: int | None
    error: str | None = None


@dataclass
class ExecutionResult:
    """The outcome of one action: every attempt made, and what the platform answered that is
    worth keeping (e.g. Discord's created message id, or its error code on a failure)."""

    ok: bool
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionContext:
    """What an executor needs besides the action: the moderator's config, its credential (the
    bot token for Discord, the webhook secret for webhooks) and the stored verdict JSON (sent
    along with webhook deliveries)."""

    config: ModeratorConfig
    secret: str | None = None
    verdict: dict[str, Any] | None = None


@runtime_checkable
class Executor(Protocol):
    """Carries out one approved action on a platform."""

    async def execute(self, action: ActionEvent, context: ExecutionContext) -> ExecutionResult:
        """Attempt the action (with the executor's own bounded retries) and report the outcome.

        Never raises for an HTTP or transport failure: those are `ok=False` results."""
        ...


class HttpExecutor:
    """What both executors share: their retry bounds and an HTTP client they close only if
    they made it (pass `client` to share a connection pool). Redirects are never followed
    (httpx's default): an action never lands somewhere the moderator did not configure."""

    def __init__(
        self,
        *,
        max_attempts: int,
        max_wait_s: float,
        base_delay_s: float,
        max_delay_s: float,
        client: httpx.AsyncClient | None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0), follow_redirects=False
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def backoff_delay(retry: int, base_s: float, cap_s: float) -> float:
    """The wait before retry number `retry` (1 for the first retry): `base_s` doubling, capped."""
    return min(cap_s, base_s * 2 ** (retry - 1))


def describe_transport_error(exc: Exception) -> str:
    """A short, secret-free description of a transport failure (its type and message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
