"""`POST /api/v1/discord/messages`: Discord message objects from relays and bots that exist
already, moderated like any item by the moderator that watches the message's guild.

The body is Discord's own message object (`id`, `channel_id`, `guild_id`, `author {id,
bot}`, `content`, `attachments`). Bot authors are ignored (Gova's own replies among them);
attachments are kept in the item's metadata until the media stages classify them.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse

from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, responses
from gova.api.moderate import answer
from gova.api.state import ApiState, get_state
from gova.schemas.actions import ModeratorConfig
from gova.schemas.discord import DiscordMessage, content_event, watches

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
            "description": "ignored (a bot's message, or no text), with the reason; or the "
            "verdict of a message sent before"
        },
        202: {"description": "accepted; poll status_url"},
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
    if not message.content.strip():
        return JSONResponse(
            {"status": "ignored", "reason": "no text (attachments wait for the media stages)"}
        )
    return await answer(state, tenant, content_event(message, moderator), request, wait=False)
