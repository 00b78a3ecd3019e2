"""One TrainingConfig field on the Config screen: name and editor on one line, its message right below.

A form of fifty fields must mount fast, so a field is three widgets; the message line and the
description column (wide terminals) are mounted only when they have something to show.
"""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label

from .choice import Choice
from .edit_input import EditInput
from .toggle import Toggle

EditorKind = Literal["text", "choice", "bool", "secret"]


class FieldError(Label):
    """The message of a field that breaks a rule, on the line below it."""

    DEFAULT_CSS = """
    FieldError {
        width: 1fr;
        padding: 0 0 0 27;
        color: $error;
        text-style: bold;
    }
    """


class ConfigField(HorizontalGroup):
    """Posts `ConfigField.Edited(name, raw)` when the user changes the value; the screen validates and
    answers with `show_error`."""

    DEFAULT_CSS = """
    ConfigField {
        height: 1;
        .name { width: 27; padding: 0 1 0 0; color: $foreground; }
        .editor { width: 1fr; max-width: 44; }
        .desc { width: 1fr; padding: 0 0 0 2; color: $foreground-muted; text-wrap: nowrap; text-overflow: ellipsis; }
        &.-invalid .name { color: $error; text-style: bold; }
    }
    """

    class Edited(Message):
        def __init__(self, field: ConfigField, raw: str) -> None:
            super().__init__()
            self.field = field
            self.raw = raw

        @property
        def control(self) -> ConfigField:
            return self.field

    def __init__(self, name: str, *, kind: EditorKind, value: str, description: str,
                 choices: tuple[str, ...] = (), placeholder: str = "") -> None:
        super().__init__(id=f"field-{name}")
        self.field_name = name
        self.kind = kind
        self.description = description
        self.value = value
        self._choices = choices
        self._placeholder = placeholder
        self._error: FieldError | None = None
        self.error: str | None = None
        # Made here, not in compose: the screen reaches the editor (focus, cursor blink) at any time,
        # also while the field is still mounting.
        self._editor_widget = self._editor()

    def compose(self) -> ComposeResult:
        yield Label(self.field_name, classes="name")
        yield self._editor_widget

    def _editor(self) -> Widget:
        if self.kind == "choice":
            return Choice(self._choices, self.value, classes="editor")
        if self.kind == "bool":
            return Toggle(self.value == "true", classes="editor")
        if self.kind == "secret":
            return EditInput(self.value, password=True, placeholder=self._placeholder, compact=True, classes="editor")
        return EditInput(self.value, placeholder=self._placeholder, compact=True, classes="editor")

    @property
    def editor(self) -> Widget:
        return self._editor_widget

    def show_error(self, message: str | None) -> None:
        """The field's message on the line below it (None clears it)."""
        if message == self.error:
            return
        self.error = message
        self.set_class(message is not None, "-invalid")
        # Once mounted, the message line stays and is hidden when cleared: removing is asynchronous,
        # so a remove followed by a new mount within one refresh (fast typing) would mount a second
        # widget with the same id before the first one is gone.
        if self._error is None:
            if message is None:
                return
            # Removed with its group already, or being removed: a line mounted now is not in the removal
            # under way, so it would outlive this field beside its replacement's line of the same id.
            if self.parent is None or self._pruning or self._closing:
                return
            self._error = FieldError(message, markup=False, id=f"error-{self.field_name}")
            self.parent.mount(self._error, after=self)
            return
        self._error.display = message is not None
        if message is not None:
            self._error.update(message)

    def show_description(self, show: bool) -> None:
        """A description column, for terminals wide enough to have room for it."""
        labels = self.query(".desc")
        if show and not labels:
            self.mount(Label(self.description, classes="desc", markup=False))
        elif not show:
            labels.remove()

    def on_descendant_focus(self) -> None:
        # A class, not :focus-within: Textual does not restyle the name label when the editor's focus changes.
        self.add_class("-focused")

    def on_descendant_blur(self) -> None:
        self.remove_class("-focused")

    def _edited(self, raw: str) -> None:
        # Editors also announce values they were created with; only real changes are edits.
        if raw != self.value:
            self.value = raw
            self.post_message(self.Edited(self, raw))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._edited(event.value)

    def on_choice_changed(self, event: Choice.Changed) -> None:
        event.stop()
        self._edited(event.value)

    def on_toggle_changed(self, event: Toggle.Changed) -> None:
        event.stop()
        self._edited("true" if event.value else "false")
