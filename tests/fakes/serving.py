"""Serving a fake's FastAPI app from a thread on 127.0.0.1, for the span of a `with` block.

The fakes of Discord and of a webhook receiver share this: bind (a given port, or any free
one), run uvicorn in a daemon thread, return once the app answers its probe, stop within a
bound. (FakeOpenAI keeps its own: it also wakes slow answers on stop.)
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from types import TracebackType
from typing import Self

import httpx
import uvicorn
from fastapi import FastAPI


class ServedFake:
    #: For messages and the thread's name.
    name = "fake"
    #: A path (from the root URL) that answers 200 once the app serves.
    probe_path = "/"
    #: What is served; the subclass builds it in its __init__.
    app: FastAPI
    #: For a fake served over TLS: uvicorn's ssl_* options, and what its probe trusts.
    tls: dict[str, str] = {}
    verify: ssl.SSLContext | bool = True

    def __init__(self, port: int = 0) -> None:
        self.port = port  # 0: any free port
        self.root = ""  # http://127.0.0.1:<port> once started
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> Self:
        """Serve and return once the app answers its probe."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        scheme = "https" if self.tls else "http"
        self.root = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", **self.tls
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        self._wait_until_answering(timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        alive = self._thread.is_alive()
        self._server = self._thread = None
        if alive:
            raise RuntimeError(f"{self.name} did not stop within {timeout_s}s")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_answering(self, timeout_s: float) -> None:
        assert self._thread is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=1.0, verify=self.verify) as client:
            while True:
                if not self._thread.is_alive():
                    raise RuntimeError(f"{self.name} server thread exited during startup")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.root}{self.probe_path}").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"{self.name} did not answer within {timeout_s}s")
                time.sleep(0.01)
