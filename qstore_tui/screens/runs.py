"""Runs: the runs directory; open a run (its events as they stand), attach (follow it live), resume it."""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..messages import RunsListed
from .base import AppScreen
from .listing import notify_listing_error, runs_listed

COLUMNS = ("run", "status", "started (UTC)", "steps", "loss", "val acc", "backend")


def _started(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


class RunsScreen(AppScreen):
    MODE = "runs"
    PURPOSE = "The runs directory: open a finished run, follow (attach to) a running one, or resume one."
    AUTO_FOCUS = "#runs"
    PALETTE = (
        ("Runs: open", "Show the selected run's curves, queue, log and report", "open('open')"),
        ("Runs: attach", "Follow the selected run live (e.g. a headless run)", "open('attach')"),
        ("Runs: resume", "Continue the selected run from its last checkpoint", "open('resume')"),
        ("Runs: refresh", "Read the runs directory again", "refresh_runs"),
    )
    BINDINGS = [
        Binding("o", "open('open')", "Open"),
        Binding("a", "open('attach')", "Attach"),
        Binding("r", "open('resume')", "Resume"),
        Binding("g", "refresh_runs", "Refresh"),
    ]
    DEFAULT_CSS = """
    RunsScreen {
        #where { height: 1; padding: 0 1; color: $foreground-muted; }
        #runs { height: 1fr; }
    }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("", id="where", markup=False)
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.action_refresh_runs()

    def on_screen_resume(self) -> None:
        if self.ready:  # after the switch is on screen: the listing competes with the UI for the GIL
            self.call_after_refresh(self.action_refresh_runs)

    def action_refresh_runs(self) -> None:
        """List the runs directory, newest first (in a thread: it reads every run's events)."""
        self._list_runs()

    @work(thread=True, group="runs", exclusive=True, exit_on_error=False)
    def _list_runs(self) -> None:
        self.post_message(runs_listed(self.qapp.runs_dir))

    def on_runs_listed(self, message: RunsListed) -> None:
        notify_listing_error(self, message)
        runs = message.runs
        table = self.query_one("#runs", DataTable)
        self.query_one("#where", Static).update(f"{len(runs)} run(s) in {self.qapp.runs_dir}")
        selected = self._selected()
        table.clear()
        for r in runs:
            loss = "-" if r.final_loss is None else f"{r.final_loss:.4f}"
            acc = "-" if r.val_accuracy is None else f"{r.val_accuracy:.1%}"
            steps = f"{r.steps}/{r.total_steps}" if r.total_steps else str(r.steps)
            table.add_row(r.run_id, r.status, _started(r.started_at), steps, loss, acc, r.backend, key=str(r.path))
        if selected is not None and selected in {str(r.path) for r in runs}:
            table.move_cursor(row=table.get_row_index(selected))

    def _selected(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_open(self, how: str) -> None:
        """Open, attach to or resume the selected run (then the Training screen shows it)."""
        selected = self._selected()
        if selected is None:
            self.notify("no run selected", severity="warning")
            return
        self.qapp.open_run(Path(selected), how)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open("open")
