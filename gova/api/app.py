"""The FastAPI application: lifespan (connections), error shapes, body limit, routers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gova import __version__, cache
from gova.api import compat_openai, compat_perspective, moderate, policy, review
from gova.api.state import ApiState, VerdictWaiters
from gova.settings import Settings, get_settings
from gova.storage import UNAVAILABLE, PostgresStorage

log = logging.getLogger("gova.api")


FORM = b"application/x-www-form-urlencoded"


class BodyLimit:
    """Refuse bodies over the limit with 413, whether or not Content-Length is sent.

    Also reads `curl -d` bodies (sent as form-encoded by default) as the JSON they are:
    every body this API takes is JSON.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if headers.get(b"content-type", b"").startswith(FORM):
            scope = dict(scope)
            scope["headers"] = [
                (k, b"application/json" if k == b"content-type" else v) for k, v in scope["headers"]
            ]
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, receive, send)
        # Read the body here, counting, and replay it: an error raised from inside the app's
        # own body parsing would come back as a generic 400.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message], receive), send)
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await self._refuse(scope, receive, send)
        replay = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replay], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"body: larger than {self.max_bytes} bytes"}, status_code=413
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands back `messages` first, then reads on (for disconnects)."""
    queue = list(messages)

    async def replayed() -> Message:
        return queue.pop(0) if queue else await receive()

    return replayed


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        storage = await PostgresStorage.connect(settings.database())
        redis = cache.connect(settings.redis())
        producer = AIOKafkaProducer(bootstrap_servers=settings.broker(), linger_ms=2)
        await producer.start()
        waiters = VerdictWaiters(redis)
        await waiters.start()
        app.state.gova = ApiState(settings, storage, redis, producer, waiters)
        try:
            yield
        finally:
            await waiters.stop()
            await producer.stop()
            await redis.aclose()
            await storage.close()

    app = FastAPI(
        title="Gova",
        version=__version__,
        description="Real-time, self-hosted, policy-aware content moderation.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in errors)
        return JSONResponse(
            {"detail": detail, "errors": jsonable_encoder(errors, exclude={"ctx", "input"})},
            status_code=422,
        )

    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "database unavailable; retry shortly"}, status_code=503)

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_away)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        """Liveness only, so it needs no key and says nothing about any tenant."""
        return {"status": "ok"}

    app.include_router(moderate.router)
    app.include_router(policy.router)
    app.include_router(review.router)
    app.include_router(compat_openai.router)
    app.include_router(compat_perspective.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
