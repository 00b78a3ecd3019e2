"""A text field with undo and redo: Ctrl+Z and Ctrl+Y (or Ctrl+Shift+Z).

Textual's Input has no undo, so Ctrl+Z in a field reached the app's binding and suspended the whole
app to the shell mid-edit; here it takes back the last edit, as in any editor, and outside a field it
still suspends. A run of typed characters (or of single deletions) is one step, ended by a space or by
a different kind of edit, the way editors group words; pastes, cuts and changes made by the app (a
loaded config file) are a step each.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from .too_small import KeepsFocusWhenTooSmall

MAX_STEPS = 200  # per field; the oldest step goes first


class EditInput(KeepsFocusWhenTooSmall, Input):
    BINDINGS = [
        Binding("ctrl+z", "undo", "Undo", show=False),
        Binding("ctrl+y,ctrl+shift+z", "redo", "Redo", show=False),
    ]

    def __init__(self, value: str | None = None, *, placeholder: str = "", password: bool = False,
                 compact: bool = False, id: str | None = None, classes: str | None = None) -> None:
        # set first: Input's constructor sets the value, which runs the watcher
        self._last = ""  # the value before the change being watched
        self._undo: list[str] = []
        self._redo: list[str] = []
        self._run = 0  # +1 while characters are typed one by one, -1 while deleted one by one, else 0
        self._restoring = False
        super().__init__(value, placeholder=placeholder, password=password, compact=compact, id=id, classes=classes)

    def _watch_value(self, value: str) -> None:
        super()._watch_value(value)
        old, self._last = self._last, value
        if self._restoring or old == value or not self.is_mounted:
            return
        run = _single_edit(old, value)
        word_ended = run == 1 and _inserted(old, value).isspace()
        if run == 0 or run != self._run or word_ended or not self._undo:
            self._undo.append(old)
            del self._undo[:-MAX_STEPS]
        self._run = run
        self._redo.clear()

    def action_undo(self) -> None:
        self._step(self._undo, self._redo)

    def action_redo(self) -> None:
        self._step(self._redo, self._undo)

    def _step(self, source: list[str], target: list[str]) -> None:
        if not source:
            self.app.bell()
            return
        target.append(self.value)
        self._restoring = True
        try:
            self.value = source.pop()
        finally:
            self._restoring = False
        self.cursor_position = len(self.value)
        self._run = 0


def _split(old: str, new: str) -> int:
    """The first index at which `old` and `new` differ."""
    i = 0
    while i < min(len(old), len(new)) and old[i] == new[i]:
        i += 1
    return i


def _single_edit(old: str, new: str) -> int:
    """+1 when `new` is `old` with one character inserted, -1 with one deleted, else 0."""
    step = len(new) - len(old)
    if step not in (1, -1):
        return 0
    i = _split(old, new)
    return step if (old[i:] == new[i + 1:] if step == 1 else old[i + 1:] == new[i:]) else 0


def _inserted(old: str, new: str) -> str:
    """The character a single insertion added."""
    return new[_split(old, new)]
