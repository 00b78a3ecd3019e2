"""Compare: the selected runs' loss and val-accuracy curves overlaid, smoothed, grouped; the config fields
that differ. Every number comes from engine.runs.compare (compare_runs); this screen only draws it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.fileio import error_text

from ..widgets.footer import KeyFooter
from ..widgets.overlay_chart import OverlayChart, Series, colour
from ..widgets.plain_table import plain
from .base import LiveFocus, WorkerErrors

if TYPE_CHECKING:
    from engine.runs.compare import Comparison, Curve, GroupCurve

WEIGHTS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)  # EMA smoothing weights, TensorBoard's slider in steps
Axis = Literal["step", "epoch"]
Band = Literal["minmax", "std"]


class Compared(Message):
    def __init__(self, comparison: Comparison | None, error: str | None = None) -> None:
        super().__init__()
        self.comparison = comparison
        self.error = error


def run_series(curves: list[Curve]) -> list[Series]:
    return [Series(c.run_id, c.x, c.y, colour(i)) for i, c in enumerate(curves)]


def group_series(groups: list[GroupCurve]) -> list[Series]:
    out = []
    for i, g in enumerate(groups):
        name = f"{g.field}={g.value} (n={len(g.run_ids)})"
        out += [Series(name, g.x, g.mean, colour(i)), Series(name, g.x, g.lo, colour(i), dim=True),
                Series(name, g.x, g.hi, colour(i), dim=True)]
    return out


class CompareScreen(WorkerErrors, LiveFocus, Screen[None]):
    """Pushed from the Runs screen on the selected runs; Escape goes back."""

    PURPOSE = "Compare runs: curves overlaid (EMA smoothing, log loss, groups with a band) and differing config."
    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("plus,equals_sign", "smoothing(1)", "Smooth +", id="compare.smooth_more"),
        Binding("minus", "smoothing(-1)", "Smooth -", id="compare.smooth_less"),
        Binding("l", "toggle_log", "Log loss", id="compare.log"),
        Binding("x", "toggle_axis", "Step/epoch", id="compare.axis"),
        Binding("g", "next_group", "Group by", id="compare.group"),
        Binding("b", "toggle_band", "Band", show=False, id="compare.band"),
    ]
    DEFAULT_CSS = """
    CompareScreen {
        #settings { height: 1; padding: 0 1; color: $foreground-muted; }
        #charts { height: 1fr; }
        #charts OverlayChart { width: 1fr; }
        #diff-box { height: auto; }
        #diffs { height: auto; max-height: 8; }
        &.-narrow #charts { layout: vertical; }
        &.-narrow #diffs { max-height: 4; }
    }
    """

    def __init__(self, run_dirs: list[Path]) -> None:
        super().__init__()
        self.run_dirs = run_dirs
        self.weight_index = 0
        self.log_loss = False
        self.axis: Axis = "step"
        self.group_by: str | None = None
        self.band: Band = "minmax"
        self.comparison: Comparison | None = None
        self.group_fields: list[str] = []  # the differing fields, found by the first comparison

    @property
    def smoothing(self) -> float:
        return WEIGHTS[self.weight_index]

    def compose(self) -> ComposeResult:
        yield Static("", id="settings", markup=False)
        with Horizontal(id="charts"):
            yield OverlayChart("loss", id="loss")
            yield OverlayChart("val accuracy", id="val")
        with Vertical(id="diff-box"):
            yield DataTable(id="diffs", cursor_type="row", zebra_stripes=True)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < 100, "-narrow")
        self.recompute()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(self.app.size.width < 100, "-narrow")

    def recompute(self) -> None:
        self._show_settings()
        self._compare(self.axis, self.smoothing, self.group_by, self.band)

    @work(thread=True, group="compare", exclusive=True, exit_on_error=False)
    def _compare(self, axis: Axis, smoothing: float, group_by: str | None, band: Band) -> None:
        from engine.runs.compare import compare_runs

        try:
            cmp = compare_runs(self.run_dirs, axis=axis, smoothing=smoothing, group_by=group_by, band=band)
        except (ValueError, OSError) as exc:
            self.post_message(Compared(None, error_text(exc)))
            return
        self.post_message(Compared(cmp))

    def on_compared(self, message: Compared) -> None:
        if message.comparison is None:
            error = message.error or "compare failed"
            self.notify(error, title="Compare", severity="error", markup=False)
            for chart in self.query(OverlayChart):
                chart.set_failed(f"cannot compare: {error}")
            return
        cmp = self.comparison = message.comparison
        if not self.group_fields:
            self.group_fields = [d.field for d in cmp.diffs]
        if cmp.group_by:
            loss, val = group_series(cmp.groups["loss"]), group_series(cmp.groups["val_accuracy"])
        else:
            loss, val = run_series(cmp.curves["loss"]), run_series(cmp.curves["val_accuracy"])
        self.query_one("#loss", OverlayChart).set_series(loss, log_y=self.log_loss)
        self.query_one("#val", OverlayChart).set_series(val)
        self._show_diffs(cmp)
        self._show_settings()

    def _show_diffs(self, cmp: Comparison) -> None:
        table = self.query_one("#diffs", DataTable)
        table.clear(columns=True)
        ids = [r.run_id for r in cmp.records]
        table.add_column("field", key="field")
        for i in ids:
            table.add_column(plain(i), key=i)
        for d in cmp.diffs:
            table.add_row(d.field, *(plain(d.values.get(i, "?")) for i in ids), key=d.field)
        if not cmp.diffs:
            table.add_row("(no config field differs)", *("" for _ in ids))

    def _show_settings(self) -> None:
        group = f"group {self.group_by} ({self.band})" if self.group_by else "no groups"
        n = len(self.run_dirs)
        self.query_one("#settings", Static).update(
            f"{n} run(s) · EMA {self.smoothing:g} · x {self.axis} · loss {'log' if self.log_loss else 'linear'} "
            f"· {group}")

    def action_back(self) -> None:
        self.dismiss()

    def action_smoothing(self, delta: int) -> None:
        self.weight_index = min(len(WEIGHTS) - 1, max(0, self.weight_index + delta))
        self.recompute()

    def action_toggle_log(self) -> None:
        self.log_loss = not self.log_loss
        if self.comparison is not None:
            self.on_compared(Compared(self.comparison))
        self._show_settings()

    def action_toggle_axis(self) -> None:
        self.axis = "epoch" if self.axis == "step" else "step"
        self.recompute()

    def action_next_group(self) -> None:
        """Group by the next differing config field (then no groups again)."""
        options: list[str | None] = [None, *self.group_fields]
        if len(options) == 1:
            self.notify("no config field differs: nothing to group by", severity="warning")
            return
        i = options.index(self.group_by) if self.group_by in options else 0
        self.group_by = options[(i + 1) % len(options)]
        self.recompute()

    def action_toggle_band(self) -> None:
        self.band = "std" if self.band == "minmax" else "minmax"
        if self.group_by:
            self.recompute()
        else:
            self._show_settings()
