"""`POST /v1/moderations` in OpenAI's format, so its clients work pointed at Gova.

Scores come from Gova's own text model and flags from the tenant's policy, so a client
switching from OpenAI keeps its code and gets this deployment's thresholds. Errors use
OpenAI's envelope, which its SDK turns into its own exception classes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gova.api import image_scoring, media_in, text_scoring
from gova.api.auth import Tenant, current_tenant
from gova.api.body_limit import BodyLimitedRoute
from gova.api.errors import AUTHENTICATED, WITH_BODY, OpenAIError, responses
from gova.api.openapi import from_settings
from gova.api.policy import effective
from gova.api.ratelimit import charge
from gova.api.state import ApiState, get_state
from gova.models.text import OPENAI_CATEGORIES
from gova.storage import UNAVAILABLE

MAX_INPUTS = 100
ONLY_DATA_URLS = (
    "image_url.url must be a data: URL with base64 content (data:image/png;base64,...): "
    "this server fetches no URLs"
)
# Where an image part's scores go in OpenAI's taxonomy (the image model's categories).
IMAGE_CATEGORIES = ("sexual", "violence/graphic")


Render = Callable[[int, str, str | None, Mapping[str, str] | None], JSONResponse]


def _field(error: dict) -> str:
    """A validation error's field, as the request body names it."""
    loc = [str(p) for p in error["loc"]]
    if error["type"] == "json_invalid" or loc == ["body"]:
        return "body"
    return ".".join(loc[1:] if loc[0] in ("body", "query") else loc)


def _param(message: str) -> str | None:
    """The field a "field: problem" message names, if it names one."""
    field, sep, _ = message.partition(": ")
    return field.removeprefix("body.") if sep and " " not in field else None


def enveloped(render: Render) -> type[BodyLimitedRoute]:
    """A route class answering its router's errors with `render` instead of the app's
    `{"detail"}`: compatible clients parse their own API's error shape, and the app's
    handlers see only what escapes a route."""

    class Enveloped(BodyLimitedRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    errors = exc.errors()
                    fields = [_field(e) for e in errors]
                    message = "; ".join(
                        f"{f}: {e['msg']}" for f, e in zip(fields, errors, strict=True)
                    )
                    return render(422, message, fields[0] if fields else None, None)
                except StarletteHTTPException as exc:  # FastAPI raises some as Starlette's
                    detail = str(exc.detail)
                    return render(exc.status_code, detail, _param(detail), exc.headers)
                except UNAVAILABLE:
                    return render(503, "database unavailable; retry shortly", None, None)

            return route

    return Enveloped


def _openai_error(
    code: int, message: str, param: str | None, headers: Mapping[str, str] | None
) -> JSONResponse:
    kind, err_code = {
        401: ("invalid_request_error", "invalid_api_key"),
        429: ("requests", "rate_limit_exceeded"),
    }.get(code, ("server_error" if code >= 500 else "invalid_request_error", None))
    body = {"error": {"message": message, "type": kind, "param": param, "code": err_code}}
    return JSONResponse(body, status_code=code, headers=headers)


router = APIRouter(
    prefix="/v1",
    tags=["compatibility"],
    route_class=enveloped(_openai_error),
    responses=responses(*AUTHENTICATED, *WITH_BODY, model=OpenAIError),
)

# One text's schema: its limit is a setting, checked by `_texts` with OpenAI-style messages.
_TEXT = {"type": "string", **from_settings(maxLength="max_content_chars")}
Text = Annotated[str, WithJsonSchema(_TEXT)]
Texts = Annotated[
    list[str], WithJsonSchema({"type": "array", "items": _TEXT, "maxItems": MAX_INPUTS})
]


class TextPart(BaseModel):
    # JSON types as declared: lax pydantic would also read 0 as false or "5" as 5.
    model_config = ConfigDict(strict=True)

    type: Literal["text"]
    text: str = Field(
        description="the parts' texts are joined with newlines into one input, whose length "
        "is limited as one text's",
        json_schema_extra=from_settings(maxLength="max_content_chars"),
    )


class ImageURL(BaseModel):
    model_config = ConfigDict(strict=True)

    url: str = Field(
        pattern=r"^data:image/[A-Za-z0-9.+-]+;base64,",
        description="a data: URL (base64): the server fetches no URLs",
    )


class ImagePart(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["image_url"]
    image_url: ImageURL


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ModerationRequest(BaseModel):
    # JSON types as declared: lax pydantic would also read 0 as false or "5" as 5.
    model_config = ConfigDict(strict=True)

    input: Text | Texts | list[Part] = Field(
        description="a text, a list of texts (one result each), or one input as typed parts: "
        "text, and images as data: URLs (sexual and violence/graphic scored by the image model)"
    )
    model: str | None = Field(None, description="accepted and echoed; Gova's model answers")

    @field_validator("input", mode="wrap")
    @classmethod
    def _one_message(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One error naming the accepted forms, not one per member of the union."""
        try:
            return handler(value)
        except ValidationError as exc:
            if isinstance(value, list) and any(_is_remote_image(p) for p in value):
                raise PydanticCustomError("image_url", ONLY_DATA_URLS) from exc
            raise PydanticCustomError(
                "input_form",
                "must be a string, a list of strings, or a list of typed parts "
                '({"type": "text", "text": ...})',
            ) from exc


def _is_remote_image(part: Any) -> bool:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return False
    url = part.get("image_url", {}).get("url") if isinstance(part.get("image_url"), dict) else None
    return not (isinstance(url, str) and url.startswith("data:"))


async def _with_images(
    body: ModerationRequest, results: list[dict], policy, state: ApiState, tenant_id: str
) -> list[dict]:
    """A parts input's result with its images' scores: each image category's score is the
    highest of the text's and the images', and `category_applied_input_types` says which."""
    if not isinstance(body.input, list) or not results:
        return results
    urls = [p.image_url.url for p in body.input if isinstance(p, ImagePart)]
    if not urls:
        return results
    await charge(state, tenant_id, len(urls))
    scored = await image_scoring.score_data_urls(urls, state, "input")
    result = results[0]
    has_text = any(isinstance(p, TextPart) for p in body.input)
    for c in IMAGE_CATEGORIES:
        image = max(s[c] for s in scored)
        result["category_scores"][c] = max(float(result["category_scores"].get(c, 0.0)), image)
        limit = policy.thresholds.get(c)
        result["categories"][c] = result["categories"].get(c, False) or (
            limit is not None and image >= limit
        )
        result["category_applied_input_types"][c] = [*(["text"] if has_text else []), "image"]
    result["flagged"] = any(result["categories"].values())
    return results


def _texts(body: ModerationRequest, max_chars: int) -> list[str]:
    """One text per result: a list of typed parts is one input, as OpenAI treats it."""
    per_item = isinstance(body.input, list) and all(isinstance(x, str) for x in body.input)
    if isinstance(body.input, str):
        texts = [body.input]
    elif per_item:
        texts = list(body.input)
    else:
        texts = ["\n".join(p.text for p in body.input if isinstance(p, TextPart))]
    if len(texts) > MAX_INPUTS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, f"input: at most {MAX_INPUTS} inputs per request"
        )
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            where = f"input.{i}" if per_item else "input"
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY, f"{where}: longer than {max_chars} characters"
            )
    return texts


@router.post("/moderations", summary="Classify texts, in OpenAI's moderation API format")
async def moderations(
    body: ModerationRequest,
    tenant: Tenant = Depends(current_tenant),
    state: ApiState = Depends(get_state),
) -> dict:
    texts = _texts(body, state.settings.max_content_chars)
    await charge(state, tenant.id, len(texts))
    model = await text_scoring.classifier()
    policy = effective(tenant.policy, state)
    results = []
    for scores, ranked in await text_scoring.moderations(texts):
        # A category is true where Gova's own score for it reaches the tenant's threshold,
        # and `flagged` exactly when one is, as in OpenAI's API. Gova's verdict may also flag
        # toxicity, insult, profanity or threat, which OpenAI's schema lacks (README).
        categories = {
            c: c in policy.thresholds and float(scores.get(c, 0.0)) >= policy.thresholds[c]
            for c in OPENAI_CATEGORIES
        }
        results.append(
            {
                "flagged": any(categories.values()),
                "categories": categories,
                # Ranked across categories: their maximum is the any-unsafe probability.
                "category_scores": ranked,
                "category_applied_input_types": {c: ["text"] for c in OPENAI_CATEGORIES},
            }
        )
    if isinstance(body.input, list) and any(isinstance(p, ImagePart) for p in body.input):
        image_policy = media_in.policy_for_images(tenant.policy, state)
        results = await _with_images(body, results, image_policy, state, tenant.id)
    return {
        "id": f"modr-{uuid.uuid4().hex}",
        "model": body.model or f"gova-text-{model.name}",
        "results": results,
    }
