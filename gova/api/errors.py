"""The error bodies the routers answer with, and the OpenAPI `responses` that declare them.

Every status a route can return is declared with the body it really carries, so generated
clients and contract tests (tests/integration/test_openapi_contract.py) can rely on the
document: Gova's own `{"detail"}`, and the compatibility routers' OpenAI and Perspective
envelopes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ValidationIssue(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="pydantic's error type, e.g. `missing`, `string_too_long`")
    loc: list[str | int] = Field(description="where: `body`, then the path into it")
    msg: str


class ErrorBody(BaseModel):
    """Gova's errors: one readable line, plus each problem when the request failed validation."""

    detail: str = Field(description="what went wrong, naming the field (`body.content: …`)")
    errors: list[ValidationIssue] = Field(
        default_factory=list, description="present on request-validation 422s: every problem"
    )


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="`invalid_request_error`, `requests` or `server_error`")
    param: str | None = Field(description="the request field at fault, where there is one")
    code: str | None = Field(description="`invalid_api_key`, `rate_limit_exceeded` or null")


class OpenAIError(BaseModel):
    """OpenAI's error envelope, which its SDKs turn into their exception classes."""

    error: OpenAIErrorDetail


class PerspectiveErrorDetail(BaseModel):
    code: int = Field(description="the HTTP status again")
    message: str
    status: str = Field(description="Google's canonical status, e.g. `INVALID_ARGUMENT`")


class PerspectiveError(BaseModel):
    """Perspective API's error envelope."""

    error: PerspectiveErrorDetail


WHY = {
    400: "the body is not readable as JSON text (not UTF-8)",
    401: "no API key, or not a live one",
    404: "not found for this tenant",
    409: "the resource is not in a state that allows this (e.g. an action no longer awaiting)",
    413: "the body is larger than GOVA_MAX_BODY_BYTES",
    422: "the request is invalid; the message names the field",
    429: "over the tenant's rate limit, or too many failed API keys from this address",
    503: "a dependency is unavailable (database, broker or model); retry shortly",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the scheme to authenticate with",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}

# What each kind of route can answer besides success.
AUTHENTICATED = (401, 429, 503)
WITH_BODY = (400, 413, 422)
WITH_PARAMS = (422,)


def responses(
    *codes: int, model: type[BaseModel] = ErrorBody, **why: str
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for these statuses with `model` as the body; `why` overrides a description,
    keyed `e404="..."`."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": model, "description": why.get(f"e{code}", WHY[code])}
        if code in HEADERS:
            out[code]["headers"] = HEADERS[code]
    return out
