"""A one-line on/off field, `[x] on` / `[ ] off`: space, Enter, ←/→ or a click flips it.

Textual's Switch is a three-row slider; squeezed to the form's one row it drew an empty bar whose only
hint of its state was a colour, which NO_COLOR and 16-colour terminals take away. Here the state is in
the text itself, and focus adds a text style (bold, reverse), which survives both.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from .too_small import KeepsFocusWhenTooSmall


class Toggle(KeepsFocusWhenTooSmall, Widget, can_focus=True):
    DEFAULT_CSS = """
    Toggle {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $boost;
        &:focus { background: $primary 30%; text-style: bold reverse; }
    }
    """
    BINDINGS = [Binding("space,enter,left,right", "flip", "On/off", show=False)]

    value: reactive[bool] = reactive(False, init=False)

    class Changed(Message):
        def __init__(self, toggle: Toggle, value: bool) -> None:
            super().__init__()
            self.toggle = toggle
            self.value = value

        @property
        def control(self) -> Toggle:
            return self.toggle

    def __init__(self, value: bool, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.set_reactive(Toggle.value, value)

    def render(self) -> Text:
        return Text("[x] on" if self.value else "[ ] off", no_wrap=True)

    def action_flip(self) -> None:
        self.value = not self.value

    def on_click(self, event: events.Click) -> None:
        self.action_flip()

    def watch_value(self, value: bool) -> None:
        self.post_message(self.Changed(self, value))
