"""The FastAPI application: lifespan (connections), error shapes, middleware, routers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gova import __version__
from gova.api import (
    actions,
    compat_openai,
    compat_perspective,
    discord,
    hash_bank,
    moderate,
    moderators,
    openapi,
    policy,
    review,
)
from gova.api.body_limit import BodyLimit, BodyLimitedRoute
from gova.api.state import ApiState
from gova.settings import Settings, get_settings
from gova.storage import UNAVAILABLE

log = logging.getLogger("gova.api")

ROUTERS = (
    moderate.router,
    moderators.router,
    actions.router,
    discord.router,
    hash_bank.router,
    policy.router,
    review.router,
    compat_openai.router,
    compat_perspective.router,
)


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with ApiState.opened(settings) as state:
            app.state.gova = state
            yield

    app = FastAPI(
        title="Gova",
        version=__version__,
        description="Real-time, self-hosted, policy-aware content moderation.",
        lifespan=lifespan,
    )
    app.router.route_class = BodyLimitedRoute

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in errors)
        return JSONResponse(
            {"detail": detail, "errors": jsonable_encoder(errors, exclude={"ctx", "input"})},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            # Routing names only the first route on the path; list every method it has.
            allowed = ", ".join(_methods(app, request.scope["path"]))
            exc.headers = {**(exc.headers or {}), "Allow": allowed}
        return await http_exception_handler(request, exc)

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

    for router in ROUTERS:
        app.include_router(router)
    media_paths = ("/api/v1/moderate", "/api/v1/moderate/batch", "/v1/moderations")
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger=dict.fromkeys(media_paths, settings.media_body_bytes),
    )
    if trusted := settings.trusted_proxy_list:
        # Outermost: the client address (and scheme) is settled before anything reads it.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    openapi.install(app, settings)
    return app


def _methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves on `path` (the routers' own routes: how an app holds
    included routes differs between FastAPI versions)."""
    routes = [*app.router.routes, *(route for router in ROUTERS for route in router.routes)]
    return sorted(
        {
            method
            for route in routes
            if isinstance(route, Route) and route.path_regex.match(path)
            for method in route.methods or ()
        }
    )
