"""The user's keymap file: `~/.config/qstore/keymap.toml` (XDG_CONFIG_HOME honoured, via platformdirs).

One line per action, `action = "key"` (or several keys, comma-separated), the action being a
binding id as the help screen and the README list them, e.g.

    "screen.training" = "t"
    "training.pause" = "space"
    "app.help" = "f12"

Textual applies it (`App.set_keymap`). A bad entry (an unknown action, a key that is not a key
name) is left out with a notification naming the file and the action; its default key stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from textual.binding import Binding, BindingType

from engine.fileio import write_error
from engine.tomlguard import TomlError
from engine.tomlguard import loads as toml_loads

KEYMAP_FILE = "keymap.toml"
# A Textual key name: a printable character, or words such as ctrl+x, shift+tab, f5, question_mark.
_KEY = re.compile(r"^(?:[^\s,]|(?:(?:ctrl|shift|alt|meta|super)\+)*[a-z0-9_]+)$")


def keymap_path() -> Path:
    return platformdirs.user_config_path("qstore", appauthor=False) / KEYMAP_FILE


@dataclass(frozen=True)
class KeymapProblem:
    path: Path
    action: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.action}" if self.action else str(self.path)
        return f"{where}: {self.message}"


def binding_ids(groups: Iterable[Iterable[BindingType]]) -> set[str]:
    """Every binding id in these BINDINGS lists: the actions a keymap may rebind."""
    return {b.id for group in groups for b in group if isinstance(b, Binding) and b.id}


def load_keymap(path: Path, known: set[str]) -> tuple[dict[str, str], list[KeymapProblem]]:
    """The valid entries of `path` (nothing when it does not exist) and a problem per bad one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [KeymapProblem(path, None, f"cannot read: {write_error(path, exc).reason}")]
    except UnicodeDecodeError as exc:
        return {}, [KeymapProblem(path, None, f"cannot read: {exc}")]
    try:
        table = toml_loads(text)
    except TomlError as exc:
        return {}, [KeymapProblem(path, None, f"not valid TOML: {str(exc).removeprefix('invalid TOML: ')}")]
    keymap: dict[str, str] = {}
    problems: list[KeymapProblem] = []
    for action, value in table.items():
        if action not in known:
            problems.append(KeymapProblem(path, action, "unknown action (see the help screen, ?, for the keys "
                                                        "you can change; README lists their ids)"))
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(KeymapProblem(path, action, f"must be a key name such as \"ctrl+t\", got {value!r}"))
            continue
        keys = [key.strip() for key in value.split(",")]
        bad = [key for key in keys if not _KEY.match(key)]
        if bad:
            problems.append(KeymapProblem(path, action, f"not a key name: {bad[0]!r}"))
            continue
        keymap[action] = ",".join(keys)
    return keymap, problems
