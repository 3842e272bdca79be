"""`POST /api/v1/discord/messages`: Discord message objects from relays and bots that exist
already, moderated like any item by the moderator that watches the message's guild.

The body is Discord's own message object (`id`, `channel_id`, `guild_id`, `author {id,
bot}`, `content`, `attachments`). Bot authors are ignored (Gova's own replies among them).
Image and audio attachments on Discord's CDN are fetched and become the item's parts
(`gova.integrations.discord_attachments`); the others, and any that could not be fetched,
are named in the answer and in the item's metadata (`attachments_skipped`).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse

from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, responses
from gova.api.moderate import _done, answer, stored_or_none
from gova.api.state import ApiState, get_state
from gova.integrations.discord_attachments import discord_item, holding
from gova.schemas.actions import ModeratorConfig
from gova.schemas.discord import DiscordMessage, item_id, watches

router = APIRouter(
    prefix="/api/v1/discord",
    tags=["discord"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)


@router.post(
    "/messages",
    responses={
        200: {
            "description": "ignored (a bot's message, or neither text nor a file that could "
            "be fetched), with the reason; or the verdict of a message sent before"
        },
        202: {
            "description": "accepted; poll status_url (`attachments_skipped`: the attachments "
            "not moderated, with why)"
        },
        **responses(*WITH_BODY, 404, e404="no moderator of this tenant watches that guild"),
    },
)
async def discord_message(
    message: DiscordMessage,
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> JSONResponse:
    if message.author.bot:
        return JSONResponse({"status": "ignored", "reason": "the author is a bot"})
    records = await state.storage.moderators.all_of(tenant.id)
    moderator = next(
        (r.name for r in records if watches(ModeratorConfig.model_validate(r.config), message)),
        None,
    )
    if moderator is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"body.guild_id: no moderator of this tenant watches guild {message.guild_id}"
            f" (channel {message.channel_id})",
        )
    content_id = item_id(message)
    if stored := (await stored_or_none(state, tenant.id, [content_id])).get(content_id):
        return JSONResponse(_done(stored))  # sent before: its verdict, nothing fetched again
    async with holding(message):
        event, skipped = await discord_item(message, moderator, state.settings)
        extra = {"attachments_skipped": skipped} if skipped else {}
        if event is None:
            reason = "no text and no file that could be fetched"
            return JSONResponse({"status": "ignored", "reason": reason, **extra})
        answered = await answer(state, tenant, event, request, wait=False)
    if extra and answered.status_code == status.HTTP_202_ACCEPTED:
        return JSONResponse({**json.loads(answered.body), **extra}, status_code=202)
    return answered
