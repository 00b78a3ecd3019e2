"""A line chart in braille dots: 2x4 dots per cell, so a 36x5 box still shows a readable curve."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

_BRAILLE_BASE = 0x2800
# Dot bits of a braille cell, indexed [row][column], rows top to bottom.
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_AXIS = 8  # columns for the y labels


def _resample(values: Sequence[float], n: int) -> list[float]:
    """`n` points: bucket means of the finite values when there are more values than points (NaN for a bucket
    with none), the values themselves otherwise."""
    if len(values) <= n:
        return list(values)
    size = len(values) / n
    out = []
    for i in range(n):
        lo, hi = int(i * size), max(int((i + 1) * size), int(i * size) + 1)
        chunk = [v for v in values[lo:hi] if math.isfinite(v)]
        out.append(sum(chunk) / len(chunk) if chunk else math.nan)
    return out


def finite_range(values: Sequence[float]) -> tuple[float, float] | None:
    """(min, max) of the finite values; None when there is none (a diverged run's NaN and inf are gaps)."""
    finite = [v for v in values if math.isfinite(v)]
    return (min(finite), max(finite)) if finite else None


def braille_lines(values: Sequence[float], width: int, height: int, lo: float, hi: float) -> list[str]:
    """The curve through `values` on a width x height cell grid, y from `lo` (bottom) to `hi` (top).

    Points spread over the whole width (a short run still spans the chart) and consecutive points
    are joined by straight segments, so steep changes stay connected; a NaN or infinite point is a gap.
    """
    cols, rows = width * 2, height * 4
    grid = [[0] * width for _ in range(height)]
    points = _resample(values, cols)
    span = hi - lo or 1.0

    def dot(x: int, y: int) -> None:
        grid[y // 4][x // 2] |= _DOTS[y % 4][x % 2]

    def y_of(v: float) -> int:
        return min(rows - 1, max(0, round((hi - v) / span * (rows - 1))))

    finite = [math.isfinite(v) for v in points]
    step = (cols - 1) / (len(points) - 1) if len(points) > 1 else 0.0
    for i, v in enumerate(points):  # a point with no finite neighbour still shows
        if finite[i] and not (i > 0 and finite[i - 1]) and not (i + 1 < len(points) and finite[i + 1]):
            dot(round(i * step), y_of(v))
    for i in range(len(points) - 1):
        if not (finite[i] and finite[i + 1]):
            continue
        x0, x1 = round(i * step), round((i + 1) * step)
        y0, y1 = y_of(points[i]), y_of(points[i + 1])
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in range(n + 1):
            dot(round(x0 + (x1 - x0) * k / n), round(y0 + (y1 - y0) * k / n))
    return ["".join(chr(_BRAILLE_BASE + bits) if bits else " " for bits in row) for row in grid]


def _label(value: float) -> str:
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-2):
        return f"{value:.1e}"
    return f"{value:.3f}"


class LineChart(Widget):
    """A titled curve (e.g. loss per step) with its range on the left. Empty data shows a hint."""

    DEFAULT_CSS = """
    LineChart {
        height: 1fr;
        min-height: 3;
        border: round $primary 60%;
        border-title-color: $foreground;
        color: $primary;
        padding: 0 1 0 0;
    }
    """

    def __init__(self, title: str, *, fixed_range: tuple[float, float] | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.fixed_range = fixed_range
        self.values: list[float] = []
        self.note = ""
        self.border_title = title

    def set_values(self, values: Sequence[float], note: str = "") -> None:
        """Replace the data (the title shows the last value, and `note`); redraws only when it changed."""
        if len(values) == len(self.values) and list(values) == self.values and note == self.note:
            return
        self.values, self.note = list(values), note
        last = f" {_label(self.values[-1])}" if self.values else ""
        self.border_title = f"{self.title}{last}" + (f"  ({note})" if note else "")
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_region.width - _AXIS, self.content_region.height
        if not self.values:
            return Text("waiting for data…", style="dim")
        if width < 4 or height < 1:
            return Text(_label(self.values[-1]))
        shown = self.fixed_range or finite_range(self.values)
        if shown is None:
            return Text(f"no finite value to draw (last {_label(self.values[-1])})", style="dim")
        lo, hi = shown
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        lines = braille_lines(self.values, width, height, lo, hi)
        out = Text(no_wrap=True)
        for i, line in enumerate(lines):
            label = _label(hi) if i == 0 else _label(lo) if i == height - 1 else ""
            out.append(f"{label:>{_AXIS - 1}} ", style="dim")
            out.append(line)
            if i < height - 1:
                out.append("\n")
        return out
