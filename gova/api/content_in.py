"""The ContentEvent the API takes: the shared model, `metadata.timestamp` read strictly.

pydantic's lax datetime reads far more than the `date-time` the document declares (Unix
seconds, "0", a bare date, no time zone), so a client could not tell from the document what
is accepted. The pipeline never reads the timestamp: it is the platform's own record, and
it is now taken only as what it claims to be, an RFC 3339 date-time. The classes keep the
shared names, so the OpenAPI components are still `ContentEvent` and `ContentMetadata`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from gova.schemas import content as shared

# RFC 3339 `date-time`: a time zone is required, and digits are ASCII ones only.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: Any) -> Any:
    if value is None or (isinstance(value, str) and _RFC3339.fullmatch(value)):
        return value
    raise PydanticCustomError(
        "datetime_format", "must be an RFC 3339 date-time with a time zone (2024-05-01T12:00:00Z)"
    )


class ContentMetadata(shared.ContentMetadata):
    timestamp: Annotated[datetime | None, BeforeValidator(_rfc3339)] = None


class ContentEvent(shared.ContentEvent):
    metadata: ContentMetadata = Field(default_factory=ContentMetadata)
