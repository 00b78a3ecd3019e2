"""Text a person typed (CLI `--set`, a Config screen input) to a typed, validated field value, and back.

It works on any pydantic model's fields, so the model can use it (`TrainingConfig.with_overrides`) without
this module knowing the model; `engine.config` binds it to TrainingConfig as parse_field / format_field /
field_choices.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ..quoting import unquoted
from .errors import ConfigError, config_error, did_you_mean, show_value
from .fieldtypes import MASK

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
_NONE = {"", "none", "null"}


def _field(model: type[BaseModel], name: str) -> FieldInfo:
    fields = model.model_fields
    if name not in fields:
        raise ConfigError(name, "unknown field" + did_you_mean(name, list(fields)))
    return fields[name]


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


@functools.cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    annotation: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(annotation, config=ConfigDict(allow_inf_nan=False))


def choices_of(model: type[BaseModel], name: str) -> tuple[str, ...] | None:
    """The allowed values of an enum field (for a Select), or None for free-form fields."""
    base, _ = _split_optional(_field(model, name).annotation)
    return tuple(typing.get_args(base)) if typing.get_origin(base) is Literal else None


def parse_text(model: type[BaseModel], name: str, raw: str) -> Any:
    """Convert what a user typed for field `name` to its type and check the field's own rules.

    Booleans accept true/false, yes/no, on/off, 1/0; optional fields take "" / none / null as None;
    enum values are case-insensitive. Rules relating several fields are checked when a whole
    config is built (`TrainingConfig.with_overrides`). Raises ConfigError naming the field.
    """
    info = _field(model, name)
    base, optional = _split_optional(info.annotation)
    text = raw.strip()
    if optional and text.lower() in _NONE:
        return None
    shown = show_value(raw)
    if base is bool:
        if text.lower() in _TRUE:
            value: Any = True
        elif text.lower() in _FALSE:
            value = False
        else:
            raise ConfigError(name, f"must be true or false (yes/no, on/off, 1/0), got {shown}")
    elif base is int:
        try:
            value = int(text)
        except ValueError:
            digits = text.lstrip("+-").replace("_", "")
            if digits.isdigit():  # Python reads at most sys.get_int_max_str_digits() digits of an integer
                raise ConfigError(name, f"must be an integer of at most {sys.get_int_max_str_digits():,} digits, "
                                        f"got one of {len(digits):,}") from None
            raise ConfigError(name, f"must be an integer, got {shown}") from None
        shown = unquoted(text)
    elif base is float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(name, f"must be a number, got {shown}") from None
        shown = unquoted(text)
    elif typing.get_origin(base) is Literal:
        value = text.lower()
        choices = typing.get_args(base)
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
            raise ConfigError(name, f"must be one of {listed}, got {shown}" + did_you_mean(value, choices))
    elif base is SecretStr:
        value = SecretStr(text)
        shown = MASK
    elif base is Path:
        value = Path(text)
    else:
        value = text
    try:
        return _adapter(model, name).validate_python(value)
    except ValidationError as exc:
        raise config_error(exc, shown=shown, field=name) from None


def format_text(config: BaseModel, name: str) -> str:
    """A field's value as text that parse_text reads back; secrets show as a mask (never the key)."""
    _field(type(config), name)
    value = getattr(config, name)
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
