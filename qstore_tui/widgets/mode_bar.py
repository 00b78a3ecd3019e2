"""The top bar: the five screens with their keys, the current one highlighted, and the run status."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

SCREENS: tuple[tuple[str, str], ...] = (
    ("config", "Config"), ("training", "Training"), ("compiler", "Compiler"), ("report", "Report"), ("runs", "Runs"),
)
_STATUS_COLOUR = {  # theme variables, so every theme (and NO_COLOR) decides how it looks
    "running": "success", "completed": "success", "paused": "warning", "stopping": "warning", "starting": "warning",
    "stopped": "warning", "interrupted": "warning", "incomplete": "warning", "unreadable": "warning", "failed": "error",
}


class ModeBar(Widget):
    """One line, so it fits 80 columns: `1 Config  2 Training ...  ● running 37/100`."""

    DEFAULT_CSS = """
    ModeBar {
        height: 1;
        dock: top;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, current: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = current
        self.status = ""

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.refresh()

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" qstore ", style="bold reverse")
        for n, (mode, title) in enumerate(SCREENS, start=1):
            line.append(" ")
            style = "bold reverse" if mode == self.current else ""
            line.append(f"{n}", style=f"bold {style}".strip())
            line.append(f" {title}", style=style)
        if self.status:
            word = self.status.split()[0]
            colour = self.app.theme_variables.get(_STATUS_COLOUR.get(word, "foreground"), "")
            status = Text(f"● {self.status} ", style=f"bold {colour}".strip())
            pad = self.size.width - line.cell_len - status.cell_len
            if pad > 0:
                line.append(" " * pad)
                line.append_text(status)
        return line
