"""Moderators: each community's AI moderator — its guidelines for the reviewer, where its
actions go (Discord, a webhook), what it may do, and whether it runs.

Every change is stored and also published to `moderator.events` (seed 000's Start, Stop and
UpdateConfig events), which the workers apply to their moderator table: a change reaches
the running pipeline within seconds, without a restart.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field

from gova import secrets
from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, WITH_PARAMS, responses
from gova.api.review import forget_moderator
from gova.api.state import ApiState, get_state
from gova.integrations.webhook import host_of, new_secret
from gova.schemas.actions import ModeratorConfig, ModeratorEvent, ModeratorEventType
from gova.streams import MODERATOR_EVENTS

router = APIRouter(
    prefix="/api/v1",
    tags=["moderators"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)

NAME = r"^[A-Za-z0-9._-]{1,64}$"
NO_MODERATOR = "no such moderator for this tenant"


class ModeratorView(ModeratorConfig):
    name: str
    status: str = Field(description="running or stopped: a stopped moderator takes no actions")
    webhook_secret: str | None = Field(
        None, description="the webhook signing secret: shown once, when it is made"
    )


class DiscordSettings(BaseModel):
    bot_token: str = Field(min_length=20, max_length=200, description="stored encrypted")


def _seal(state: ApiState, secret: str) -> str:
    try:
        return secrets.encrypt(state.settings.secret_key, secret)
    except secrets.SecretsUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


async def _publish(
    state: ApiState, tenant_id: str, name: str, kind: ModeratorEventType, config: ModeratorConfig
) -> None:
    event = ModeratorEvent(
        type=kind, tenant_id=tenant_id, moderator=name, config=config, at=time.time()
    )
    try:
        await state.producer.send_and_wait(
            MODERATOR_EVENTS.name,
            key=event.moderator_key.encode(),
            value=event.model_dump_json().encode(),
        )
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"stored, but the message broker did not take the change ({type(exc).__name__}); "
            "repeat the request",
        ) from exc


async def _stored(state: ApiState, tenant_id: str, name: str) -> tuple[ModeratorConfig, bool]:
    record = await state.storage.moderators.get(tenant_id, name)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no moderator {name!r} for this tenant")
    return ModeratorConfig.model_validate(record.config), record.running


def _shown(name: str, config: ModeratorConfig, running: bool, **extra) -> ModeratorView:
    status_ = "running" if running else "stopped"
    return ModeratorView(name=name, status=status_, **config.model_dump(), **extra)


async def _view(state: ApiState, tenant_id: str, name: str, **extra) -> ModeratorView:
    return _shown(name, *await _stored(state, tenant_id, name), **extra)


@router.put(
    "/moderators/{name}",
    response_model=ModeratorView,
    response_model_exclude_none=True,
    responses=responses(*WITH_BODY),
)
async def put_moderator(
    config: ModeratorConfig,
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ModeratorView:
    allowed = state.settings.webhook_hosts
    if config.webhook is not None and allowed and host_of(config.webhook.url) not in allowed:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"body.webhook.url: host {host_of(config.webhook.url)!r} is not allowed here"
            f" (GOVA_WEBHOOK_ALLOWED_HOSTS: {sorted(allowed)})",
        )
    await state.storage.moderators.put(tenant.id, name, config.model_dump(mode="json"))
    forget_moderator(tenant.id, name)
    made = None
    if config.webhook is not None and not await state.storage.moderators.get_secret(
        tenant.id, name, "webhook"
    ):
        made = new_secret()
        await state.storage.moderators.set_secret(tenant.id, name, "webhook", _seal(state, made))
    await _publish(state, tenant.id, name, "UpdateConfigModeratorEvent", config)
    return await _view(state, tenant.id, name, webhook_secret=made)


@router.get(
    "/moderators/{name}",
    response_model=ModeratorView,
    response_model_exclude_none=True,
    responses=responses(*WITH_PARAMS, 404, e404=NO_MODERATOR),
)
async def get_moderator(
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ModeratorView:
    return await _view(state, tenant.id, name)


async def _run(state: ApiState, tenant: Tenant, name: str, running: bool) -> ModeratorView:
    if not await state.storage.moderators.set_running(tenant.id, name, running):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no moderator {name!r} for this tenant")
    config, running = await _stored(state, tenant.id, name)
    kind = "StartModeratorEvent" if running else "StopModeratorEvent"
    await _publish(state, tenant.id, name, kind, config)
    return _shown(name, config, running)


@router.post(
    "/moderators/{name}/start",
    response_model=ModeratorView,
    response_model_exclude_none=True,
    responses=responses(*WITH_PARAMS, 404, e404=NO_MODERATOR),
)
async def start_moderator(
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ModeratorView:
    return await _run(state, tenant, name, True)


@router.post(
    "/moderators/{name}/stop",
    response_model=ModeratorView,
    response_model_exclude_none=True,
    responses=responses(*WITH_PARAMS, 404, e404=NO_MODERATOR),
)
async def stop_moderator(
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ModeratorView:
    return await _run(state, tenant, name, False)


@router.post(
    "/moderators/{name}/webhook-secret",
    response_model=ModeratorView,
    response_model_exclude_none=True,
    responses=responses(*WITH_PARAMS, 404, 409, e404=NO_MODERATOR, e409="not a webhook moderator"),
)
async def rotate_webhook_secret(
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ModeratorView:
    current = await _view(state, tenant.id, name)
    if current.webhook is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"moderator {name!r} has no webhook: PUT one first"
        )
    made = new_secret()
    await state.storage.moderators.set_secret(tenant.id, name, "webhook", _seal(state, made))
    return current.model_copy(update={"webhook_secret": made})


@router.put("/discord", responses=responses(*WITH_BODY))
async def put_discord(
    body: DiscordSettings,
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> dict:
    """The bot token Gova acts with in this tenant's guilds (else the deployment's)."""
    await state.storage.tenants.set_discord(tenant.id, {"bot_token": _seal(state, body.bot_token)})
    return {"has_bot_token": True}


@router.get("/discord")
async def get_discord(
    tenant: Tenant = Depends(current_tenant), state: ApiState = Depends(get_state)
) -> dict:
    """Never the token itself: whether there is one."""
    return {
        "has_bot_token": bool((await state.storage.tenants.get_discord(tenant.id)).get("bot_token"))
    }
