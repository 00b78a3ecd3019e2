"""TOML in and out: group tables like [optimization] (or flat keys), errors naming the file, line and field.

Secrets are never written by `save_config` and are refused by `load_config`: they come from the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import tomli_w

from ..fileio import atomic_write_bytes, write_error
from ..quoting import quoted
from ..tomlguard import TomlError
from ..tomlguard import loads as toml_loads
from .errors import ConfigError, did_you_mean
from .filetypes import file_type_problem
from .fieldtypes import SECRET_FIELDS
from .model import FIELD_GROUPS, GROUP_OF, TrainingConfig



NUL_IN_NAME = "not a file name: it holds a NUL character (type the path again)"


def _toml_line(message: str) -> tuple[int | None, str]:
    message = message.removeprefix("invalid TOML: ")
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if not match:
        return None, f"invalid TOML: {message}"
    return int(match.group(1)), f"invalid TOML: {message[: match.start()]} (column {match.group(2)})"


def load_config(path: str | os.PathLike[str]) -> TrainingConfig:
    """Read a TOML config (group tables like [optimization], or flat keys). Errors name the file and field."""
    path = Path(path)
    if "\0" in str(path):  # pasted into the app's file box: no file can be named so (open() raises ValueError)
        raise ConfigError(None, NUL_IN_NAME, path=quoted(str(path))) from None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(None, "file not found", path=path) from None
    except OSError as exc:  # "permission denied", "is a directory": the reason in words, the path said once
        raise ConfigError(None, f"cannot read: {write_error(path, exc).reason}", path=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(None, f"cannot read: {exc}", path=path) from None
    try:
        document = toml_loads(text)  # depth-limited: a hostile nesting is refused, not a RecursionError
    except TomlError as exc:
        if exc.line is not None:
            raise ConfigError(None, exc.reason, path=path, line=exc.line) from None
        line, message = _toml_line(exc.reason)
        raise ConfigError(None, message, path=path, line=line) from None
    flat: dict[str, Any] = {}
    problems: list[tuple[str | None, str]] = []

    def take(key: str, value: Any, table: str | None) -> None:
        if key in SECRET_FIELDS:
            problems.append((key, f"secrets are never read from files; set env {SECRET_FIELDS[key]}"))
        elif key not in TrainingConfig.model_fields:
            problems.append((key, "unknown field" + did_you_mean(key, list(TrainingConfig.model_fields))))
        elif table is not None and GROUP_OF[key] != table:
            problems.append((key, f"belongs in [{GROUP_OF[key]}], found in [{table}]"))
        elif key in flat:
            problems.append((key, "given twice"))
        elif (wrong := file_type_problem(TrainingConfig, key, value)) is not None:
            problems.append((key, wrong))
        else:
            flat[key] = value

    for key, value in document.items():
        if isinstance(value, dict):
            if key not in FIELD_GROUPS:
                problems.append((None, f"unknown section [{key}]" + did_you_mean(key, list(FIELD_GROUPS))))
                continue
            for inner_key, inner_value in value.items():
                take(inner_key, inner_value, key)
        else:
            take(key, value, None)
    if problems:
        raise ConfigError(problems[0][0], problems[0][1], path=path, problems=problems)
    try:
        return TrainingConfig(**flat)
    except ConfigError as exc:
        raise exc.in_file(path) from None


def config_to_toml(config: TrainingConfig) -> str:
    """The TOML text save_config writes: one table per group, no secrets, no None values."""
    document: dict[str, dict[str, Any]] = {}
    for group, names in FIELD_GROUPS.items():
        table = {}
        for name in names:
            value = getattr(config, name)
            if name in SECRET_FIELDS or value is None:
                continue
            table[name] = str(value) if isinstance(value, Path) else value
        if table:
            document[group] = table
    header = "# qstore-tui training config. API keys are never stored here: set IONQ_API_KEY / PINECONE_API_KEY.\n"
    return header + tomli_w.dumps(document)


def save_config(config: TrainingConfig, path: str | os.PathLike[str]) -> None:
    """Write `config` as TOML atomically (temp file, fsync, rename): a crash leaves the old file or the new one."""
    if "\0" in str(path):
        raise ConfigError(None, NUL_IN_NAME, path=quoted(str(path)))
    atomic_write_bytes(path, config_to_toml(config).encode("utf-8"))
