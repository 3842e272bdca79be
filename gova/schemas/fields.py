"""Field types shared by API models and the records they become."""

from __future__ import annotations

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
