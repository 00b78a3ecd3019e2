"""The message a terminal smaller than 80x24 gets instead of a squeezed, unreadable screen."""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 80, 24


def too_small(size: Size) -> bool:
    return size.width < MIN_WIDTH or size.height < MIN_HEIGHT


class TooSmall(Static):
    """Centered, shown by the screen's `-too-small` class; says what is needed and what there is."""

    DEFAULT_CSS = """
    TooSmall {
        display: none;
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        text-align: center;
        text-style: bold;
        color: $warning;
    }
    """

    def show_size(self, size: Size) -> None:
        self.update(
            f"Terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {size.width}x{size.height}\n"
            "Enlarge the window (or the tmux pane) to continue."
        )


class KeepsFocusWhenTooSmall:
    """Mixed into a form field (before its widget class): the field keeps the focus while the screen hides its body
    because the terminal is too small (a resize on the way). Textual blurs a hidden widget: after the resize the
    focus was elsewhere, and a key typed meanwhile (a digit) switched screens instead of reaching the field."""

    def _on_hide(self: Widget, event: events.Hide) -> None:
        if self.has_focus and self.screen.has_class("-too-small"):
            event.prevent_default()
