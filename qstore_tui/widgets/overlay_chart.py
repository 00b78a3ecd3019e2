"""Several curves on one braille grid with shared x and y ranges: one colour per series, a legend line.

Each braille cell has one colour: where curves cross, the series drawn last wins. Bands (a group's
min-max or ±1 std) are drawn as their two edges in the series' colour, dimmed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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

    def set_series(self, series: Sequence[Series], *, log_y: bool = False, note: str = "") -> None:
        self.series, self.log_y = list(series), log_y
        self.border_title = self.title + (" (log)" if log_y else "") + (f"  {note}" if note else "")
        self.refresh()

    def _points(self, s: Series) -> list[tuple[float, float]]:
        pts = []
        for x, y in zip(s.x, s.y):
            if not math.isfinite(y) or (self.log_y and y <= 0):
                continue
            pts.append((float(x), math.log10(y) if self.log_y else float(y)))
        return pts

    def render(self) -> Text:
        width, height = self.content_region.width - _AXIS, self.content_region.height - 1  # last row: legend
        every = [(s, self._points(s)) for s in self.series]
        drawn = [(s, p) for s, p in every if p]
        if not drawn:
            return Text("no data to draw" if self.series else "waiting for data…", style="dim")
        if width < 4 or height < 1:
            return Text(f"{len(drawn)} curve(s)")
        xs = [x for _, p in drawn for x, _ in p]
        ys = [y for _, p in drawn for _, y in p]
        x0, x1, lo, hi = min(xs), max(xs), min(ys), max(ys)
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        cols, rows = width * 2, height * 4
        bits = [[0] * width for _ in range(height)]
        owner: list[list[Series | None]] = [[None] * width for _ in range(height)]

        def to_cell(x: float, y: float) -> tuple[int, int]:
            cx = 0 if x1 == x0 else round((x - x0) / (x1 - x0) * (cols - 1))
            cy = min(rows - 1, max(0, round((hi - y) / (hi - lo) * (rows - 1))))
            return cx, cy

        for s, p in sorted(drawn, key=lambda sp: not sp[0].dim):  # band edges first, curves over them
            cells = [to_cell(x, y) for x, y in p]
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
        for s, _ in drawn:
            if not s.dim:
                out.append("━ ", style=s.color)
                out.append(f"{s.label}  ")
        out.append(f"→ {_label(x1)}", style="dim")
        return out
