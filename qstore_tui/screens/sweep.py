"""Sweep: a study's trials live (state, parameters, objective, duration), the best trial, the objective per
trial and which parameters matter. Reads <runs_dir>/sweeps/<study>/study.json, which the sweep's runner keeps
current (engine.sweep.summary: read_summary); this screen re-reads it every second when it changed, and says so when
the runner of an unfinished sweep is gone (killed), since the file will not change again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.fileio import error_text

from ..widgets.footer import KeyFooter
from ..widgets.line_chart import LineChart
from ..widgets.plain_table import plain
from .base import LiveFocus, WorkerErrors

if TYPE_CHECKING:
    from engine.sweep.summary import SweepSummary, TrialRow

REFRESH_S = 1.0


def newest_sweep(runs_dir: Path) -> Path | None:
    """The study.json most recently written under <runs_dir>/sweeps/, or None."""
    files = [p for p in (Path(runs_dir) / "sweeps").glob("*/study.json") if p.is_file()]
    return max(files, key=lambda p: (p.stat().st_mtime, p.parent.name)) if files else None


def _value(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _params(t: TrialRow) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(t.params.items()))


def importance_lines(importances: dict[str, float], width: int = 20) -> str:
    """One bar per parameter, largest first (Optuna's evaluator, computed by the engine)."""
    if not importances:
        return "importances: after enough completed trials"
    rows = sorted(importances.items(), key=lambda kv: -kv[1])
    return "\n".join(f"{name:>16} {'█' * max(1, round(v * width)):<{width}} {v:.2f}" for name, v in rows)


class SweepScreen(WorkerErrors, LiveFocus, Screen[None]):
    """Pushed from the Runs screen (w) on a study.json; Escape goes back."""

    PURPOSE = "A sweep (Optuna study): trials live, best trial, objective per trial, parameter importances."
    BINDINGS = [
        Binding("escape", "back", "Back", id="sweep.back"),
        Binding("o", "open_trial", "Open trial run", id="sweep.open"),
    ]
    DEFAULT_CSS = """
    SweepScreen {
        #head { height: auto; padding: 0 1; }
        #trials { height: 1fr; }
        #lower { height: 9; }
        #objective { width: 1fr; }
        #importances { width: 42; padding: 0 1; border: round $primary 60%; }
    }
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.summary: SweepSummary | None = None
        self._stamp: tuple[float, int] | None = None
        self._gone = False  # the unfinished sweep's runner has exited

    def compose(self) -> ComposeResult:
        yield Static("", id="head", markup=False)
        yield DataTable(id="trials", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="lower"):
            yield LineChart("objective per trial", id="objective")
            yield Static("", id="importances", markup=False)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#trials", DataTable)
        for key, label in (("n", "#"), ("state", "state"), ("value", "objective"), ("time", "time"),
                           ("params", "parameters"), ("run", "run")):
            table.add_column(label, key=key)
        self.reload()
        self.set_interval(REFRESH_S, self.reload)

    def reload(self) -> None:
        """Re-read study.json when it changed (a small file, rewritten atomically by the coordinator)."""
        from engine.sweep.summary import read_summary, runner_gone

        try:
            st = self.path.stat()
            stamp = (st.st_mtime, st.st_size)
            if stamp == self._stamp:
                if self.summary is not None and not self._gone and runner_gone(self.summary):
                    self._gone = True
                    self._show(self.summary)
                return
            summary = read_summary(self.path)
        except OSError as exc:
            self.query_one("#head", Static).update(error_text(exc))
            return
        except ValueError as exc:
            self.query_one("#head", Static).update(f"{self.path}: {exc}")
            return
        self._stamp, self.summary, self._gone = stamp, summary, runner_gone(summary)
        self._show(summary)

    def _show(self, s: SweepSummary) -> None:
        counts = " ".join(f"{k} {v}" for k, v in sorted(s.counts.items()))
        cap = "" if s.max_cost_usd is None else f" of ${s.max_cost_usd:.2f}"
        state = "finished" if s.finished else \
            f"stopped: its runner exited (resume with sweep --study {s.study})" if self._gone else "running"
        stopped = f" · stopped: {s.stopped}" if s.stopped else ""
        best = "best: none yet" if s.best is None else \
            f"best: trial {s.best.number} {s.objective}={_value(s.best.value)} {_params(s.best)}"
        self.query_one("#head", Static).update(
            f"sweep {s.study} · {state} · {s.direction} {s.objective} · {len(s.trials)}/{s.planned} trials "
            f"({counts}) · spent ${s.spent_usd:.2f}{cap}{stopped}\n{best}")
        table = self.query_one("#trials", DataTable)
        current = table.cursor_row
        table.clear()
        for t in s.trials:
            dur = "-" if t.duration_s is None else f"{t.duration_s:.1f}s"
            state_text = t.state + (f" (retry of {t.retry_of})" if t.retry_of is not None else "")
            table.add_row(str(t.number), state_text, _value(t.value), dur, plain(_params(t)), plain(t.run_id or "-"),
                          key=str(t.number))
        if table.row_count:
            table.move_cursor(row=min(current, table.row_count - 1))
        values = [t.value for t in sorted(s.trials, key=lambda t: t.number) if t.value is not None]
        self.query_one("#objective", LineChart).set_values(values, note=f"{len(values)} with a value")
        self.query_one("#importances", Static).update(importance_lines(s.importances))

    def action_back(self) -> None:
        self.dismiss()

    def action_open_trial(self) -> None:
        """Open the run of the trial under the cursor on the Training screen."""
        from ..app import QStoreApp

        table = self.query_one("#trials", DataTable)
        if self.summary is None or not table.row_count:
            return
        trial = self.summary.trials[table.cursor_row] if table.cursor_row < len(self.summary.trials) else None
        if trial is None or not trial.run_id:
            self.notify("this trial has no run yet", severity="warning")
            return
        app = self.app
        run_dir = self.path.parent.parent.parent / trial.run_id
        if isinstance(app, QStoreApp):
            self.dismiss()
            app.open_run(run_dir, "attach" if trial.state == "running" else "open")
