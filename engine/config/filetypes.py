"""Types in config files are strict: `epochs = "5"` is refused, where `--set epochs=5` is parsed.

A TOML value already has a type, so a quoted number or a `true` written as `1` is a mistake to
report, not a string to convert (pydantic's lax mode would turn "5" into 5 silently). Text typed on
the command line or in the Config screen has no type and goes through `parse_field` instead.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, SecretStr

from ..quoting import quoted, unquoted
from .errors import show_value
from .fieldtext import _split_optional


def _base_type(annotation: Any) -> Any:
    base, _ = _split_optional(annotation)
    while typing.get_origin(base) is Annotated:
        base = typing.get_args(base)[0]
    return base


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({unquoted(str(value))})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({quoted(value)})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__  # dates and times: TOML has them, no field takes them


def file_type_problem(model: type[BaseModel], name: str, value: Any) -> str | None:
    """Why `value`, as read from a TOML file, has the wrong type for field `name`; None when it fits."""
    base = _base_type(model.model_fields[name].annotation)
    if base is bool:
        ok, wanted = isinstance(value, bool), "true or false"
    elif base is int:
        ok, wanted = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif base is float:
        ok, wanted = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif base in (str, Path, SecretStr) or typing.get_origin(base) is Literal:
        ok, wanted = isinstance(value, str), "a string"
    else:
        return None
    if ok:
        return None
    if isinstance(value, str):
        if _reads_as(base, value):  # the right value in quotes: say how to write it
            bare = value.strip().lower() if base is bool else value.strip()
            return (f"must be {wanted}, got the string {quoted(value)} (types in a TOML file are strict: "
                    f"write {unquoted(bare)} without quotes)")
        return f"must be {wanted}, got {show_value(value)}"
    return f"must be {wanted}, got {_what(value)}"


def _reads_as(base: Any, text: str) -> bool:
    text = text.strip()
    if base is bool:
        return text.lower() in ("true", "false")
    try:
        (int if base is int else float)(text)
    except ValueError:
        return False
    return True
