"""Runs the API under uvicorn: its own process, since Faust and uvicorn both want the loop."""

from __future__ import annotations

import uvicorn

from gova.api.app import create_app
from gova.settings import get_settings


def serve() -> None:
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        timeout_graceful_shutdown=3,
        # The app reads forwarding headers itself, from GOVA_TRUSTED_PROXIES only; uvicorn's
        # own default would believe any X-Forwarded-For sent from 127.0.0.1.
        proxy_headers=False,
    )
