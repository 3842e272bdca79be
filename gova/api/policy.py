"""A tenant's thresholds and review band over the deployment defaults."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import Field, StrictFloat, field_validator

from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, responses
from gova.api.state import ApiState, get_state
from gova.models.text import ALL_TEXT_CATEGORIES as TEXT_CATEGORIES
from gova.models.text import deployment_thresholds
from gova.schemas import Policy

router = APIRouter(
    prefix="/api/v1",
    tags=["policy"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)


Bound = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]


# The shared Policy as the API takes it, so that the document says what is accepted: numbers
# only as JSON numbers (lax pydantic reads `true` and "0.5" too), categories the model has
# (checked in `put_policy`, with a message naming them), and a band in either order ("low
# above high" has no JSON Schema, so it is read low→high rather than refused).
class PolicyUpdate(Policy):
    """A tenant's overrides of the deployment's thresholds and review band."""

    thresholds: dict[str, Bound] = Field(
        default_factory=dict,
        json_schema_extra={"propertyNames": {"enum": list(TEXT_CATEGORIES)}},
    )
    review_band: tuple[Bound, Bound] | None = Field(
        None, description="[low, high]: items whose highest score falls in it are reviewed"
    )

    @field_validator("review_band", mode="before")
    @classmethod
    def _low_first(cls, value: Any) -> Any:
        both_numbers = isinstance(value, list | tuple) and len(value) == 2
        if both_numbers and all(type(v) in (int, float) for v in value):
            return sorted(value)
        return value


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


@router.put("/policy", responses=responses(*WITH_BODY))
async def put_policy(
    policy: PolicyUpdate,
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> dict:
    unknown = sorted(set(policy.thresholds) - set(TEXT_CATEGORIES))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"body.thresholds: unknown categories {unknown}; known: {list(TEXT_CATEGORIES)}",
        )
    await state.storage.tenants.set_policy(tenant.id, policy)
    state.auth.forget_tenant(tenant.id)
    return _view(policy, state)
