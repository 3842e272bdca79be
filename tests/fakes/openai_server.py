"""A local fake of OpenAI's chat-completions HTTP API.

It lets tests exercise the real `openai.AsyncOpenAI` client (and `instructor` on top of it)
over real HTTP with no network access, while deciding per test what the "model" answers and
how the service misbehaves (malformed output, server errors, slowness).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Responder = Callable[[dict[str, Any]], dict[str, Any]]
MODES = ("ok", "malformed_once", "error", "slow")
MALFORMED_ANSWER: dict[str, Any] = {"unexpected": True}


def default_responder(request_body: dict[str, Any]) -> dict[str, Any]:
    """A harmless verdict, so tests that do not care about the answer need no responder."""
    return {
        "action": {"type": "NONE", "params": {}},
        "severity_score": 0.1,
        "reason": "default fake answer",
        "guideline": None,
    }


def prompt_text(request_body: dict[str, Any]) -> str:
    """All message text of a request, so responders can decide by searching the prompt.

    Contents may be strings, lists of parts (`{"type": "text", "text": ...}`) or None
    (an assistant tool-call message that instructor echoes back when it re-asks).
    """
    texts: list[str] = []
    for message in request_body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    return "\n".join(texts)


def _tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: whitespace-separated words, at least 1."""
    return max(1, len(text.split()))


class FakeOpenAI:
    """Serves /v1/chat/completions and /v1/models on 127.0.0.1 from a background thread.

    Use as `with FakeOpenAI() as fake:` or call `start()` / `stop()`. Point a client at
    `base_url`; every chat-completions body received is appended to `requests`, whatever
    the `mode`.
    """

    def __init__(self, responder: Responder | None = None, *, slow_s: float = 5.0) -> None:
        self.responder: Responder = responder or default_responder
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""
        self._mode = "ok"
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        # Created on the server's loop; set on stop() so a "slow" answer does not hold up
        # uvicorn's graceful shutdown, which waits for in-flight requests.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.app = self._build_app()

    @property
    def mode(self) -> str:
        """One of MODES; checked on assignment so a typo fails loudly, not silently "ok"."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self._mode = value

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> FakeOpenAI:
        """Serve on a free port and return once the server answers HTTP."""
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already started")
        # Binding port 0 ourselves and handing uvicorn the socket avoids a pick-then-bind race.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        self._thread.start()
        self._wait_until_answering(timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut uvicorn down gracefully and join its thread."""
        if self._server is None or self._thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may have just closed
                loop.call_soon_threadsafe(stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout_s)
        alive = self._thread.is_alive()
        self._server = self._thread = None
        if alive:
            raise RuntimeError(f"FakeOpenAI did not stop within {timeout_s}s")

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_answering(self, timeout_s: float) -> None:
        """Poll GET /v1/models until it answers 200 (or the thread dies, or time runs out)."""
        assert self._thread is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=1.0) as client:
            while True:
                if not self._thread.is_alive():
                    raise RuntimeError("FakeOpenAI server thread exited during startup")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.base_url}/models").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"FakeOpenAI did not answer within {timeout_s}s")
                time.sleep(0.01)

    # -- HTTP ----------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            yield

        app = FastAPI(lifespan=lifespan)

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            model = {"id": "fake-model", "object": "model", "created": 0, "owned_by": "gova"}
            return {"object": "list", "data": [model]}

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> JSONResponse:
            body: dict[str, Any] = await request.json()
            self.requests.append(body)
            mode = self._mode
            if mode == "error":
                error = {"message": "fake upstream failure", "type": "server_error"}
                return JSONResponse(
                    status_code=500, content={"error": {**error, "param": None, "code": None}}
                )
            if mode == "slow":
                assert self._stopping is not None  # set by the lifespan before serving
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.slow_s)
            if mode == "malformed_once":
                self._mode = "ok"
                answer = MALFORMED_ANSWER
            else:
                answer = self.responder(body)
            return JSONResponse(self._completion(body, answer))

        return app

    def _completion(self, body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI chat.completion object carrying `answer` as a tool call or as content."""
        n = next(self._ids)
        arguments = json.dumps(answer)
        message: dict[str, Any]
        if body.get("tools"):
            choice = body.get("tool_choice")
            if isinstance(choice, dict):
                name = choice["function"]["name"]
            else:  # "auto"/"required": call the first tool offered
                name = body["tools"][0]["function"]["name"]
            tool_call = {
                "id": f"call_fake_{n}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
            finish_reason = "tool_calls"
        else:
            message = {"role": "assistant", "content": arguments}
            finish_reason = "stop"
        message["refusal"] = None
        prompt_tokens, completion_tokens = _tokens(prompt_text(body)), _tokens(arguments)
        return {
            "id": f"chatcmpl-fake-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
