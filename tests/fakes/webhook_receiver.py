"""A local receiver of Gova's signed webhook deliveries, as an integrator would write one.

It checks each delivery's `Gova-Signature` with `gova.integrations.webhook.verify` (the
check integrators copy) and answers 401 when it does not hold, records every delivery, and
can be told to fail the next deliveries (500 by default) so retries can be tested.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from gova.integrations.webhook import SIGNATURE_HEADER, verify
from tests.fakes.serving import ServedFake

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


class FakeWebhookReceiver(ServedFake):
    """Serves POST /hooks/gova on 127.0.0.1 from a background thread; `url` is its address.

    `fail_next(n)` makes the next n correctly signed deliveries get a 500 (or `status`);
    badly signed ones always get 401. Deliveries are listed in `deliveries`.
    """

    name = "FakeWebhookReceiver"
    probe_path = "/health"

    def __init__(self, secret: str, *, tolerance_s: int = 300) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.deliveries: list[Delivery] = []
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self.app = self._build_app()

    @property
    def url(self) -> str:
        """The webhook URL to configure, once started."""
        return f"{self.root}{HOOK_PATH}" if self.root else ""

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
