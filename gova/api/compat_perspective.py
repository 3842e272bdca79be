"""`POST /v1alpha1/comments:analyze` in Perspective API's format, for its existing clients.

Attributes map onto Gova's text categories: TOXICITY→toxicity, IDENTITY_ATTACK→hate,
INSULT→insult, PROFANITY→profanity, THREAT→threat. SEVERE_TOXICITY has no head of its own:
it is derived as toxicity × max(insult, profanity, threat, hate), high only where the text
is both toxic and specifically abusive. Categories the loaded model does not score read 0.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Security, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from gova.api import text_scoring
from gova.api.auth import MISSING_KEY, Tenant, authenticate, bearer, unauthorised
from gova.api.compat_openai import enveloped
from gova.api.errors import AUTHENTICATED, PerspectiveError, responses
from gova.api.openapi import NO_422, from_settings
from gova.api.ratelimit import charge
from gova.api.state import ApiState, get_state

log = logging.getLogger(__name__)

Scores = Mapping[str, float]


def _severe(s: Scores) -> float:
    abuse = max(s.get(c, 0.0) for c in ("insult", "profanity", "threat", "hate"))
    return s.get("toxicity", 0.0) * abuse


ATTRIBUTES: dict[str, Callable[[Scores], float]] = {
    "TOXICITY": lambda s: s.get("toxicity", 0.0),
    "SEVERE_TOXICITY": _severe,
    "IDENTITY_ATTACK": lambda s: s.get("hate", 0.0),
    "INSULT": lambda s: s.get("insult", 0.0),
    "PROFANITY": lambda s: s.get("profanity", 0.0),
    "THREAT": lambda s: s.get("threat", 0.0),
}
# Perspective's own status names, which its clients read.
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
# A sentence: up to punctuation followed by whitespace, or to the end of the line.
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.MULTILINE)


def _perspective_error(
    code: int, message: str, param: str | None, headers: Mapping[str, str] | None
) -> JSONResponse:
    code = 400 if code == 422 else code  # Perspective refuses every bad request with 400
    body = {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}
    return JSONResponse(body, status_code=code, headers=headers)


router = APIRouter(
    prefix="/v1alpha1",
    tags=["compatibility"],
    route_class=enveloped(_perspective_error),
    responses=responses(
        400,
        413,
        *AUTHENTICATED,
        model=PerspectiveError,
        e400="the request is invalid (Perspective answers every invalid request with 400)",
    ),
)
key_query = APIKeyQuery(
    name="key",
    auto_error=False,
    scheme_name="key",
    description="The API key as Perspective's clients send it, when there is no bearer header.",
)


def _either_case(word: str) -> str:
    """A pattern for `word` in any letter case: the route upper-cases what it reads."""
    return "".join(f"[{c}{c.lower()}]" if c.isalpha() else c for c in word)


# What `analyze` checks, written into the schema (the code keeps Perspective's messages).
class Comment(BaseModel):
    # JSON types as declared: lax pydantic would also read 0 as false or "5" as 5.
    model_config = ConfigDict(strict=True)

    text: str = Field(
        json_schema_extra={"pattern": r"\S", **from_settings(maxLength="max_content_chars")},
        description="not blank",
    )
    type: str = Field(
        "PLAIN_TEXT", json_schema_extra={"pattern": f"^{_either_case('PLAIN_TEXT')}$"}
    )


# Field names are Perspective's own, camelCase included.
class AttributeParameters(BaseModel):
    # JSON types as declared: lax pydantic would also read 0 as false or "5" as 5.
    model_config = ConfigDict(strict=True)

    scoreType: str = Field(
        "PROBABILITY", json_schema_extra={"pattern": f"^{_either_case('PROBABILITY')}$"}
    )
    scoreThreshold: float | None = Field(None, ge=0.0, le=1.0)


ATTRIBUTE_NAMES = "^(?:" + "|".join(_either_case(name) for name in ATTRIBUTES) + ")$"


class AnalyzeRequest(BaseModel):
    # JSON types as declared: lax pydantic would also read 0 as false or "5" as 5.
    model_config = ConfigDict(strict=True)

    comment: Comment
    requestedAttributes: dict[str, AttributeParameters] = Field(
        json_schema_extra={"minProperties": 1, "propertyNames": {"pattern": ATTRIBUTE_NAMES}},
        description=f"at least one of {', '.join(ATTRIBUTES)} (any letter case)",
    )
    languages: list[str] | None = None
    doNotStore: bool = False  # Gova never stores these anyway
    spanAnnotations: bool = False
    clientToken: str | None = None
    context: dict[str, Any] | None = None
    sessionId: str | None = None
    communityId: str | None = None


def _invalid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, message)


async def perspective_tenant(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    key: str | None = Security(key_query),
    state: ApiState = Depends(get_state),
) -> Tenant:
    """The Bearer key, else `?key=`: the same lookup, cache and throttle as every other route."""
    if request.headers.get("authorization"):
        if credentials is None:
            raise unauthorised(MISSING_KEY)
        return await authenticate(request, credentials.credentials, state)
    if not (key := (key or "").strip()):
        raise unauthorised("missing API key: send 'Authorization: Bearer <key>' or '?key=<key>'")
    return await authenticate(request, key, state)


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.start() + len(m.group().rstrip())) for m in _SENTENCE.finditer(text)]
    return spans or [(0, len(text))]


async def _detected(text: str) -> list[str]:
    """The detected language; "en" without a detector, if it fails or cannot tell."""
    try:
        from gova.models.language import detect_language
    except ImportError:
        return ["en"]
    try:
        language = await asyncio.to_thread(detect_language, text)
    except Exception as exc:  # a detector fault should not fail moderation
        log.warning("language detection failed: %s", exc)
        return ["en"]
    return [language.code] if language.code not in ("", "und") else ["en"]


def _score(value: float) -> dict:
    return {"value": float(value), "type": "PROBABILITY"}


@router.post(
    "/comments:analyze",
    openapi_extra={NO_422: True},
    summary="Score a comment, in Perspective API's format",
    description="Authenticate with `Authorization: Bearer <key>` or `?key=<key>`. "
    f"Supported attributes: {', '.join(ATTRIBUTES)}.",
)
async def analyze(
    body: AnalyzeRequest,
    tenant: Tenant = Depends(perspective_tenant),
    state: ApiState = Depends(get_state),
) -> dict:
    text = body.comment.text
    if not text.strip():
        raise _invalid("comment.text: must be non-empty")
    if len(text) > state.settings.max_content_chars:
        raise _invalid(f"comment.text: longer than {state.settings.max_content_chars} characters")
    if body.comment.type.upper() != "PLAIN_TEXT":
        raise _invalid(f"comment.type: {body.comment.type} is not supported; send PLAIN_TEXT")
    if not body.requestedAttributes:
        raise _invalid(f"requestedAttributes: request at least one of: {', '.join(ATTRIBUTES)}")
    languages = body.languages or []
    requested: dict[str, AttributeParameters] = {}
    # Every entry is checked before names are folded: `toxicity` and `TOXICITY` are one
    # attribute, but a bad scoreType on either is still refused.
    for given, params in body.requestedAttributes.items():
        name = given.upper()
        if name not in ATTRIBUTES:
            raise _invalid(
                f"Attribute {name} does not support request languages: "
                f"{', '.join(languages) or 'en'} (supported: {', '.join(ATTRIBUTES)})"
            )
        if params.scoreType.upper() != "PROBABILITY":
            raise _invalid(f"Attribute {name}: scoreType {params.scoreType} is not supported")
        requested[name] = params

    await charge(state, tenant.id, 1)
    if body.spanAnnotations:
        spans = _sentences(text)
        whole, *parts = await text_scoring.score([text, *(text[b:e] for b, e in spans)])
    else:
        spans = [(0, len(text))]
        [whole] = parts = await text_scoring.score([text])
    detected = await _detected(text)

    attribute_scores = {}
    for name, params in requested.items():
        summary = ATTRIBUTES[name](whole)
        if params.scoreThreshold is not None and summary < params.scoreThreshold:
            continue
        attribute_scores[name] = {
            "spanScores": [
                {"begin": b, "end": e, "score": _score(ATTRIBUTES[name](s))}
                for (b, e), s in zip(spans, parts, strict=True)
            ],
            "summaryScore": _score(summary),
        }
    answer: dict[str, Any] = {
        "attributeScores": attribute_scores,
        "languages": body.languages or detected,
        "detectedLanguages": detected,
    }
    if body.clientToken is not None:
        answer["clientToken"] = body.clientToken
    return answer
