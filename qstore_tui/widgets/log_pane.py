"""The log pane: engine log lines and errors, coloured by level, appended as they arrive."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import RichLog

from ..view import LogLine

_LEVEL_COLOUR = {"error": "error", "warning": "warning", "debug": "foreground-muted"}


class LogPane(RichLog):
    """Writes only the lines it has not shown yet (the view keeps the last 1,000)."""

    DEFAULT_CSS = """
    LogPane {
        height: 1fr;
        min-height: 2;
        border-top: solid $primary 60%;
        border-title-color: $foreground;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=False, markup=False, highlight=False, max_lines=1000, auto_scroll=True)
        self.border_title = "log (UTC)"
        self._shown: LogLine | None = None

    def set_lines(self, lines: Sequence[LogLine]) -> None:
        new = list(lines)
        if self._shown is not None:
            # Lines are appended objects: everything after the last one shown is new.
            for i in range(len(new) - 1, -1, -1):
                if new[i] is self._shown:
                    new = new[i + 1:]
                    break
            else:
                self.clear()
        for line in new:
            self.write(self._format(line))
        if lines:
            self._shown = lines[-1]
        elif self._shown is not None:
            self.clear()
            self._shown = None

    def _format(self, line: LogLine) -> Text:
        stamp = time.strftime("%H:%M:%S", time.gmtime(line.time))
        colour = self.app.theme_variables.get(_LEVEL_COLOUR.get(line.level, "foreground"), "")
        text = Text(f"{stamp} ", style="dim")
        text.append(line.message, style=colour)
        return text
