"""Field types shared by API models and the records they become."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict
from pydantic_core import PydanticCustomError

NO_NUL = r"^[^\x00]*$"


def _no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text or JSON: refuse it rather than fail storing it."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL (U+0000) characters")
    return value


# Text kept in the database; the pattern documents what the validator refuses.
StoredText = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL})]


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# A JSON Schema integer: 5 or 5.0, not "5" or true (also inside models that are strict).
JsonInt = Annotated[int, Strict(False), BeforeValidator(_json_integer)]


PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_PARAMS, MAX_PARAM_CHARS = 16, 2_000


def _action_params(params: dict[str, Any]) -> dict[str, Any]:
    if len(params) > MAX_PARAMS:
        raise PydanticCustomError("too_many_params", f"at most {MAX_PARAMS} parameters")
    for name, value in params.items():
        if not PARAM_NAME.match(name):
            raise PydanticCustomError(
                "param_name", "parameter names are a letter, then letters, digits or _ (64 at most)"
            )
        if isinstance(value, str):
            _no_nul(value)
            if len(value) > MAX_PARAM_CHARS:
                raise PydanticCustomError(
                    "param_too_long", f"parameter {name!r} is over {MAX_PARAM_CHARS} characters"
                )
        elif value is not None and not isinstance(value, bool | int | float):
            raise PydanticCustomError(
                "param_value", f"parameter {name!r} must be text, a number, true/false or null"
            )
    return params


# An action's parameters (a TIMEOUT's `duration`, a REPLY's `message`, …): a few named scalar
# values, so that what is stored is what the executors read — no NUL, no nested documents.
ActionParams = Annotated[
    dict[str, Any],
    AfterValidator(_action_params),
    Field(
        json_schema_extra={
            "maxProperties": MAX_PARAMS,
            "propertyNames": {"pattern": PARAM_NAME.pattern},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": MAX_PARAM_CHARS, "pattern": NO_NUL},
                    {"type": ["number", "boolean", "null"]},
                ]
            },
        }
    ),
]
