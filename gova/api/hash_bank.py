"""A tenant's bank of known-bad images, as PDQ hashes (the shape of Meta HMA's banks).

An image submitted later whose PDQ hash lies within GOVA_PDQ_MATCH_DISTANCE of an entry is
scored 1.0 in the entry's category without running the classifier, and its verdict names the
entry. Entries are added by hash (64 hex digits, from HMA or any PDQ tool that writes the
256 bits most significant first) or by image (hashed here). Every entry belongs to one
tenant: no other tenant lists, matches or removes it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gova.api import media_in
from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, WITH_PARAMS, responses
from gova.api.state import ApiState, get_state
from gova.models.text import ALL_TEXT_CATEGORIES
from gova.storage.interface import BankEntry

router = APIRouter(
    prefix="/api/v1",
    tags=["hash bank"],
    route_class=BodyLimitedRoute,
    responses=responses(*AUTHENTICATED),
)
PDQ = r"^[0-9a-f]{64}$"
ENTRY_ID = r"^hb_[0-9a-f]{16}$"
CATEGORIES = sorted({*ALL_TEXT_CATEGORIES, "sexual", "violence/graphic"})


class ImageOrHash(BaseModel):
    """Exactly one of `pdq` and `image`."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["pdq"]}, {"required": ["image"]}]}
    )

    # Not nullable: a key given is a value given (the document's oneOf says so too).
    pdq: str = Field(None, pattern=PDQ, description="a PDQ hash, 64 lowercase hex digits")
    image: str = Field(
        None, min_length=1, description="an image (base64 or a data: URL), hashed here"
    )

    @model_validator(mode="after")
    def _one(self) -> ImageOrHash:
        if (self.pdq is None) == (self.image is None):
            raise ValueError("give exactly one of `pdq` and `image`")
        return self


class NewEntry(ImageOrHash):
    label: str = Field("", max_length=200, pattern=r"^[^\x00]*$")
    category: str = Field(
        "sexual",
        json_schema_extra={"enum": CATEGORIES},
        description="the category a match is scored 1.0 in",
    )


class Entry(BaseModel):
    id: str
    pdq: str
    label: str
    category: str
    created_at: float


class EntryPage(BaseModel):
    items: list[Entry]
    next: str | None = Field(description="`after` for the next page; null on the last")


class Match(BaseModel):
    match: Entry | None
    distance: int | None
    pdq: str = Field(description="the hash that was looked up")
    max_distance: int


def _entry(e: BankEntry) -> Entry:
    return Entry(
        id=e.id, pdq=e.pdq, label=e.label, category=e.category, created_at=e.created_at.timestamp()
    )


async def _hash_of(body: ImageOrHash, state: ApiState) -> str:
    if body.pdq is not None:
        return body.pdq
    media_in.check_enabled("image", "body.image")
    data = media_in.decode_base64("image", body.image or "", state, "body.image")
    media = await media_in.inspected("image", data, state, "body.image")
    from gova.media.inspect import image_frames
    from gova.models.image import pdq

    frames = await asyncio.to_thread(image_frames, data, media.format, state.settings, sample=1)
    return (await asyncio.to_thread(pdq, frames[0]))[0]


@router.post(
    "/hash-bank/entries",
    status_code=201,
    response_model=Entry,
    responses=responses(*WITH_BODY),
)
async def add_entry(
    body: NewEntry,
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> Entry:
    if body.category not in CATEGORIES:
        raise HTTPException(
            422,
            f"body.category: {body.category!r} is not a category (one of {CATEGORIES})",
        )
    pdq_hex = await _hash_of(body, state)
    return _entry(await state.storage.media.bank_add(tenant.id, pdq_hex, body.label, body.category))


@router.get("/hash-bank/entries", response_model=EntryPage, responses=responses(*WITH_PARAMS))
async def list_entries(
    after: str | None = Query(None, pattern=ENTRY_ID, description="`next` of the last page"),
    limit: int = Query(100, ge=1, le=1000),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> EntryPage:
    found = await state.storage.media.bank_list(tenant.id, limit=limit + 1, after=after)
    page = found[:limit]
    return EntryPage(
        items=[_entry(e) for e in page], next=page[-1].id if len(found) > limit else None
    )


@router.delete(
    "/hash-bank/entries/{entry_id}",
    status_code=204,
    response_class=Response,
    responses=responses(*WITH_PARAMS, 404, e404="no such entry for this tenant"),
)
async def remove_entry(
    entry_id: str = Path(pattern=ENTRY_ID),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> Response:
    if not await state.storage.media.bank_remove(tenant.id, entry_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no entry {entry_id!r} for this tenant")
    return Response(status_code=204)


@router.post("/hash-bank/match", response_model=Match, responses=responses(*WITH_BODY))
async def match(
    body: ImageOrHash,
    max_distance: int | None = Query(None, ge=0, le=256, description="default: the deployment's"),
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> Match:
    pdq_hex = await _hash_of(body, state)
    limit = state.settings.pdq_match_distance if max_distance is None else max_distance
    found = await state.storage.media.bank_match(tenant.id, pdq_hex, limit)
    return Match(
        match=_entry(found[0]) if found else None,
        distance=found[1] if found else None,
        pdq=pdq_hex,
        max_distance=limit,
    )
