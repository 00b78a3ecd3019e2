"""ConfigError, and pydantic's validation errors turned into "field: rule, got value" messages.

Values are shown as people typed them; a secret is never shown (its mask is).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from ..quoting import quoted, unquoted
from .fieldtypes import MASK, SECRET_FIELDS


class ConfigError(ValueError):
    """A configuration value breaks a rule.

    `field` is the first offending field (None for file-level problems such as TOML syntax),
    `reason` its message without the field name, `problems` every (field, reason) found,
    `path` / `line` where it came from when it was read from a file.
    """

    def __init__(
        self,
        field: str | None,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        problems: Sequence[tuple[str | None, str]] | None = None,
    ):
        self.field = field
        self.reason = message
        self.path = None if path is None else Path(path)
        self.line = line
        self.problems: tuple[tuple[str | None, str], ...] = tuple(problems) if problems else ((field, message),)
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if line is not None:
            where.append(f"line {line}")
        prefix = f"{', '.join(where)}: " if where else ""
        body = "; ".join(f"{f}: {m}" if f else m for f, m in self.problems)
        super().__init__(prefix + body)

    def in_file(self, path: str | os.PathLike[str]) -> ConfigError:
        """The same problems, located in `path`."""
        return ConfigError(self.field, self.reason, path=path, line=self.line, problems=self.problems)



def show_value(value: Any) -> str:
    """A value as a message quotes it: text in quotes (a long one cut, with its length), secrets masked."""
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, SecretStr):
        return MASK
    return unquoted(str(value))  # a 4,000-digit integer from a TOML file is cut as typed text is


def _number(value: Any) -> str:
    """A bound as people write it: 0 not 0.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_RULES = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _describe(err: Mapping[str, Any], known: Sequence[str], shown: str | None) -> list[tuple[str | None, str]]:
    """One pydantic error as (field, reason) pairs; `shown` replaces the input in 'got ...'."""
    loc = err.get("loc") or ()
    field = str(loc[0]) if loc else None
    kind, ctx = err["type"], err.get("ctx") or {}
    got = shown if shown is not None else show_value(err.get("input"))
    if field in SECRET_FIELDS:
        got = MASK
    if kind == "value_error" and isinstance(ctx.get("error"), ConfigError):
        return list(ctx["error"].problems)
    if kind in _RULES:
        key, symbol = _RULES[kind]
        reason = f"must be {symbol} {_number(ctx[key])}, got {got}"
    elif kind == "extra_forbidden":
        reason = "unknown field" + did_you_mean(field or "", known)
    elif kind == "literal_error":
        reason = f"must be one of {ctx['expected']}, got {got}"
    elif kind.startswith("int_"):
        reason = f"must be an integer, got {got}"
    elif kind.startswith("float_"):  # an integer refused as a float is one too large for it (TOML's 10**400)
        big = isinstance(err.get("input"), int) and not isinstance(err.get("input"), bool)
        reason = f"must be a {'finite ' if big else ''}number, got {got}"
    elif kind == "finite_number":
        reason = f"must be a finite number, got {got}"
    elif kind.startswith("bool_"):
        reason = f"must be true or false, got {got}"
    elif kind == "string_too_short":
        reason = "must not be empty"
    elif kind == "string_type":
        reason = f"must be text, got {got}"
    elif kind == "value_error":
        reason = str(ctx.get("error", err.get("msg")))
    else:
        reason = f"{err.get('msg')}, got {got}"
    return [(field, reason)]


def config_error(exc: ValidationError, *, known: Sequence[str] = (), shown: str | None = None,
                 field: str | None = None) -> ConfigError:
    """Every problem in `exc` as one ConfigError. `known` are the valid field names (for "did you mean"),
    `field` names the field when pydantic validated a lone value, `shown` how to quote that value."""
    problems: list[tuple[str | None, str]] = []
    for err in exc.errors():
        problems += [(f if f is not None else field, r) for f, r in _describe(err, known, shown)]
    return ConfigError(problems[0][0], problems[0][1], problems=problems)

