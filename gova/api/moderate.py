"""Submitting content and reading verdicts."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gova import cache
from gova.api import content_upload, media_in
from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.content_in import ContentEvent
from gova.api.errors import AUTHENTICATED, WITH_BODY, WITH_PARAMS, responses
from gova.api.policy import effective
from gova.api.review import context_dependent
from gova.api.state import ApiState, get_state
from gova.schemas import Submission
from gova.storage import UNAVAILABLE
from gova.streams import CONTENT_RAW

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/v1",
    tags=["moderation"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)

# The stages that exist; anything else is refused rather than accepted and never processed.
ENABLED_MODALITIES = media_in.modalities()
# While waiting, look in the database this often too, in case a wake-up was missed.
POLL_S = 1.0


MAX_BATCH_ITEMS = 100
# Ids as ContentEvent takes them: no other id can have a verdict.
_ID = ContentEvent.model_fields["id"]
ID_PATTERN = next(m.pattern for m in _ID.metadata if getattr(m, "pattern", None))
ID_MAX = next(m.max_length for m in _ID.metadata if getattr(m, "max_length", None))


class BatchRequest(BaseModel):
    items: list[ContentEvent] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="an id given twice is one item (the first), as an id sent again is",
    )


def _status_url(request: Request, content_id: str) -> str:
    return str(request.url_for("get_content", content_id=content_id))


def _check(event: ContentEvent, state: ApiState, where: str = "body") -> None:
    media_in.check_enabled(event.content_type, where)  # names the extra to install
    if event.content_type not in ENABLED_MODALITIES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            detail=f"{where}.contentType: modality not enabled: {event.content_type!r} content "
            f"is not processed by this deployment yet (enabled: {sorted(ENABLED_MODALITIES)})",
        )
    if event.content_type == "text" and len(event.content) > state.settings.max_content_chars:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            detail=f"{where}.content: longer than {state.settings.max_content_chars} characters",
        )


async def submit(state: ApiState, tenant: Tenant, events: list[ContentEvent]) -> None:
    # Image and audio: checked, stored once, and passed on by reference (413/422 if not).
    accepted = await media_in.accept(state, tenant.id, events)
    now = time.time()
    policy = effective(tenant.policy, state)
    review_all = policy.model_copy(update={"review_band": (0.0, 1.0)})
    subs = [
        Submission(
            tenant_id=tenant.id,
            event=media_in.referenced(e, accepted.get(e.id)),
            received_at=now,
            policy=media_in.policy_for(
                e,
                review_all if await context_dependent(state, tenant.id, e) else policy,
                tenant.policy,
                state,
            ),
            **media_in.media_fields(accepted.get(e.id), tenant.policy, state),
        )
        for e in events
    ]
    await cache.mark_pending(state.redis, tenant.id, [e.id for e in events])
    try:
        # Acknowledged by the broker before we answer: an accepted item is never lost.
        await asyncio.gather(
            *(
                state.producer.send_and_wait(
                    CONTENT_RAW.name,
                    key=s.key.encode(),
                    value=s.model_dump_json(by_alias=True).encode(),
                )
                for s in subs
            )
        )
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the message broker did not accept the item ({type(exc).__name__}); retry",
        ) from exc


async def _await_verdicts(
    state: ApiState, tenant: Tenant, ids: list[str], new: list[ContentEvent]
) -> dict[str, dict]:
    """Submit, then wait for the outcomes of `ids` until the deadline; return those found.

    Wake-ups come over Redis; a quiet second (a missed wake-up, Redis away) sends us to the
    database instead, so a verdict is found either way.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.wait_timeout_s
    registered = {cid: state.waiters.register(tenant.id, cid) for cid in ids}
    waiting = dict(registered)
    found: dict[str, dict] = {}
    try:
        await submit(state, tenant, new)
        while waiting and (left := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait(waiting.values(), timeout=min(left, POLL_S))
            for cid, fut in list(waiting.items()):
                if fut in done:
                    found[cid] = waiting.pop(cid).result()
                elif not done and (known := await _outcome_or_none(state, tenant.id, cid)):
                    found[cid] = known
                    waiting.pop(cid)
    finally:
        for cid, fut in registered.items():
            state.waiters.discard(tenant.id, cid, fut)
    for cid in ids:
        if cid not in found and (known := await _outcome_or_none(state, tenant.id, cid)):
            found[cid] = known
    return found


async def _outcome(state: ApiState, tenant_id: str, content_id: str) -> dict | None:
    """The stored verdict, else the failure if the item was dead-lettered, else None."""
    if stored := await state.storage.verdicts.get(tenant_id, content_id):
        taken = await state.storage.actions.for_content(tenant_id, content_id)
        stored["actions"] = [{"id": a.id, "type": a.type, "status": a.status} for a in taken]
        return stored
    return await state.storage.dead_letters.failure(tenant_id, content_id)


async def _outcome_or_none(state: ApiState, tenant_id: str, content_id: str) -> dict | None:
    """As `_outcome`, but a database outage reads as "not yet" while a caller waits."""
    try:
        return await _outcome(state, tenant_id, content_id)
    except UNAVAILABLE:
        return None


async def stored_or_none(state: ApiState, tenant_id: str, ids: list[str]) -> dict[str, dict]:
    """Verdicts already stored for `ids`, or none while the database is away: items are still
    accepted then (the broker keeps them, the worker stores them once it is back), and
    idempotent writes keep a duplicate from ever making a second row."""
    try:
        return await state.storage.verdicts.get_many(tenant_id, ids)
    except UNAVAILABLE as exc:
        log.warning("duplicate check skipped, database unavailable: %s", exc)
        return {}


def _done(outcome: dict) -> dict:
    """A verdict is `done`; a dead-lettered item keeps its `failed` status and error."""
    return {"status": "done", **outcome}


def _pending(request: Request, content_id: str) -> dict:
    return {"status": "pending", "id": content_id, "status_url": _status_url(request, content_id)}


@router.post(
    "/moderate",
    responses={
        202: {"description": "accepted; poll status_url"},
        200: {"description": "verdict"},
        **responses(*WITH_BODY),
    },
    openapi_extra=content_upload.REQUEST_BODY,  # JSON, or a multipart upload of the file
)
async def moderate(
    request: Request,
    event: ContentEvent = Depends(content_upload.content_event),
    wait: bool = Query(False, description="answer with the verdict instead of 202"),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> JSONResponse:
    return await answer(state, tenant, event, request, wait=wait)


async def answer(
    state: ApiState, tenant: Tenant, event: ContentEvent, request: Request, *, wait: bool
) -> JSONResponse:
    """One item in: its stored verdict when the id came before (one item, one verdict), else
    accepted — and, with `wait`, its verdict if it comes in time."""
    _check(event, state)
    if stored := (await stored_or_none(state, tenant.id, [event.id])).get(event.id):
        return JSONResponse(_done(stored))  # a duplicate: one item, one verdict
    if wait:
        found = await _await_verdicts(state, tenant, [event.id], [event])
        if event.id in found:
            return JSONResponse(_done(found[event.id]))
    else:
        await submit(state, tenant, [event])
    return JSONResponse(_pending(request, event.id), status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/moderate/batch",
    responses={
        202: {"description": "accepted; some results are pending"},
        200: {"description": "a verdict for every item"},
        **responses(*WITH_BODY),
    },
)
async def moderate_batch(
    body: BatchRequest,
    request: Request,
    wait: bool = Query(False, description="answer with verdicts instead of 202"),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> JSONResponse:
    ids = [e.id for e in body.items]
    for i, event in enumerate(body.items):
        _check(event, state, where=f"body.items.{i}")
    # One item per id, the first given: a repeated id within a batch is a resubmission, as it
    # is across requests (a schema cannot say "unique by id", so it is not refused either).
    first: dict[str, ContentEvent] = {}
    for event in body.items:
        first.setdefault(event.id, event)
    stored = await stored_or_none(state, tenant.id, list(first))
    new = [e for e in first.values() if e.id not in stored]
    if wait and new:
        stored.update(await _await_verdicts(state, tenant, [e.id for e in new], new))
    elif new:
        await submit(state, tenant, new)
    results = [_done(stored[cid]) if cid in stored else _pending(request, cid) for cid in ids]
    all_done = all(cid in stored for cid in ids)
    return JSONResponse(
        {"results": results},
        status_code=status.HTTP_200_OK if all_done else status.HTTP_202_ACCEPTED,
    )


@router.get(
    "/content/{content_id}",
    name="get_content",
    responses={
        202: {"description": "accepted, no verdict yet"},
        200: {"description": "verdict"},
        **responses(*WITH_PARAMS, 404, e404="no such item for this tenant"),
    },
)
async def get_content(
    request: Request,
    content_id: str = Path(max_length=ID_MAX, pattern=ID_PATTERN),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> JSONResponse:
    if known := await _outcome(state, tenant.id, content_id):
        return JSONResponse(_done(known))
    if await cache.is_pending(state.redis, tenant.id, content_id):
        return JSONResponse(_pending(request, content_id), status_code=status.HTTP_202_ACCEPTED)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no content {content_id!r} for this tenant")
