"""A Discord message's images and audio, fetched from Discord's CDN into the item's parts.

Discord gives attachments as CDN URLs. Both ways messages come in (`POST
/api/v1/discord/messages` and `gova discord-bridge`) fetch them here, in the intake, never in
the worker, so the API's own checks apply to the bytes (sniffed, the limits, stored once,
passed on by reference) and the verdict names the part (its Discord id) that triggered it.

What is fetched is narrow, since the URL comes from whoever sent the message (server-side
request forgery): https only, hosts in `GOVA_DISCORD_ATTACHMENT_HOSTS` only (Discord's CDN;
empty: nothing is fetched), redirects only to those hosts, image/audio content types only,
`size` under the type's byte limit before asking and the limit enforced while reading (the
read stops past it), `GOVA_DISCORD_ATTACHMENT_TIMEOUT_S` for the whole download, at most an
item's own number of attachments, and a few downloads at once per process. An attachment not
fetched, for whatever reason, leaves the message's text alone: it is named with the reason in
the item's `metadata.attachments_skipped` and logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from functools import cache

import httpx

from gova.media.inspect import MediaError, byte_limit, inspect, missing_extra
from gova.schemas.content import MAX_ATTACHMENTS, Attachment, ContentEvent
from gova.schemas.discord import DiscordAttachment, DiscordMessage, content_event
from gova.settings import Settings

log = logging.getLogger(__name__)

#: Downloads in flight at once per process, and messages whose fetched files a process
#: holds at once (from the first download until the item is submitted): with the byte
#: limits, a bound on the memory attachments take, however many messages come.
FETCHING = 4
HOLDING = 2
#: Redirects followed, each to an allowed host over https.
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


class Skip(Exception):
    """Why an attachment is not one of the item's parts."""


@cache
def _semaphore() -> asyncio.Semaphore:
    return asyncio.Semaphore(FETCHING)


@cache
def _holding() -> asyncio.Semaphore:
    return asyncio.Semaphore(HOLDING)


@contextlib.asynccontextmanager
async def holding(message: DiscordMessage) -> AsyncIterator[None]:
    """Around fetching a message's files and submitting its item: a message with
    attachments waits while HOLDING others hold theirs."""
    if not message.attachments:
        yield
        return
    async with _holding():
        yield


def checked_url(url: str, settings: Settings) -> httpx.URL:
    """The URL if it may be fetched: https, no credentials, an allowed host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise Skip("not a URL") from None
    host = parsed.host.lower()
    if parsed.scheme != "https":
        raise Skip(f"not https ({parsed.scheme or 'no scheme'})")
    if parsed.userinfo:
        raise Skip("a URL with credentials")
    if host not in settings.attachment_hosts:
        raise Skip(f"host {host!r} is not in GOVA_DISCORD_ATTACHMENT_HOSTS")
    return parsed


def kind_of(attachment: DiscordAttachment, settings: Settings) -> str:
    """The part's kind, if the attachment is one to fetch, else Skip saying why not."""
    if not settings.attachment_hosts:
        raise Skip("fetching is off (GOVA_DISCORD_ATTACHMENT_HOSTS is empty)")
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    kind = declared.split("/")[0]
    if kind not in ("image", "audio"):
        raise Skip(f"content type {declared or 'unknown'!r} is not image/* or audio/*")
    if why := missing_extra(kind):
        raise Skip(why)
    limit, name = byte_limit(kind, settings)
    if attachment.size is not None and attachment.size > limit:
        raise Skip(f"{attachment.size:,} bytes, over the limit {name}={limit:,}")
    if not (attachment.url or attachment.proxy_url):
        raise Skip("no URL")
    checked_url(attachment.url or attachment.proxy_url or "", settings)
    return kind


def _verify(settings: Settings) -> ssl.SSLContext | bool:
    if settings.discord_attachment_ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(settings.discord_attachment_ca_file))


async def download(url: str, limit: int, name: str, settings: Settings) -> bytes:
    """The body at `url`, read no further than `limit` bytes; Skip on anything else."""
    target = checked_url(url, settings)
    timeout = settings.discord_attachment_timeout_s
    async with (
        _semaphore(),
        httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            verify=_verify(settings),
            headers={"Accept-Encoding": "identity"},
        ) as client,
    ):
        try:
            async with asyncio.timeout(timeout):
                for _ in range(MAX_REDIRECTS + 1):
                    async with client.stream("GET", target) as answer:
                        if answer.is_redirect:
                            location = answer.headers.get("location", "")
                            target = checked_url(str(target.join(location)), settings)
                            continue
                        return await _body(answer, limit, name)
                raise Skip(f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError:
            raise Skip(f"not fetched within {timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise Skip(f"fetch failed: {type(exc).__name__}") from None


async def _body(answer: httpx.Response, limit: int, name: str) -> bytes:
    if answer.status_code != 200:
        raise Skip(f"HTTP {answer.status_code}")
    if answer.headers.get("content-encoding", "identity").lower() != "identity":
        raise Skip(f"content-encoding {answer.headers['content-encoding']!r}")
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Skip(f"{int(declared):,} bytes, over the limit {name}={limit:,}")
    body = bytearray()
    async for chunk in answer.aiter_raw(CHUNK):
        body += chunk
        if len(body) > limit:
            raise Skip(f"over {limit:,} bytes, the limit {name}={limit:,} (not read further)")
    return bytes(body)


async def fetched(attachment: DiscordAttachment, kind: str, settings: Settings) -> Attachment:
    """The attachment as a part of the item, its bytes checked as the API checks a file."""
    limit, name = byte_limit(kind, settings)
    url = attachment.url or attachment.proxy_url or ""
    data = await download(url, limit, name, settings)
    try:
        await asyncio.to_thread(inspect, kind, data, settings)
    except MediaError as exc:
        raise Skip(str(exc)) from None
    return Attachment(contentType=kind, content=base64.b64encode(data).decode(), name=attachment.id)


async def discord_item(
    message: DiscordMessage, moderator: str, settings: Settings, *, edit: str | None = None
) -> tuple[ContentEvent | None, list[dict[str, str]]]:
    """The item for a message with its fetched images and audio as parts, and the
    attachments skipped (`{id, reason}`); no item when there is neither text nor a file."""
    skipped: list[dict[str, str]] = []
    wanted: list[tuple[DiscordAttachment, str]] = []
    for attachment in message.attachments:
        try:
            kind = kind_of(attachment, settings)
            if len(wanted) == MAX_ATTACHMENTS:
                raise Skip(f"more than {MAX_ATTACHMENTS} files in one message")
            wanted.append((attachment, kind))
        except Skip as why:
            skipped.append({"id": attachment.id, "reason": str(why)})
    results = await asyncio.gather(
        *(fetched(a, kind, settings) for a, kind in wanted), return_exceptions=True
    )
    files: list[Attachment] = []
    for (attachment, _), result in zip(wanted, results, strict=True):
        if isinstance(result, Attachment):
            files.append(result)
        elif isinstance(result, Skip):
            skipped.append({"id": attachment.id, "reason": str(result)})
        elif isinstance(result, Exception):  # a bug here must not cost the message its text
            log.error("fetching attachment %s failed", attachment.id, exc_info=result)
            skipped.append({"id": attachment.id, "reason": f"error: {type(result).__name__}"})
        else:
            raise result
    for skip in skipped:
        log.info(
            "Discord message %s: attachment %s not moderated: %s",
            message.id,
            skip["id"],
            skip["reason"],
        )
    event = content_event(message, moderator, edit=edit, files=files, skipped=skipped)
    return event, skipped
