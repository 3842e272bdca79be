"""Request bodies over the limit are refused with 413, whether or not Content-Length is sent.

The middleware only measures; the refusal is raised inside the route (`BodyLimitedRoute`),
so each router answers it in its own error format: an OpenAI client gets OpenAI's envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM = b"application/x-www-form-urlencoded"
# Set in the scope of a request whose body was over the limit: the limit, in bytes.
TOO_LARGE = "gova.body_too_large"


class BodyLimit:
    """Measure bodies against the limit; hand an over-limit request on, empty and flagged.

    Also reads `curl -d` bodies (sent as form-encoded by default) as the JSON they are:
    every body this API takes is JSON.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        larger: dict[str, int] | None = None,
    ) -> None:
        # `larger`: paths whose bodies may be bigger (base64 images and audio), and by how much.
        self.app, self.max_bytes, self.larger = app, max_bytes, larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if headers.get(b"content-type", b"").startswith(FORM):
            scope = dict(scope)
            scope["headers"] = [
                (k, b"application/json" if k == b"content-type" else v) for k, v in scope["headers"]
            ]
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(scope, receive, send, limit)
        # Read the body here, counting, and replay it: an error raised from inside the app's
        # own body parsing would come back as a generic 400.
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message], receive), send)
            chunks.append(message.get("body", b""))  # joined once: megabytes arrive in chunks
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                return await self._refuse(scope, receive, send, limit)
        replay = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([replay], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        empty = {"type": "http.request", "body": b"", "more_body": False}
        await self.app({**scope, TOO_LARGE: limit}, _replay([empty], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands back `messages` first, then reads on (for disconnects)."""
    queue = list(messages)

    async def replayed() -> Message:
        return queue.pop(0) if queue else await receive()

    return replayed


class BodyLimitedRoute(APIRoute):
    """A route that raises 413 for a request `BodyLimit` flagged, before reading its body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if (limit := request.scope.get(TOO_LARGE)) is not None:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE, f"body: larger than {limit} bytes"
                )
            return await handler(request)

        return route
