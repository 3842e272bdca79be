"""A local fake of Discord's gateway (and the one REST route a bot's login calls), checked.

It speaks the gateway protocol's JSON encoding as discord.py meets it: HELLO on connect,
heartbeat ACKs, READY after an IDENTIFY with the right token and intents, then the
dispatches a test pushes; `reconnect()` sends opcode 7 (RECONNECT), after which a client
must come back with a RESUME that names the session and the last sequence number it saw,
and gets the dispatches it missed, then RESUMED. An IDENTIFY with a wrong token closes
with 4004, as Discord does; anything it does not understand closes with 4002.

Routes: GET /api/v10/users/@me and /api/v10/oauth2/applications/@me (what a bot's login
reads), WebSocket /gateway.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from tests.fakes.discord_server import BOT_USER, PREFIX
from tests.fakes.serving import ServedFake

#: GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT: what a moderation bot must ask for.
REQUIRED_INTENTS = (1 << 0) | (1 << 9) | (1 << 15)
HEARTBEAT_INTERVAL_MS = 41_250


@dataclass
class Session:
    id: str
    sent: list[dict[str, Any]] = field(default_factory=list)  # every dispatch, in order


class FakeGateway(ServedFake):
    name = "fake-discord-gateway"
    probe_path = f"{PREFIX}/probe"

    def __init__(self, token: str = "fake-bot-token", port: int = 0) -> None:
        super().__init__(port)
        self.token = token
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.connections = 0  # open WebSockets now
        self._lock = threading.Lock()
        self._sessions = (f"session-{n}" for n in itertools.count(1))
        self._session: Session | None = None
        self._socket: WebSocket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.app = self._build_app()

    @property
    def api_base(self) -> str:
        return f"{self.root}{PREFIX}"

    @property
    def gateway_url(self) -> str:
        return self.root.replace("http://", "ws://") + "/gateway"

    # What a test does, from its own thread.

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch to the connected client (recorded for a resume if none is)."""
        self._call(self._dispatch(event, data))

    def reconnect(self) -> None:
        """Ask the client to reconnect (opcode 7); it should resume the session."""
        self._call(self._send_op(7, None))

    def _call(self, coro) -> None:
        if self._loop is None or self._session is None:
            coro.close()
            raise RuntimeError("no client has identified yet")
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    # The server side.

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        session = self._session
        payload = {"op": 0, "t": event, "s": len(session.sent) + 1, "d": data}
        session.sent.append(payload)
        if self._socket is not None:
            await self._socket.send_json(payload)

    async def _send_op(self, op: int, data: Any) -> None:
        if self._socket is not None:
            await self._socket.send_json({"op": op, "d": data})

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get(f"{PREFIX}/probe")
        async def probe() -> dict[str, str]:
            return {"ok": "yes"}

        @app.get(f"{PREFIX}/users/@me")
        async def me(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bot {self.token}":
                return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
            return JSONResponse(BOT_USER)

        @app.get(f"{PREFIX}/oauth2/applications/@me")
        async def application(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bot {self.token}":
                return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
            return JSONResponse(
                {
                    "id": BOT_USER["id"],
                    "name": "gova",
                    "description": "",
                    "icon": None,
                    "bot_public": False,
                    "bot_require_code_grant": False,
                    "owner": {**BOT_USER, "id": "1100000000000000002", "bot": False},
                    "verify_key": "0" * 64,
                    "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED: the intent is allowed
                }
            )

        @app.websocket("/gateway")
        async def gateway(ws: WebSocket) -> None:
            await ws.accept()
            self._loop = asyncio.get_running_loop()
            with self._lock:
                self.connections += 1
            try:
                await ws.send_json({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
                while True:
                    message = await ws.receive_json()
                    if not await self._handle(ws, message):
                        return
            except WebSocketDisconnect:
                pass
            finally:
                if self._socket is ws:
                    self._socket = None
                with self._lock:
                    self.connections -= 1

        return app

    async def _handle(self, ws: WebSocket, message: dict[str, Any]) -> bool:
        """Answer one client payload; False once the connection is closed."""
        op, data = message.get("op"), message.get("d")
        if op == 1:  # heartbeat
            await ws.send_json({"op": 11})
            return True
        if op == 2:  # identify
            self.identifies.append(data)
            if data.get("token") != self.token:
                await ws.close(4004, "Authentication failed.")
                return False
            if data.get("intents", 0) & REQUIRED_INTENTS != REQUIRED_INTENTS:
                await ws.close(4014, "Disallowed intent(s).")
                return False
            self._session, self._socket = Session(next(self._sessions)), ws
            await self._dispatch(
                "READY",
                {
                    "v": 10,
                    "user": BOT_USER,
                    "guilds": [],
                    "session_id": self._session.id,
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": BOT_USER["id"], "flags": 0},
                },
            )
            return True
        if op == 6:  # resume
            self.resumes.append(data)
            session = self._session
            if session is None or data.get("session_id") != session.id:
                await ws.send_json({"op": 9, "d": False})  # invalid session: identify again
                return True
            if data.get("token") != self.token:
                await ws.close(4004, "Authentication failed.")
                return False
            self._socket = ws
            for missed in session.sent[int(data.get("seq") or 0) :]:
                await ws.send_json(missed)
            await self._dispatch("RESUMED", {})
            return True
        await ws.close(4002, "Error while decoding payload.")
        return False
