"""A tenant's thresholds and review band over the deployment defaults."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from gova.api.auth import Tenant, current_tenant, forget_tenant
from gova.api.state import ApiState, get_state
from gova.models.text import ALL_TEXT_CATEGORIES as TEXT_CATEGORIES
from gova.models.text import deployment_thresholds
from gova.schemas import Policy

router = APIRouter(prefix="/api/v1", tags=["policy"])


def effective(tenant_policy: Policy, state: ApiState) -> Policy:
    """The tenant's overrides over the deployment's thresholds and review band."""
    s = state.settings
    return tenant_policy.merged_over(deployment_thresholds(s), s.default_review_band)


def _view(tenant_policy: Policy, state: ApiState) -> dict:
    return {
        "overrides": tenant_policy.model_dump(exclude_none=True),
        "effective": effective(tenant_policy, state).model_dump(),
        "categories": list(TEXT_CATEGORIES),
    }


@router.get("/policy")
async def get_policy(
    tenant: Tenant = Depends(current_tenant), state: ApiState = Depends(get_state)
) -> dict:
    return _view(tenant.policy, state)


@router.put("/policy")
async def put_policy(
    policy: Policy, tenant: Tenant = Depends(current_tenant), state: ApiState = Depends(get_state)
) -> dict:
    unknown = sorted(set(policy.thresholds) - set(TEXT_CATEGORIES))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"body.thresholds: unknown categories {unknown}; known: {list(TEXT_CATEGORIES)}",
        )
    await state.storage.tenants.set_policy(tenant.id, policy)
    forget_tenant(tenant.id)
    return _view(policy, state)
