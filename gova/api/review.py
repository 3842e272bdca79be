"""The reviewer's configuration: the tenant's LLM and its usage; whether a moderator wants
every item reviewed (its config lives in `gova.api.moderators`)."""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from gova import secrets
from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, responses
from gova.api.state import ApiState, get_state
from gova.schemas import ContentEvent
from gova.schemas.fields import JsonInt, StoredText

router = APIRouter(
    prefix="/api/v1",
    tags=["review"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)

NAME = r"^[A-Za-z0-9._-]{1,64}$"


CONFIG_TTL_S = 10.0
_context_dependent: dict[tuple[str, str], tuple[float, bool]] = {}


async def context_dependent(state: ApiState, tenant_id: str, event: ContentEvent) -> bool:
    """Whether the item's moderator wants every item reviewed (cached briefly per process)."""
    name = event.metadata.moderator
    now = time.monotonic()
    hit = _context_dependent.get((tenant_id, name))
    if hit is None or hit[0] < now:
        record = await state.storage.moderators.get(tenant_id, name)
        config = record.config if record else {}
        hit = (now + CONFIG_TTL_S, bool(config.get("context_dependent")))
        _context_dependent[(tenant_id, name)] = hit
    return hit[1]


def forget_moderator(tenant_id: str, name: str) -> None:
    """Drop this process's cached view of a moderator whose config changed."""
    _context_dependent.pop((tenant_id, name), None)


class LLMSettings(BaseModel):
    # JSON types as declared: lax pydantic would also read 0 as false or "5" as 5.
    model_config = ConfigDict(strict=True)

    base_url: HttpUrl = Field(
        description="an OpenAI-compatible API, e.g. http://vllm:8000/v1 (http or https; the "
        "host must be one of GOVA_LLM_ALLOWED_HOSTS where that is set)"
    )
    model: StoredText = Field(min_length=1, max_length=200)
    api_key: StoredText | None = Field(None, max_length=500, description="stored encrypted")
    monthly_token_budget: JsonInt = Field(1_000_000, ge=0)


def base_url_pattern(allowed_hosts: set[str]) -> str:
    """The URLs `put_llm` takes, as a pattern: http(s), and one of `allowed_hosts` if any.

    It follows the URL parser where fuzzing reaches: scheme and host in either case (the
    parser lower-cases them), userinfo up to the last `@`, ports up to 65535 (leading zeros
    allowed). With no allowed hosts, the host is only roughly checked.
    """

    def either_case(text: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)

    hosts = "|".join(either_case(h) for h in sorted(allowed_hosts))
    hosts = hosts or r"[^/?#@:\[\]\\%\s]+|\[[0-9A-Fa-f:.]+\]"
    up_to_65535 = r"[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
    port = rf"(?::0*(?:{up_to_65535})?)?"
    userinfo = r"(?:[^/?#\\]*@)?"
    return rf"^{either_case('http')}[Ss]?://{userinfo}(?:{hosts}){port}(?:[/?#\\].*)?$"


@router.put(
    "/llm",
    responses=responses(
        *WITH_BODY, 503, e503="the database is unavailable, or no GOVA_SECRET_KEY to store a key"
    ),
)
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
