"""Actions: list them, and approve or reject the ones a moderator holds for a human.

An approval moves the action AWAITING_APPROVAL → APPROVED in one conditional update (two
moderators clicking at once approve it once) and hands it to the worker's executor over
`actions.execute`; the executor's own claim keeps it from running twice.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field, ValidationError

from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, WITH_PARAMS, responses
from gova.api.state import ApiState, get_state
from gova.schemas.actions import ActionEvent, ActionSpec, ActionStatus, HistoryEntry
from gova.schemas.fields import ActionParams
from gova.streams import ACTIONS_EXECUTE

router = APIRouter(
    prefix="/api/v1",
    tags=["actions"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)

ACTION_ID = r"^act_[0-9a-f]{24}$"
NAME = r"^[A-Za-z0-9._-]{1,64}$"


class ActionPage(BaseModel):
    items: list[ActionEvent]
    next: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class Approval(BaseModel):
    params: ActionParams | None = Field(
        None, description="edited parameters, e.g. a shorter TIMEOUT {'duration': 300}"
    )


class Rejection(BaseModel):
    reason: str = Field("", max_length=1_000)


CURSOR = r"^[0-9]{1,10}(\.[0-9]{1,9})?~act_[0-9a-f]{24}$"


def _cursor(action: ActionEvent) -> str:
    """The last item of a page, as `<created_at>~<id>`: every string of that shape is one."""
    return f"{action.created_at:.6f}~{action.id}"


def _after(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    at, _, action_id = cursor.partition("~")
    return float(at), action_id


def by(tenant: Tenant) -> str:
    """Who approved or rejected: the API key's tenant (accounts come with their own issue)."""
    return f"user:{tenant.id}"


@router.get("/actions", response_model=ActionPage, responses=responses(*WITH_PARAMS))
async def list_actions(
    status_: ActionStatus | None = Query(None, alias="status"),
    moderator: str | None = Query(None, pattern=NAME),
    author: str | None = Query(None, min_length=1, max_length=256),
    cursor: str | None = Query(None, pattern=CURSOR, description="`next` of the previous page"),
    limit: int = Query(50, ge=1, le=200),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ActionPage:
    items = await state.storage.actions.list(
        tenant.id,
        status=status_,
        moderator=moderator,
        author=author,
        limit=limit + 1,
        before=_after(cursor),
    )
    page, more = items[:limit], len(items) > limit
    return ActionPage(items=page, next=_cursor(page[-1]) if more else None)


async def _own(state: ApiState, tenant: Tenant, action_id: str) -> ActionEvent:
    action = await state.storage.actions.get(tenant.id, action_id)
    if action is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action {action_id!r} for this tenant")
    return action


@router.get(
    "/actions/{action_id}",
    response_model=ActionEvent,
    responses=responses(*WITH_PARAMS, 404, e404="no such action for this tenant"),
)
async def get_action(
    action_id: str = Path(pattern=ACTION_ID),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ActionEvent:
    return await _own(state, tenant, action_id)


def _not_awaiting(action: ActionEvent) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        f"action {action.id} is {action.status}: only an action AWAITING_APPROVAL can be "
        f"approved or rejected",
    )


async def _expire_if_due(state: ApiState, action: ActionEvent) -> None:
    """An approval that comes after GOVA_APPROVAL_TTL_S finds the action expired, even if the
    worker's sweeper has not got to it yet."""
    ttl = state.settings.approval_ttl_s
    if action.status == "AWAITING_APPROVAL" and time.time() - action.created_at > ttl:
        entry = HistoryEntry(
            status="EXPIRED", at=time.time(), by="api", error=f"not approved within {ttl:g}s"
        )
        expired = await state.storage.actions.transition(
            action.tenant_id, action.id, ("AWAITING_APPROVAL",), entry
        )
        raise _not_awaiting(expired or action)


@router.post(
    "/actions/{action_id}/approve",
    response_model=ActionEvent,
    responses=responses(
        *WITH_BODY, 404, 409, e404="no such action for this tenant", e409="not awaiting approval"
    ),
)
async def approve_action(
    body: Approval | None = None,
    action_id: str = Path(pattern=ACTION_ID),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ActionEvent:
    action = await _own(state, tenant, action_id)
    await _expire_if_due(state, action)
    params = None
    if body is not None and body.params is not None:
        try:
            params = ActionSpec(type=action.type, params=body.params).params
        except ValidationError as exc:
            message = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"body.{message}") from exc
    entry = HistoryEntry(
        status="APPROVED",
        at=time.time(),
        by=by(tenant),
        detail={"edited_params": params} if params is not None else None,
    )
    approved = await state.storage.actions.transition(
        tenant.id, action_id, ("AWAITING_APPROVAL",), entry, params=params
    )
    if approved is None:
        raise _not_awaiting(await _own(state, tenant, action_id))
    await state.producer.send_and_wait(
        ACTIONS_EXECUTE.name,
        key=approved.moderator_key.encode(),
        value=approved.model_dump_json().encode(),
    )
    return approved


@router.post(
    "/actions/{action_id}/reject",
    response_model=ActionEvent,
    responses=responses(
        *WITH_BODY, 404, 409, e404="no such action for this tenant", e409="not awaiting approval"
    ),
)
async def reject_action(
    body: Rejection,
    action_id: str = Path(pattern=ACTION_ID),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> ActionEvent:
    action = await _own(state, tenant, action_id)
    await _expire_if_due(state, action)
    entry = HistoryEntry(
        status="REJECTED", at=time.time(), by=by(tenant), error=body.reason or None
    )
    rejected = await state.storage.actions.transition(
        tenant.id, action_id, ("AWAITING_APPROVAL",), entry
    )
    if rejected is None:
        raise _not_awaiting(await _own(state, tenant, action_id))
    return rejected
