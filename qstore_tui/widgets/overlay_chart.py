"""Several curves on one braille grid with shared x and y ranges: one colour per series, a legend line.

Each braille cell has one colour: where curves cross, the series drawn last wins. Bands (a group's
min-max or ±1 std) are drawn as their two edges in the series' colour, dimmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual.widget import Widget

from .line_chart import _BRAILLE_BASE, _DOTS, _label

PALETTE = ("#4ea1ff", "#ff7f50", "#5fd75f", "#d787ff", "#ffd75f", "#5fd7d7", "#ff5f87", "#afaf87")
_AXIS = 8


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str
    dim: bool = False  # a band edge


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


class OverlayChart(Widget):
    """A titled overlay of curves; `log_y` plots log10 of the positive values (the others are left out)."""

    DEFAULT_CSS = """
    OverlayChart {
        height: 1fr;
        min-height: 4;
        border: round $primary 60%;
        border-title-color: $foreground;
        padding: 0 1 0 0;
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.border_title = title
        self.series: list[Series] = []
        self.log_y = False
        self.failed = ""  # why there is nothing to draw, when the data could not be read

    def set_series(self, series: Sequence[Series], *, log_y: bool = False, note: str = "") -> None:
        self.series, self.log_y, self.failed = list(series), log_y, ""
        self.border_title = self.title + (" (log)" if log_y else "") + (f"  {note}" if note else "")
        self.refresh()

    def set_failed(self, reason: str) -> None:
        """Nothing to draw, and why (not "waiting for data", which would never come)."""
        self.series, self.failed = [], reason
        self.refresh()

    def _points(self, s: Series) -> tuple[np.ndarray, np.ndarray]:
        x, y = np.asarray(s.x, dtype=np.float64), np.asarray(s.y, dtype=np.float64)
        keep = np.isfinite(y) & (y > 0) if self.log_y else np.isfinite(y)
        x, y = x[keep], y[keep]
        return x, (np.log10(y) if self.log_y else y)

    def render(self) -> Text:
        width, height = self.content_region.width - _AXIS, self.content_region.height - 1  # last row: legend
        every = [(s, self._points(s)) for s in self.series]
        drawn = [(s, p) for s, p in every if p[0].size]
        if not drawn:
            return Text(self.failed or ("no data to draw" if self.series else "waiting for data…"), style="dim")
        if width < 4 or height < 1:
            return Text(f"{len(drawn)} curve(s)")
        x0, x1 = min(float(p[0].min()) for _, p in drawn), max(float(p[0].max()) for _, p in drawn)
        lo, hi = min(float(p[1].min()) for _, p in drawn), max(float(p[1].max()) for _, p in drawn)
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        cols, rows = width * 2, height * 4
        bits = [[0] * width for _ in range(height)]
        owner: list[list[Series | None]] = [[None] * width for _ in range(height)]

        def to_cells(x: np.ndarray, y: np.ndarray) -> list[tuple[int, int]]:
            """The dots of the points, in order, with each run of points in one dot column cut to its first,
            lowest, highest and last: the lines between them draw the same dots (40,000-step runs took 1 s a
            chart to draw point by point)."""
            cx = np.zeros(x.size, dtype=np.int64) if x1 == x0 else np.rint((x - x0) / (x1 - x0) * (cols - 1))
            cy = np.clip(np.rint((hi - y) / (hi - lo) * (rows - 1)), 0, rows - 1)
            cx, cy = cx.astype(np.int64), cy.astype(np.int64)
            starts = np.flatnonzero(np.r_[True, cx[1:] != cx[:-1]])
            ends = np.r_[starts[1:], cx.size] - 1
            low, high = np.minimum.reduceat(cy, starts), np.maximum.reduceat(cy, starts)
            keep = np.stack([cy[starts], low, high, cy[ends]], axis=1).ravel()
            return list(zip(np.repeat(cx[starts], 4).tolist(), keep.tolist()))

        for s, p in sorted(drawn, key=lambda sp: not sp[0].dim):  # band edges first, curves over them
            cells = to_cells(*p)
            segs = list(zip(cells, cells[1:])) or [(cells[0], cells[0])]
            for (ax, ay), (bx, by) in segs:
                n = max(abs(bx - ax), abs(by - ay), 1)
                for k in range(n + 1):
                    dx, dy = round(ax + (bx - ax) * k / n), round(ay + (by - ay) * k / n)
                    bits[dy // 4][dx // 2] |= _DOTS[dy % 4][dx % 2]
                    owner[dy // 4][dx // 2] = s
        out = Text(no_wrap=True)

        def y_label(v: float) -> str:
            return _label(10 ** v) if self.log_y else _label(v)

        for i in range(height):
            label = y_label(hi) if i == 0 else y_label(lo) if i == height - 1 else ""
            out.append(f"{label:>{_AXIS - 1}} ", style="dim")
            for j in range(width):
                top = owner[i][j]
                ch = chr(_BRAILLE_BASE + bits[i][j]) if bits[i][j] else " "
                out.append(ch, style="" if top is None else (f"dim {top.color}" if top.dim else top.color))
            out.append("\n")
        out.append(f"{_label(x0):>{_AXIS - 1}} ", style="dim")
        end = f"→ {_label(x1)}"
        legend = [s for s, _ in drawn if not s.dim]
        room = self.content_region.width - _AXIS - len(end)
        field = legend[0].label.partition("=")[0] + "=" if len(legend) > 1 and "=" in legend[0].label else ""
        if not all(s.label.startswith(field) for s in legend):
            field = ""
        if field:  # groups of one field: "learning_rate: ━ 0.05 (n=1) ━ 0.1 (n=2)", the name said once
            out.append(f"{field[:-1]}: ")
            room -= len(field) + 1
        for k, s in enumerate(legend):  # as many as fit, then how many did not: the x axis's end stays in sight
            entry, left = f"{s.label[len(field):]}  ", len(legend) - k - 1
            if 2 + len(entry) + (len(f"+{left} more  ") if left else 0) > room:
                out.append(f"+{left + 1} more  ", style="dim")
                break
            out.append("━ ", style=s.color)
            out.append(entry)
            room -= 2 + len(entry)
        out.append(end, style="dim")
        return out
