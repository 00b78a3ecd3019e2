"""The batch queue: in-flight and recent IonQ jobs (or local batches), newest first.

Drawn as one block of text of the rows that fit, not as a DataTable: it changes ten times a second
while training, and rebuilding a table that often made most of the UI's garbage (and so its
collector pauses).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from ..view import QueueRow

COLUMNS = (("id", 20), ("circuits", 9), ("status", 11), ("queue", 9), ("run", 9))
ID_WIDTH = 37  # an IonQ job id is a 36-character UUID, plus a space


def fit_id(job_id: str, width: int) -> str:
    """The id in `width - 1` cells: whole when it fits, else its start and a visible "…"."""
    room = width - 1
    return job_id if len(job_id) <= room else job_id[:max(1, room - 1)] + "…"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _cells(row: QueueRow) -> tuple[str, ...]:
    return (row.id, f"{row.circuits:,}", row.status, _seconds(row.queue_s), _seconds(row.run_s))


class QueueTable(Widget):
    """Shows the newest rows that fit its height under a header line."""

    DEFAULT_CSS = """
    QueueTable {
        height: 1fr;
        min-height: 3;
        padding: 0 1;
        border-top: solid $primary 60%;
        border-title-color: $foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "queue"
        self.rows: list[tuple[str, ...]] = []  # newest first

    def set_rows(self, rows: Sequence[QueueRow], in_flight: int, kind: str = "batches") -> None:
        title = f"queue ({kind}): {in_flight} in flight" if in_flight else f"queue ({kind})"
        newest = [_cells(r) for r in reversed(rows[-200:])]
        if newest != self.rows or title != self.border_title:
            self.rows = newest
            self.border_title = title
            self.refresh()

    def _widths(self) -> list[int]:
        """The id column takes what the others leave, up to a whole UUID; never less than its default."""
        rest = sum(width for _, width in COLUMNS[1:])
        id_width = max(COLUMNS[0][1], min(ID_WIDTH, self.content_region.width - rest))
        return [id_width, *(width for _, width in COLUMNS[1:])]

    def render(self) -> Text:
        widths = self._widths()
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("".join(name.ljust(width) for (name, _), width in zip(COLUMNS, widths)).rstrip(), style="bold")
        for cells in self.rows[:max(0, self.content_region.height - 1)]:
            text.append("\n")
            shown = (fit_id(cells[0], widths[0]), *cells[1:])
            line = "".join(cell.ljust(width) for cell, width in zip(shown, widths)).rstrip()
            text.append(line, style="" if cells[2] in ("done", "completed") else "bold")
        return text
