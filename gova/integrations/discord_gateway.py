"""`gova discord-bridge`: messages from Discord's gateway into Gova, as items of the moderator
that watches their guild.

One gateway connection per bot token (the deployment's `DISCORD_BOT_TOKEN`, or a tenant's
own from `PUT /api/v1/discord`), kept by discord.py, which identifies, heartbeats, resumes
after a dropped connection and reconnects with backoff. Gova reads the raw dispatches
(`on_socket_raw_receive`) rather than discord.py's parsed objects: MESSAGE_CREATE and
MESSAGE_UPDATE carry Discord's message object, which `gova.schemas.discord` already reads for
`POST /api/v1/discord/messages`, so both ways in make the same item, and nothing depends on
discord.py's caches (turned off: a bridge for many guilds keeps no messages or members).

Which guilds to forward is reread from PostgreSQL every `discord_bridge_refresh_s`: the
started moderators with `platform: discord`. A connection opens for a token when one of its
moderators starts, and closes when the last stops. Items enter through the API's own
`submit` (policy, pending mark, acknowledged by the broker), so a message is moderated as if
a relay had posted it; its images and audio are fetched from Discord's CDN just before, one
message at a time (`gova.integrations.discord_attachments`, as the API does). Messages wait
in a bounded queue (their attachments as URLs, never bytes) while the broker is slow; beyond
it they are dropped with a warning rather than held without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord
import yarl
from pydantic import ValidationError

from gova.api.key_cache import Tenant
from gova.api.moderate import stored_or_none, submit
from gova.api.state import ApiState
from gova.integrations.discord import bot_token
from gova.integrations.discord_attachments import discord_item
from gova.schemas import ContentEvent
from gova.schemas.actions import ModeratorConfig
from gova.schemas.discord import DiscordMessage, item_id, watches
from gova.settings import Settings

log = logging.getLogger(__name__)

#: Guild messages and their text (the message-content intent is privileged: the bot's
#: settings in Discord's developer portal must allow it).
INTENTS = discord.Intents(guilds=True, guild_messages=True, message_content=True)
MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE")
RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)
#: A connection that ended on an error (not a refused token) is tried again after 2, 4, 8 …
#: seconds, at most this long; discord.py's own reconnects come first.
RECONNECT_MAX_S = 300.0


@dataclass(frozen=True)
class Incoming:
    """A message for one tenant's moderator, as queued (its item is made on forwarding)."""

    message: DiscordMessage
    moderator: str
    edit: str | None = None

    @property
    def id(self) -> str:
        return item_id(self.message, self.edit)


@dataclass(frozen=True)
class Watch:
    """A started moderator of a tenant that watches a Discord guild."""

    tenant: Tenant
    moderator: str
    config: ModeratorConfig


def dispatched(raw: str | dict[str, Any]) -> tuple[DiscordMessage, str | None] | None:
    """The message in one gateway payload, with the edit's name for MESSAGE_UPDATE (its edit
    time in ms); None for anything else: other opcodes and events, direct messages, bot and
    webhook authors, updates that did not change the text (embeds unfurling), malformed data,
    messages with neither text nor attachments.
    """
    payload = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(payload, dict) or payload.get("op") != 0:
        return None
    event, data = payload.get("t"), payload.get("d")
    if event not in MESSAGE_EVENTS or not isinstance(data, dict):
        return None
    if "guild_id" not in data or data.get("webhook_id"):
        return None
    edit = None
    if event == "MESSAGE_UPDATE":
        if "content" not in data or not data.get("edited_timestamp"):
            return None
        try:
            edit = str(round(datetime.fromisoformat(data["edited_timestamp"]).timestamp() * 1000))
        except (TypeError, ValueError):
            return None
    try:
        message = DiscordMessage.model_validate(data)
    except ValidationError as exc:
        log.warning("%s %s skipped: %s", event, data.get("id"), exc.errors()[0]["msg"])
        return None
    if message.author.bot or not (message.content.strip() or message.attachments):
        return None
    return message, edit


def items_for(
    message: DiscordMessage, edit: str | None, watching: Iterable[Watch]
) -> list[tuple[Tenant, Incoming]]:
    """One item per tenant whose started moderator watches the message's guild and channel
    (a tenant's first such moderator by name, as for `POST /api/v1/discord/messages`)."""
    items: dict[str, tuple[Tenant, Incoming]] = {}
    for w in watching:
        if w.tenant.id not in items and watches(w.config, message):
            items[w.tenant.id] = (w.tenant, Incoming(message, w.moderator, edit))
    return list(items.values())


async def load_watches(state: ApiState) -> dict[str, list[Watch]]:
    """Started Discord moderators by the bot token they listen with."""
    storage, settings = state.storage, state.settings
    by_token: dict[str, list[Watch]] = {}
    tenants: dict[str, tuple[Tenant | None, str | None]] = {}
    for record in sorted(await storage.moderators.all(), key=lambda r: (r.tenant_id, r.name)):
        config = ModeratorConfig.model_validate(record.config)
        if not record.running or config.platform != "discord":
            continue
        if record.tenant_id not in tenants:
            row = await storage.tenants.get(record.tenant_id)
            tenants[record.tenant_id] = (
                Tenant(row.id, row.name, row.tier, row.policy) if row else None,
                await bot_token(storage, settings, record.tenant_id),
            )
        tenant, token = tenants[record.tenant_id]
        if tenant is None:
            continue
        if token is None:
            log.warning(
                "moderator %s/%s watches a Discord guild but no bot token is configured "
                "(set DISCORD_BOT_TOKEN, or PUT /api/v1/discord)",
                record.tenant_id,
                record.name,
            )
            continue
        by_token.setdefault(token, []).append(Watch(tenant, record.name, config))
    return by_token


def point_discord_py_at(settings: Settings) -> None:
    """discord.py has no option for its REST base and gateway: both are class attributes,
    set here so that tests (and proxies) can stand in for Discord."""
    discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


@dataclass
class Connection:
    client: discord.Client
    task: asyncio.Task
    tenants: tuple[str, ...]


@dataclass
class Bridge:
    state: ApiState
    watching: dict[str, list[Watch]] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    #: Tokens Discord refused; not retried until the token is replaced.
    refused: set[str] = field(default_factory=set)
    #: Connections that ended on an error: (how many in a row, when to try again).
    failing: dict[str, tuple[int, float]] = field(default_factory=dict)
    dropped: int = 0

    def __post_init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Tenant, Incoming]] = asyncio.Queue(
            self.state.settings.discord_bridge_queue
        )

    def receive(self, token: str, raw: str | dict[str, Any]) -> int:
        """Queue the items one gateway payload makes for the tenants this token serves."""
        try:
            found = dispatched(raw)
        except (TypeError, ValueError) as exc:
            log.warning("unreadable gateway payload skipped: %s", exc)
            return 0
        if found is None:
            return 0
        queued = 0
        for item in items_for(*found, self.watching.get(token, ())):
            try:
                self.queue.put_nowait(item)
                queued += 1
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning(
                    "queue full (%d items): Discord message %s of tenant %s dropped (%d so far)",
                    self.queue.maxsize,
                    found[0].id,
                    item[0].id,
                    self.dropped,
                )
        return queued

    async def forward(self, tenant: Tenant, incoming: Incoming) -> None:
        """Submit one item unless its id came before (a gateway replays events on resume),
        its attachments fetched once, retrying while the broker or the database is away."""
        event, fetched = None, False
        for attempt in range(len(RETRY_S) + 1):
            try:
                if incoming.id in await stored_or_none(self.state, tenant.id, [incoming.id]):
                    return
                if not fetched:
                    event, fetched = await self._item(incoming), True
                if event is not None:
                    await submit(self.state, tenant, [event])
                return
            except Exception as exc:
                if attempt == len(RETRY_S):
                    log.error("item %s of tenant %s not forwarded: %s", incoming.id, tenant.id, exc)
                    return
                log.warning("forwarding %s failed (%s); retrying", incoming.id, exc)
                await asyncio.sleep(RETRY_S[attempt])

    async def _item(self, incoming: Incoming) -> ContentEvent | None:
        event, _ = await discord_item(
            incoming.message, incoming.moderator, self.state.settings, edit=incoming.edit
        )
        if event is None:
            log.info("Discord message %s skipped: no text and no file fetched", incoming.id)
        return event

    async def drain(self) -> None:
        """Forward what is queued now (tests; and on stop)."""
        while not self.queue.empty():
            await self.forward(*self.queue.get_nowait())

    async def forward_forever(self) -> None:
        while True:
            await self.forward(*await self.queue.get())

    async def refresh(self) -> None:
        """Reread who watches what; open and close connections to match."""
        self.watching = await load_watches(self.state)
        self.refused &= set(self.watching)
        self.failing = {t: f for t, f in self.failing.items() if t in self.watching}
        for token in set(self.connections) - set(self.watching):
            await self.disconnect(token)
        now = time.monotonic()
        for token, watching in self.watching.items():
            if token in self.connections or token in self.refused:
                continue
            if token in self.failing and self.failing[token][1] > now:
                continue
            self.connect(token, tuple(sorted({w.tenant.id for w in watching})))

    def connect(self, token: str, tenants: tuple[str, ...]) -> None:
        client = discord.Client(
            intents=INTENTS,
            enable_debug_events=True,
            max_messages=None,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )

        async def on_socket_raw_receive(raw: str) -> None:
            self.receive(token, raw)

        async def on_ready() -> None:
            self.failing.pop(token, None)
            log.info("gateway ready for tenants %s as %s", ", ".join(tenants), client.user)

        client.event(on_socket_raw_receive)
        client.event(on_ready)
        task = asyncio.create_task(self._run(token, client, tenants))
        self.connections[token] = Connection(client, task, tenants)
        log.info("connecting to Discord's gateway for tenants %s", ", ".join(tenants))

    async def _run(self, token: str, client: discord.Client, tenants: tuple[str, ...]) -> None:
        """The connection's life; discord.py reconnects on its own, so an end is final."""
        who = ", ".join(tenants)
        try:
            await client.start(token, reconnect=True)
        except discord.LoginFailure:
            log.error("Discord refused the bot token of tenants %s; replace it to retry", who)
            self.refused.add(token)
        except discord.PrivilegedIntentsRequired:
            log.error(
                "the bot of tenants %s lacks the message-content intent: allow it in Discord's"
                " developer portal (Bot → Privileged Gateway Intents)",
                who,
            )
            self.refused.add(token)
        except Exception as exc:
            failures = self.failing.get(token, (0, 0.0))[0] + 1
            wait = min(RECONNECT_MAX_S, 2.0**failures)
            self.failing[token] = (failures, time.monotonic() + wait)
            log.error("gateway connection of tenants %s ended: %s; again in %.0fs", who, exc, wait)
        finally:
            if (mine := self.connections.get(token)) and mine.client is client:
                del self.connections[token]  # the next refresh connects again
            if not client.is_closed():
                await client.close()

    async def disconnect(self, token: str) -> None:
        connection = self.connections.pop(token, None)
        if connection is not None:
            log.info("closing the gateway connection of tenants %s", ", ".join(connection.tenants))
            await connection.client.close()
            connection.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connection.task

    async def run(self) -> None:
        log.info(
            "Discord bridge up: listening for the guilds of started discord moderators"
            " (reread every %.0fs)",
            self.state.settings.discord_bridge_refresh_s,
        )
        forwarder = asyncio.create_task(self.forward_forever())
        try:
            while True:
                try:
                    await self.refresh()
                except Exception as exc:  # the database away: keep the connections we have
                    log.warning("rereading Discord moderators failed: %s", exc)
                await asyncio.sleep(self.state.settings.discord_bridge_refresh_s)
        finally:
            for token in list(self.connections):
                await self.disconnect(token)
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarder
            await self.drain()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT; then close the connections and forward what is queued."""
    point_discord_py_at(settings)
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    async with ApiState.opened(settings) as state:
        with contextlib.suppress(asyncio.CancelledError):
            await Bridge(state).run()
