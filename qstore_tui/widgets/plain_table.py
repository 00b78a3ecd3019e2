"""A DataTable whose cells are plain one-line strings, measured as such.

Textual measures every new cell through the console to size its column: a markup parse and three terminal-size
calls a cell, 2.4 s for the Runs screen's 2,000 runs x 17 columns, after every sort and every filter keystroke. A
plain string's width is its cell length, so this table sizes columns from that (0.1 s) and nothing else changes.
It overrides `_update_dimensions`, which Textual (pinned) calls for rows added since the last idle.

`plain` makes a cell or label of data (a run's folder name, a tag, a path): DataTable parses a `str` cell as
markup, so a hand-edited tag `[/]` crashed the Runs screen (MarkupError) and a folder `exp[old]1` showed as `exp1`.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets._data_table import RowKey


def plain(value: str) -> Text:
    """`value` as a table cell or column label, shown as it is (no markup), on one line."""
    return Text(value, no_wrap=True, end="")


class PlainTable(DataTable[Text]):
    """Cells and column labels are `plain` texts (no markup, one line, no row labels, row height 1)."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        columns = self.ordered_columns
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:  # removed before the idle that sizes it
                continue
            for column in columns:
                value = cells.get(column.key)
                if value is not None:
                    column.content_width = max(column.content_width, value.cell_len)
        header_height = self.header_height if self.show_header else 0  # as Textual's own ends
        self.virtual_size = Size(sum(column.get_render_width(self) for column in self.columns.values())
                                 + self._row_label_column_width, self._total_row_height + header_height)
