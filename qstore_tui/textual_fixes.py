"""Two crashes of Textual 8.2.8 (pinned) that random keys and clicks found, guarded where they happen.

- OptionList's PageUp / PageDown read the line map of a list that was never laid out: Config's group list on a
  terminal too small to show it (the list keeps the focus behind the "too small" notice), a Select's menu there,
  a command palette 4 rows high. KeyError ended the app. Textual's own `scroll_to_highlight` guards the same
  lookup; the page keys now do as it does: the lines updated first, and nothing to move when there are none.
- A click on a widget being removed (the Config screen remounts a group's fields at each highlight) began a text
  selection in its container, which is None by then: AttributeError ended the app. A removed widget is not under
  the pointer any more, so `get_widget_and_offset_at` says nothing is there.
"""

from __future__ import annotations

from textual.geometry import Offset
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import OptionList

_move_page = OptionList._move_page
_widget_and_offset_at = Screen.get_widget_and_offset_at


def _laid_out_move_page(self: OptionList, direction: int) -> None:
    if not self.is_mounted:
        return
    self._update_lines()
    if (self.highlighted or 0) not in self._index_to_line or not self._lines:
        return
    _move_page(self, direction)


def _attached_widget_and_offset_at(self: Screen[object], x: int, y: int) -> tuple[Widget | None, Offset | None]:
    widget, offset = _widget_and_offset_at(self, x, y)
    if widget is not None and not isinstance(widget, Screen) and widget.parent is None:
        return None, None
    return widget, offset


def install() -> None:
    """Idempotent: the app calls it once at import."""
    OptionList._move_page = _laid_out_move_page  # type: ignore[method-assign]
    Screen.get_widget_and_offset_at = _attached_widget_and_offset_at  # type: ignore[method-assign,assignment]
