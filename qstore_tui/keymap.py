"""The user's keymap file: `~/.config/qstore/keymap.toml` (XDG_CONFIG_HOME honoured, via platformdirs).

One line per action, `action = "key"` (or several keys, comma-separated), the action being a
binding id as the README's Keymap section lists them, e.g.

    "screen.training" = "t"
    "training.pause" = "space"
    "app.help" = "f12"

Textual applies it (`App.set_keymap`). A bad entry (an unknown action, a key that is not a key
Textual can send, a key that another action answering in the same place has) is left out with a
notification naming the file and the action; its default key stays.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import REPLACED_KEYS, Keys, _character_to_key, key_to_character

from engine.config.errors import did_you_mean
from engine.fileio import write_error
from engine.tomlguard import TomlError
from engine.tomlguard import loads as toml_loads

from .screens.base import special_file

KEYMAP_FILE = "keymap.toml"
KEEPS_DEFAULT = "the default key stays"
KEEPS_DEFAULTS = "the default keys stay"  # the whole file refused
# Textual names a key's modifiers in this order ("ctrl+shift+left"): "shift+ctrl+left" is never sent.
MODIFIERS = ("alt", "ctrl", "hyper", "meta", "shift", "super")
# Keys with a name of their own (escape, enter, tab, space, up, pageup, f1-f24, ...). Keys.Return is
# prompt-toolkit's and never sent: Textual calls Enter "enter".
NAMED_KEYS = frozenset(key.value for key in Keys if key.value.isidentifier()) - {"return"}


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


@dataclass(frozen=True)
class Scope:
    """Bindings that answer keys together (a screen's own and, under a screen that is not a dialog, the
    app's): one key given to two of them would do only one of the two."""

    where: str  # "on the training screen"
    bindings: tuple[Binding, ...]


def binding_ids(groups: Iterable[Iterable[BindingType]]) -> set[str]:
    """Every binding id in these BINDINGS lists: the actions a keymap may rebind."""
    return {b.id for group in groups for b in group if isinstance(b, Binding) and b.id}


def class_bindings(cls: type[DOMNode]) -> tuple[Binding, ...]:
    """The bindings of a screen or app class, its bases' included, as Textual merges them."""
    return tuple(b for bound in cls._merge_bindings().key_to_bindings.values() for b in bound)


def is_key_name(key: str) -> bool:
    """A key Textual sends: a printable character, a named key or a character's name (question_mark),
    after modifiers in Textual's order (ctrl+shift+f5)."""
    if len(key) == 1:
        return key.isprintable() and not key.isspace()
    *modifiers, base = key.split("+")
    if modifiers == ["shift"] and _is_character(base):
        return False  # a shifted character is sent as the character itself: "H", "?"
    in_order = modifiers == sorted(set(modifiers)) and set(modifiers) <= set(MODIFIERS)
    return in_order and (_is_character(base) or base in NAMED_KEYS)


def _is_character(key: str) -> bool:
    return len(key) == 1 and is_key_name(key) or _names_a_character(key)


def _names_a_character(name: str) -> bool:
    """Textual's name of a character ("question_mark", "plus"): the name it gives that character back."""
    char = key_to_character(REPLACED_KEYS.get(name, name))
    return char is not None and len(char) == 1 and char.isprintable() and _character_to_key(char) == name


def _key_problem(key: str) -> str:
    """Why `key` is refused, with the key meant when it is a near miss ("F12", "esc", "shift+ctrl+x")."""
    *modifiers, base = key.split("+")
    if modifiers == ["shift"] and _is_character(base):
        return f"not a key name: {key!r} (a shifted character is sent as the character itself, such as 'H')"
    base = base if len(base) == 1 else base.lower()
    tidy = "+".join([*sorted({m.lower() for m in modifiers}), base])
    if tidy != key and is_key_name(tidy):
        return f"not a key name: {key!r} (did you mean {tidy!r}?)"
    return f"not a key name: {key!r}" + did_you_mean(base, sorted(NAMED_KEYS))


def key_in_words(key: str) -> str:
    """A key as a dialog's text names it: "?", "Escape", "F12", "ctrl+t" (the footer's "esc" and "^t" are
    the footer's)."""
    char = key_to_character(REPLACED_KEYS.get(key, key))
    if char is not None and char.isprintable() and not char.isspace():
        return char
    return key if "+" in key else key.capitalize()


def bound_keys(node: DOMNode, binding_id: str) -> list[str]:
    """The keys `binding_id` has on `node` now, the user's keymap applied (normalized: "escape", "ctrl+t")."""
    bindings = node._bindings.copy()
    if node.app._keymap:
        bindings.apply_keymap(node.app._keymap)
    return [key for key, bound in bindings.key_to_bindings.items() if any(b.id == binding_id for b in bound)]


def first_key_in_words(node: DOMNode, binding_id: str) -> str:
    """The first key `binding_id` has on `node` now, for a dialog's text ("Stop (s)")."""
    return key_in_words(bound_keys(node, binding_id)[0])


def _dotted_ids(table: dict[str, object], prefix: str) -> list[str]:
    """The ids an unquoted dotted key stands for (`screen.training = "9"` is the table {screen: {training}})."""
    ids: list[str] = []
    for key, value in table.items():
        ids += _dotted_ids(value, f"{prefix}.{key}") if isinstance(value, dict) else [f"{prefix}.{key}"]
    return ids


def _entry_problem(action: str, value: object, known: set[str]) -> str | None:
    """Why one `action = value` line is refused, or None when it is a good one."""
    if isinstance(value, dict):
        ids = _dotted_ids(value, action)
        return (f"a TOML table, not an action: an id with dots must be quoted, \"{ids[0]}\" = ..."
                if ids else "a TOML table, not an action")
    if action not in known:
        return "unknown action" + (did_you_mean(action, sorted(known))
                                   or " (the README's Keymap section lists the ids)")
    if not isinstance(value, str) or not value.strip():
        return f"must be a key name such as \"ctrl+t\", got {value!r}"
    bad = [key for key in (key.strip() for key in value.split(",")) if not is_key_name(key)]
    return _key_problem(bad[0]) if bad else None


def load_keymap(path: Path, known: set[str]) -> tuple[dict[str, str], list[KeymapProblem]]:
    """The valid entries of `path` (nothing when it does not exist) and a problem per bad one."""
    if special_file(path):  # a FIFO: open() would wait for a writer, and the app never start
        return {}, [KeymapProblem(path, None, f"cannot read: not a regular file; {KEEPS_DEFAULTS}")]
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [KeymapProblem(path, None, f"cannot read: {write_error(path, exc).reason}; {KEEPS_DEFAULTS}")]
    except UnicodeDecodeError as exc:
        return {}, [KeymapProblem(path, None, f"cannot read: {exc}; {KEEPS_DEFAULTS}")]
    try:
        table = toml_loads(text)
    except TomlError as exc:
        return {}, [KeymapProblem(path, None, f"not valid TOML: {str(exc).removeprefix('invalid TOML: ')}; "
                                                f"{KEEPS_DEFAULTS}")]
    keymap: dict[str, str] = {}
    problems: list[KeymapProblem] = []
    for action, value in table.items():
        problem = _entry_problem(action, value, known)
        if problem is None:
            keymap[action] = ",".join(key.strip() for key in value.split(","))
        else:
            problems.append(KeymapProblem(path, action, f"{problem}; {KEEPS_DEFAULT}"))
    return keymap, problems


def _normalized(keys: str) -> list[str]:
    """Keys as Textual holds them ("?" is "question_mark")."""
    return [_character_to_key(key) if len(key) == 1 else key for key in keys.split(",")]


def _first_clash(keymap: dict[str, str], scopes: Sequence[Scope]) -> tuple[str, list[str], str] | None:
    """(key, the binding ids it would have, where) for the first key that the keymap gives to two actions."""
    for scope in scopes:
        holders: dict[str, dict[str, str]] = {}  # key -> action -> binding id
        for binding in scope.bindings:
            if binding.id is None:  # Textual's own (tab, ctrl+c, ctrl+q): not the keymap's to clash with
                continue
            for key in _normalized(keymap[binding.id]) if binding.id in keymap else [binding.key]:
                holders.setdefault(key, {}).setdefault(binding.action, binding.id)
        for key, by_action in holders.items():
            ids = list(by_action.values())
            if len(ids) > 1 and any(binding_id in keymap for binding_id in ids):
                return key, ids, scope.where
    return None


def refuse_clashes(path: Path, keymap: dict[str, str],
                   scopes: Sequence[Scope]) -> tuple[dict[str, str], list[KeymapProblem]]:
    """The keymap without the entries that give a key to a second action in one scope (Textual would keep
    one of the two), and a problem per clash. The entries involved are left out, so both actions keep their
    default keys; that can bring back a default that clashes with another entry, which then goes too."""
    keymap = dict(keymap)
    problems: list[KeymapProblem] = []
    while (clash := _first_clash(keymap, scopes)) is not None:
        key, ids, where = clash
        rebound = [binding_id for binding_id in ids if binding_id in keymap]
        others = " and ".join(binding_id for binding_id in ids if binding_id != rebound[0])
        for binding_id in rebound:
            del keymap[binding_id]
        outcome = "left out: both keep their default keys" if len(rebound) == 1 else \
            f"{', '.join(rebound)} left out: each keeps its default key"
        problems.append(KeymapProblem(path, rebound[0], f"key {key!r} is also {others}'s {where}; {outcome}"))
    return keymap, problems
