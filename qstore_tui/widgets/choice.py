"""A one-line choice among a few values: ←/→ (or space, or a click) steps through them.

Lighter than a Select (one widget instead of five), which keeps a form of fifty fields quick to mount,
and it never opens an overlay that could be cut off at 80x24.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from .too_small import KeepsFocusWhenTooSmall


class Choice(KeepsFocusWhenTooSmall, Widget, can_focus=True):
    DEFAULT_CSS = """
    Choice {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $boost;
        &:focus { background: $primary 30%; text-style: bold; }
    }
    """
    BINDINGS = [
        Binding("right,space", "step(1)", "Next", show=False),
        Binding("left", "step(-1)", "Previous", show=False),
    ]

    value: reactive[str] = reactive("", init=False)

    class Changed(Message):
        def __init__(self, choice: Choice, value: str) -> None:
            super().__init__()
            self.choice = choice
            self.value = value

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(self, choices: tuple[str, ...], value: str, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.choices = choices
        self.set_reactive(Choice.value, value)

    def render(self) -> Text:
        index = self.choices.index(self.value) if self.value in self.choices else -1
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("◂ ", style="dim")
        text.append(self.value)
        text.append(f" ▸  {index + 1}/{len(self.choices)}", style="dim")
        return text

    def action_step(self, delta: int) -> None:
        """The next (or previous) value, wrapping around."""
        index = self.choices.index(self.value) if self.value in self.choices else -1
        self.value = self.choices[(index + delta) % len(self.choices)]

    def on_click(self, event: events.Click) -> None:
        self.action_step(-1 if event.button == 3 else 1)

    def watch_value(self, value: str) -> None:
        self.post_message(self.Changed(self, value))
