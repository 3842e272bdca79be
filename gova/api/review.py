"""The reviewer's configuration: moderators' guidelines, the tenant's LLM, and its usage."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field, HttpUrl

from gova import secrets
from gova.api.auth import Tenant, current_tenant
from gova.api.state import ApiState, get_state
from gova.schemas import ContentEvent

router = APIRouter(prefix="/api/v1", tags=["review"])

NAME = r"^[A-Za-z0-9._-]{1,64}$"


class ModeratorConfig(BaseModel):
    guidelines: str = Field(
        "", max_length=20_000, description="the community's rules, ideally numbered (G1, G2…)"
    )
    server_summary: str = Field("", max_length=5_000, description="what this community is")
    context_dependent: bool = Field(
        False,
        description="guidelines no classifier can judge (spoilers, off-topic…): review every item",
    )


CONFIG_TTL_S = 10.0
_context_dependent: dict[tuple[str, str], tuple[float, bool]] = {}


async def context_dependent(state: ApiState, tenant_id: str, event: ContentEvent) -> bool:
    """Whether the item's moderator wants every item reviewed (cached briefly per process)."""
    name = event.metadata.moderator
    now = time.monotonic()
    hit = _context_dependent.get((tenant_id, name))
    if hit is None or hit[0] < now:
        config = await state.storage.review.get_moderator(tenant_id, name) or {}
        hit = (now + CONFIG_TTL_S, bool(config.get("context_dependent")))
        _context_dependent[(tenant_id, name)] = hit
    return hit[1]


class LLMSettings(BaseModel):
    base_url: HttpUrl = Field(description="an OpenAI-compatible API, e.g. http://vllm:8000/v1")
    model: str = Field(min_length=1, max_length=200)
    api_key: str | None = Field(None, max_length=500, description="stored encrypted")
    monthly_token_budget: int = Field(1_000_000, ge=0)


@router.put("/moderators/{name}")
async def put_moderator(
    config: ModeratorConfig,
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> dict:
    await state.storage.review.set_moderator(tenant.id, name, config.model_dump())
    _context_dependent.pop((tenant.id, name), None)
    return {"name": name, **config.model_dump()}


@router.get("/moderators/{name}")
async def get_moderator(
    name: str = Path(pattern=NAME),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> dict:
    config = await state.storage.review.get_moderator(tenant.id, name)
    if config is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no moderator {name!r} for this tenant")
    return {"name": name, **config}


@router.put("/llm")
async def put_llm(
    llm: LLMSettings, tenant: Tenant = Depends(current_tenant), state: ApiState = Depends(get_state)
) -> dict:
    allowed = {h.strip() for h in state.settings.llm_allowed_hosts.split(",") if h.strip()}
    if allowed and llm.base_url.host not in allowed:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"body.base_url: host {llm.base_url.host!r} is not allowed here"
            f" (GOVA_LLM_ALLOWED_HOSTS: {sorted(allowed)})",
        )
    stored = llm.model_dump(mode="json")
    if llm.api_key:
        try:
            stored["api_key"] = secrets.encrypt(state.settings.secret_key, llm.api_key)
        except secrets.SecretsUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    await state.storage.review.set_llm(tenant.id, stored)
    return _public_llm(stored)


@router.get("/llm")
async def get_llm(
    tenant: Tenant = Depends(current_tenant), state: ApiState = Depends(get_state)
) -> dict:
    return _public_llm(await state.storage.review.get_llm(tenant.id))


def _public_llm(stored: dict) -> dict:
    """Never hand a stored key back: say only whether there is one."""
    return {
        **{k: v for k, v in stored.items() if k != "api_key"},
        "has_api_key": bool(stored.get("api_key")),
    }


@router.get("/usage")
async def get_usage(
    tenant: Tenant = Depends(current_tenant), state: ApiState = Depends(get_state)
) -> dict:
    return {
        "tokens_this_month": await state.storage.review.month_tokens(tenant.id),
        "by_moderator": await state.storage.review.usage(tenant.id),
    }
