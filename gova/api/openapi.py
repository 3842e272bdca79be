"""The OpenAPI document, made to say what this deployment really accepts.

Some limits are settings (GOVA_MAX_CONTENT_CHARS, GOVA_LLM_ALLOWED_HOSTS) or rules the
shared ContentEvent model does not carry (which modalities are enabled), so the route code
enforces them. Left out of the document, a schema-valid request would be refused: this
fills them in, once per app, from that app's settings.

Request models mark a keyword whose value is a setting with `from_settings(maxLength=
"max_content_chars")`; the rest is set here, by component name (a renamed model fails
loudly, with a KeyError on the first request for the document).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from gova.api.moderate import ENABLED_MODALITIES
from gova.api.review import base_url_pattern
from gova.settings import Settings

MARK = "x-gova-setting:"
# An operation carrying this answers invalid requests with another status (Perspective: 400).
NO_422 = "x-gova-no-422"


def from_settings(**keywords: str) -> dict[str, str]:
    """`json_schema_extra` marking keywords whose values are settings, named by attribute."""
    return {f"{MARK}{keyword}": setting for keyword, setting in keywords.items()}


def install(app: FastAPI, settings: Settings) -> None:
    """Serve `app`'s document with this deployment's limits filled in."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            _fill_settings(document, settings)
            _deployment_rules(document["components"]["schemas"], settings)
            for operations in document["paths"].values():
                for operation in operations.values():
                    if operation.pop(NO_422, False):
                        operation["responses"].pop("422", None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _fill_settings(node: Any, settings: Settings) -> None:
    if isinstance(node, dict):
        for key in [k for k in node if isinstance(k, str) and k.startswith(MARK)]:
            node[key.removeprefix(MARK)] = getattr(settings, node.pop(key))
        for value in node.values():
            _fill_settings(value, settings)
    elif isinstance(node, list):
        for value in node:
            _fill_settings(value, settings)


def _deployment_rules(schemas: dict[str, Any], settings: Settings) -> None:
    event = schemas["ContentEvent"]["properties"]
    event["contentType"]["enum"] = sorted(ENABLED_MODALITIES)
    text_limit = settings.max_content_chars
    if not ENABLED_MODALITIES - {"text"}:
        event["content"]["maxLength"] = min(event["content"]["maxLength"], text_limit)
    else:  # the text limit is text's alone; a file's limit counts decoded bytes (a 413)
        schemas["ContentEvent"]["allOf"] = [
            {
                "if": {"properties": {"contentType": {"const": "text"}}},
                "then": {"properties": {"content": {"maxLength": text_limit}}},
            }
        ]
        event["content"]["description"] = (
            f"text: at most {text_limit:,} characters (GOVA_MAX_CONTENT_CHARS); image or "
            f"audio: base64 or a data: URL of at most {settings.image_max_bytes:,} / "
            f"{settings.audio_max_bytes:,} bytes once decoded (GOVA_IMAGE_MAX_BYTES / "
            "GOVA_AUDIO_MAX_BYTES; over them, 413)"
        )

    allowed = {h.strip() for h in settings.llm_allowed_hosts.split(",") if h.strip()}
    schemas["LLMSettings"]["properties"]["base_url"]["pattern"] = base_url_pattern(allowed)
    if settings.webhook_hosts:  # beside the URL's own pattern: one of these hosts
        url = schemas["WebhookTarget"]["properties"]["url"]
        url["allOf"] = [{"pattern": base_url_pattern(set(settings.webhook_hosts))}]
