"""`POST /api/v1/moderate` takes its ContentEvent as JSON, or as a multipart upload.

A multipart form has the event's fields (`id`, `userId`, `contentType`, optionally
`metadata` as JSON text) and the file itself as `file` (for text: `content`), plus up to
MAX_ATTACHMENTS `attachment` files (their type read from their bytes). It is turned into the
same ContentEvent as the JSON form (files as base64), so both meet the same checks, limits
and messages. The key is checked before the body is read.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from gova.api.auth import Tenant, current_tenant
from gova.api.content_in import ContentEvent
from gova.media.sniff import sniff
from gova.schemas.content import MAX_ATTACHMENTS

MULTIPART = "multipart/form-data"
FIELDS = ("id", "userId", "contentType", "content", "metadata")

_FORM_SCHEMA = {
    "type": "object",
    "required": ["id", "userId", "contentType"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "userId": {"type": "string"},
        "contentType": {"type": "string", "enum": ["text", "image", "audio"]},
        "content": {"type": "string", "description": "the text, for a text item"},
        "metadata": {"type": "string", "description": "ContentMetadata as JSON text"},
        "file": {"type": "string", "format": "binary", "description": "the image or audio"},
        "attachment": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "maxItems": MAX_ATTACHMENTS,
        },
    },
}
#: The route's request body in the document: the JSON ContentEvent or the multipart form.
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ContentEvent"}},
            MULTIPART: {"schema": _FORM_SCHEMA},
        },
    }
}


def _invalid(errors: list[dict]) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e.get("loc", ()))} for e in errors])


def _validated(data: Any) -> ContentEvent:
    try:
        return ContentEvent.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc.errors(include_url=False)) from None


async def _from_form(request: Request) -> dict:
    max_part = request.app.state.gova.settings.media_body_bytes
    form = await request.form(max_files=1 + MAX_ATTACHMENTS, max_fields=32, max_part_size=max_part)
    unknown = sorted(set(form.keys()) - {*FIELDS, "file", "attachment"})
    if unknown:
        raise _invalid(
            [
                {"type": "extra_forbidden", "loc": (k,), "msg": "Extra inputs are not permitted"}
                for k in unknown
            ]
        )
    data: dict[str, Any] = {k: v for k, v in form.items() if k in FIELDS and isinstance(v, str)}
    if "metadata" in data:
        try:
            data["metadata"] = json.loads(data["metadata"])
        except ValueError:
            raise _invalid(
                [{"type": "json_invalid", "loc": ("metadata",), "msg": "not JSON text"}]
            ) from None
    upload = form.get("file")
    if isinstance(upload, UploadFile):
        data["content"] = base64.b64encode(await upload.read()).decode()
    attachments = []
    for part in form.getlist("attachment"):
        if isinstance(part, UploadFile):
            raw = await part.read()
            found = sniff(raw)
            attachments.append(
                {
                    "contentType": found[0] if found else "image",
                    "content": base64.b64encode(raw).decode(),
                }
            )
    if attachments:
        data["attachments"] = attachments
    return data


async def content_event(request: Request, _: Tenant = Depends(current_tenant)) -> ContentEvent:
    """The request's ContentEvent, from JSON or a multipart form; 422s as FastAPI words them."""
    if request.headers.get("content-type", "").startswith(MULTIPART):
        return _validated(await _from_form(request))
    body = await request.body()
    if not body:
        raise _invalid([{"type": "missing", "loc": (), "msg": "Field required", "input": None}])
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise _invalid(
            [
                {
                    "type": "json_invalid",
                    "loc": (exc.pos,),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    except ValueError:  # not UTF-8: as FastAPI answers an unreadable body
        raise HTTPException(400, "There was an error parsing the body") from None
    return _validated(data)
