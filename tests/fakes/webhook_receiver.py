"""A local receiver of Gova's signed webhook deliveries, as an integrator would write one.

It checks each delivery's `Gova-Signature` with `gova.integrations.webhook.verify` (the
check integrators copy) and answers 401 when it does not hold, records every delivery, and
can be told to fail the next deliveries (500 by default) so retries can be tested.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from gova.integrations.webhook import SIGNATURE_HEADER, verify

HOOK_PATH = "/hooks/gova"


@dataclass
class Delivery:
    """One POST as received: headers (lower-case names), the raw body, its JSON (None when
    it is not JSON), whether the signature verified, and what the receiver answered."""

    headers: dict[str, str]
    body: bytes
    json: Any
    verified: bool
    at: float = field(default_factory=time.monotonic)
    status: int | None = None


class FakeWebhookReceiver:
    """Serves POST /hooks/gova on 127.0.0.1 from a background thread; `url` is its address.

    `fail_next(n)` makes the next n correctly signed deliveries get a 500 (or `status`);
    badly signed ones always get 401. Deliveries are listed in `deliveries`.
    """

    def __init__(self, secret: str, *, tolerance_s: int = 300) -> None:
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.url = ""
        self.deliveries: list[Delivery] = []
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    def reset(self) -> None:
        with self._lock:
            self.deliveries.clear()
            self._failures.clear()

    def fail_next(
        self, times: int, *, status: int = 500, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `times` verified deliveries with `status` (and `headers`)."""
        with self._lock:
            self._failures.extend([(status, dict(headers or {}))] * times)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> FakeWebhookReceiver:
        if self._thread is not None:
            raise RuntimeError("FakeWebhookReceiver is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.url = base + HOOK_PATH
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-webhook", daemon=True
        )
        self._thread.start()
        self._wait_until_answering(f"{base}/health", timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        alive = self._thread.is_alive()
        self._server = self._thread = None
        if alive:
            raise RuntimeError(f"FakeWebhookReceiver did not stop within {timeout_s}s")

    def __enter__(self) -> FakeWebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_answering(self, url: str, timeout_s: float) -> None:
        assert self._thread is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=1.0) as client:
            while True:
                if not self._thread.is_alive():
                    raise RuntimeError("FakeWebhookReceiver server thread exited during startup")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"FakeWebhookReceiver did not answer within {timeout_s}s")
                time.sleep(0.01)

    # -- HTTP ----------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/health")
        async def health() -> dict[str, bool]:  # readiness probe; not recorded
            return {"ok": True}

        @app.post(HOOK_PATH)
        async def hook(request: Request) -> Response:
            raw = await request.body()  # verify the bytes as received, before parsing
            header = request.headers.get(SIGNATURE_HEADER, "")
            verified = verify(self.secret, header, raw, tolerance_s=self.tolerance_s)
            try:
                parsed = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                parsed = None
            delivery = Delivery(
                headers={k.lower(): v for k, v in request.headers.items()},
                body=raw,
                json=parsed,
                verified=verified,
            )
            with self._lock:
                self.deliveries.append(delivery)
                failure = self._failures.popleft() if verified and self._failures else None
            if not verified:
                response: Response = JSONResponse({"error": "bad signature"}, status_code=401)
            elif failure is not None:
                status, headers = failure
                response = JSONResponse({"error": "scripted"}, status_code=status, headers=headers)
            else:
                response = JSONResponse({"received": True})
            delivery.status = response.status_code
            return response

        return app
