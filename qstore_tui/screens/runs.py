"""Runs: the runs directory as a table of what tells runs apart; sort, filter, select, tag, delete, compare.

Rows come from engine.runs.index (RunRecord, sort_runs, filter_runs, tag_run, delete_run): the screen only
shows what the engine reads and asks the engine to change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from engine.fileio import error_text

from ..widgets.edit_input import EditInput
from ..widgets.plain_table import PlainTable, plain
from .base import AppScreen
from .run_dialogs import DeleteRunScreen, TagRunScreen

if TYPE_CHECKING:
    from textual.timer import Timer

    from engine.runs.index import RunRecord

STATUS_FILTERS: tuple[str | None, ...] = (None, "running", "completed", "stopped", "pruned", "failed",
                                          "interrupted", "incomplete")


@dataclass(frozen=True)
class Column:
    key: str  # the SORT_KEYS key it sorts by
    label: str
    wide_only: bool = False  # shown only from 120 columns


COLUMNS = (
    Column("run_id", "run"), Column("status", "status"), Column("target", "target"),
    Column("gradient_method", "grad"), Column("optimizer", "opt"), Column("learning_rate", "lr"),
    Column("epochs", "ep"), Column("seed", "seed", True), Column("n_qubits", "q×d"),
    Column("best_val_accuracy", "best"), Column("final_val_accuracy", "val", True), Column("final_loss", "loss"),
    Column("circuits", "circuits", True), Column("duration_s", "time"), Column("cost_actual_usd", "cost"),
    Column("tags", "tags"),
)
WIDE = 120
FILTER_PAUSE_S = 0.15  # the text filter applies once typing pauses: re-filling 2,000 rows on every key lagged


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s / 60:.0f}m{s % 60:02.0f}s"
    return f"{s / 3600:.0f}h{s % 3600 / 60:02.0f}m"


def _cost(r: RunRecord) -> str:
    """Billed spend when known, the estimate (~) otherwise; '-' off-QPU."""
    if r.cost_actual_usd is not None:
        est = "" if r.cost_estimated_usd is None else f" (~{r.cost_estimated_usd:.2f})"
        return f"${r.cost_actual_usd:.2f}{est}"
    return "-" if r.cost_estimated_usd is None else f"~${r.cost_estimated_usd:.2f}"


_FROM_CONFIG = ("gradient_method", "optimizer", "learning_rate", "epochs", "seed")


def cell(r: RunRecord, key: str) -> str:
    """One column of one run as text: "?" where its config.toml did not load, "-" for all of a run that could not
    be read (not a made-up 0 or nan)."""
    if r.status == "unreadable" and key not in ("run_id", "status"):
        return "-"
    if r.config is None and key in _FROM_CONFIG:
        return "?"
    if key == "target":
        return r.target if r.backend in r.target or not r.backend else f"{r.backend}:{r.target}"
    if key == "learning_rate":
        return f"{r.learning_rate:g}"
    if key == "n_qubits":
        return f"{r.n_qubits}×{r.circuit_depth}" if r.config is not None else f"{r.n_qubits or '?'}×?"
    if key in ("best_val_accuracy", "final_val_accuracy"):
        return _pct(getattr(r, key))
    if key == "final_loss":
        return "-" if r.final_loss is None else f"{r.final_loss:.4f}"
    if key == "duration_s":
        return _duration(r.duration_s)
    if key == "cost_actual_usd":
        return _cost(r)
    if key == "tags":
        return ",".join(r.tags)
    return str(getattr(r, key))


class RecordsListed(Message):
    """The runs directory as RunRecords (read in a worker thread), or why it could not be read; `of` > the records
    while the listing is still reading (the runs read so far, shown at once)."""

    def __init__(self, records: list[RunRecord], error: str | None = None, of: int = 0) -> None:
        super().__init__()
        self.records = records
        self.error = error
        self.of = of


class RunsScreen(AppScreen):
    MODE = "runs"
    PURPOSE = ("The runs directory: sort, filter, select, tag, delete; compare selected runs; open, attach, "
               "resume a run; follow a sweep.")
    AUTO_FOCUS = "#runs"
    PALETTE = (
        ("Runs: open", "Show the selected run's curves, queue, log and report", "open('open')"),
        ("Runs: attach", "Follow the selected run live (e.g. a headless run)", "open('attach')"),
        ("Runs: resume", "Continue the selected run from its last checkpoint", "open('resume')"),
        ("Runs: refresh", "Read the runs directory again", "refresh_runs"),
        ("Runs: compare", "Overlay the curves of the selected runs", "compare"),
        ("Runs: sweep", "The sweep (Optuna study) of the run under the cursor", "sweep"),
        ("Runs: select", "Add the run under the cursor to the selection, or take it out (space)", "toggle_select"),
        ("Runs: sort", "Sort by the next column (s)", "sort_next"),
        ("Runs: reverse sort", "Reverse the sort order (S)", "sort_reverse"),
        ("Runs: filter", "Filter the runs by text (/)", "focus_filter"),
        ("Runs: status filter", "Show only runs of the next status (f)", "status_next"),
        ("Runs: tag", "Tag the run under the cursor (t)", "tag"),
        ("Runs: delete", "Delete the run under the cursor, after a confirmation (d)", "delete"),
    )
    BINDINGS = [
        Binding("o", "open('open')", "Open", id="runs.open"),
        Binding("a", "open('attach')", "Attach", id="runs.attach"),
        Binding("r", "open('resume')", "Resume", id="runs.resume"),
        Binding("g", "refresh_runs", "Refresh", show=False, id="runs.refresh"),
        Binding("space", "toggle_select", "Select", id="runs.select"),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("s", "sort_next", "Sort", id="runs.sort"),
        Binding("S", "sort_reverse", "Reverse sort", show=False, id="runs.sort_reverse"),
        Binding("slash", "focus_filter", "Filter", show=False, id="runs.filter"),
        Binding("f", "status_next", "Status filter", show=False, id="runs.status"),
        Binding("t", "tag", "Tag", show=False, id="runs.tag"),
        Binding("d", "delete", "Delete", show=False, id="runs.delete"),
        Binding("w", "sweep", "Sweep", show=False, id="runs.sweep"),
    ]
    UNBOUND_KEYS = (("enter", "open('open')"),)  # the table's RowSelected (on_data_table_row_selected): for help
    DEFAULT_CSS = """
    RunsScreen {
        #bar { height: 1; }
        #where { width: 1fr; height: 1; padding: 0 1; color: $foreground-muted; }
        #filter { width: 24; height: 1; border: none; padding: 0 1; }
        #runs { height: 1fr; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: list[RunRecord] = []
        self.shown: list[RunRecord] = []
        self.selected: set[str] = set()  # run ids
        self.sort_key = "started_at"
        self.descending = True
        self.status_filter: str | None = None
        self.text_filter = ""
        self._wide: bool | None = None
        self._filter_timer: Timer | None = None
        self._listing = self._list_again = False
        self._reading = 0  # runs in all while a listing is still reading them
        self._warned: set[tuple[str, str]] = set()  # (run path, problem) already notified

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Static("", id="where", markup=False)
            yield EditInput(placeholder="/ filter", id="filter", compact=True)
        yield PlainTable(id="runs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._build_columns()
        self.action_refresh_runs()

    def on_resize(self, event: events.Resize) -> None:
        """From 120 columns the table gets its wide-only columns (AppScreen's on_resize runs too)."""
        if self._wide != (self.app.size.width >= WIDE):
            self._build_columns()
            self._fill()

    def _columns(self) -> list[Column]:
        return [c for c in COLUMNS if self._wide or not c.wide_only]

    def _build_columns(self) -> None:
        self._wide = self.app.size.width >= WIDE
        table = self.query_one("#runs", DataTable)
        table.clear(columns=True)
        table.add_column(" ", key="mark")
        for c in self._columns():
            arrow = (" ▼" if self.descending else " ▲") if c.key == self.sort_key else ""
            table.add_column(c.label + arrow, key=c.key)

    def on_screen_resume(self) -> None:
        if self.ready:  # after the switch is on screen: the listing competes with the UI for the GIL
            self.call_after_refresh(self.action_refresh_runs)

    def action_refresh_runs(self) -> None:
        """List the runs directory (in a thread: it reads every run's events; ~3 ms a run the first time, then
        only the runs whose files changed)."""
        if self._listing:  # one listing at a time: a second thread would only halve the speed of both (GIL)
            self._list_again = True
            return
        if not self.records:
            self.query_one("#where", Static).update(f"reading {self.qapp.runs_dir} ...")
        self._listing = True
        self._list_runs()

    @work(thread=True, group="runs", exclusive=True, exit_on_error=False)
    def _list_runs(self) -> None:
        from engine.runs.index import list_records

        def so_far(records: list[RunRecord], of: int) -> None:
            self.post_message(RecordsListed(records, of=of))

        try:
            self.post_message(RecordsListed(list_records(self.qapp.runs_dir, on_progress=so_far)))
        except (ValueError, OSError) as exc:  # e.g. the runs folder itself cannot be read
            self.post_message(RecordsListed([], error_text(exc)))
        except Exception as exc:  # a bug: said, the table kept, and the next refresh not blocked by this one
            self.post_message(RecordsListed(self.records, f"cannot list the runs: {type(exc).__name__}: {exc}"))
            raise

    def on_records_listed(self, message: RecordsListed) -> None:
        reading = message.of > len(message.records)
        if not reading:
            self._listing = False
        if self._list_again and not reading:  # asked again meanwhile: files may have changed since it began
            self._list_again = False
            self.action_refresh_runs()
        self._reading = message.of if reading else 0
        if message.error:
            self.notify(message.error, title="Runs", severity="error", markup=False)
        self.records = message.records
        if not reading:  # a run not read yet is not gone
            self.selected &= {r.run_id for r in self.records}
            self._warn_problems()
        self._fill()

    def _warn_problems(self) -> None:
        """Runs listed from what could be read (a damaged events line, config.toml or tags.json): said once each,
        as `runs` says it on stderr, not left to look whole."""
        new = [(r.run_id, r.problem) for r in self.records if r.problem and (str(r.path), r.problem) not in self._warned]
        self._warned |= {(str(r.path), r.problem) for r in self.records if r.problem}
        if new:
            more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
            run_id, problem = new[0]
            self.notify(f"run {run_id}: {problem}{more}", title="Runs: damaged run", severity="warning",
                        markup=False, timeout=10)

    def _fill(self) -> None:
        """Apply the filters and the sort (the engine's), redraw, keep the cursor on the same run."""
        from engine.runs.index import filter_runs, sort_runs

        self._filter_timer = None
        self.shown = sort_runs(filter_runs(self.records, text=self.text_filter, status=self.status_filter),
                               self.sort_key, descending=self.descending)
        table = self.query_one("#runs", DataTable)
        current = self._cursor_path()
        table.clear()
        columns = self._columns()
        for r in self.shown:
            mark = "●" if r.run_id in self.selected else " "
            table.add_row(plain(mark), *(plain(cell(r, c.key)) for c in columns), key=str(r.path))
        if current is not None and current in {str(r.path) for r in self.shown}:
            table.move_cursor(row=table.get_row_index(current))
        self._show_where()

    def _show_where(self) -> None:
        status = f" · status {self.status_filter}" if self.status_filter else ""
        text = f" · “{self.text_filter}”" if self.text_filter else ""
        chosen = f" · {len(self.selected)} selected" if self.selected else ""
        reading = f" (reading: {len(self.records)} of {self._reading:,} so far)" if self._reading else ""
        self.query_one("#where", Static).update(
            f"{len(self.shown)}/{len(self.records)} run(s){reading}{status}{text}{chosen} · sort {self.sort_key} "
            f"· {self.qapp.runs_dir}")

    def _cursor_path(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _cursor_record(self) -> RunRecord | None:
        path = self._cursor_path()
        return next((r for r in self.shown if str(r.path) == path), None)

    # ----- sort and filter -----

    def _sort_by(self, key: str, descending: bool) -> None:
        self.sort_key, self.descending = key, descending
        self._build_columns()
        self._fill()

    def action_sort_next(self) -> None:
        """Sort by the next column (cycles through the columns shown)."""
        keys = [c.key for c in self._columns()]
        nxt = keys[(keys.index(self.sort_key) + 1) % len(keys)] if self.sort_key in keys else keys[0]
        self._sort_by(nxt, False)

    def action_sort_reverse(self) -> None:
        self._sort_by(self.sort_key, not self.descending)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key and key != "mark":
            self._sort_by(key, not self.descending if key == self.sort_key else False)

    def action_status_next(self) -> None:
        """Show only runs of one status; cycles through the statuses, then all."""
        i = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(i + 1) % len(STATUS_FILTERS)]
        self._fill()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.text_filter = event.value
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self._filter_timer = self.set_timer(FILTER_PAUSE_S, self._fill)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if self._filter_timer is not None:  # Enter applies the filter now
                self._filter_timer.stop()
                self._filter_timer = None
                self._fill()
            self.query_one("#runs", DataTable).focus()

    # ----- selection, tags, deletion -----

    def action_toggle_select(self) -> None:
        r = self._cursor_record()
        if r is None:
            return
        self.selected.symmetric_difference_update({r.run_id})
        table = self.query_one("#runs", DataTable)
        table.update_cell(str(r.path), "mark", plain("●" if r.run_id in self.selected else " "))
        self._show_where()

    def action_tag(self) -> None:
        r = self._cursor_record()
        if r is None:
            self.notify("no run selected", severity="warning")
            return
        self.app.push_screen(TagRunScreen(r.run_id, r.tags), lambda tags: self._tagged(r, tags))

    def _tagged(self, r: RunRecord, tags: list[str] | None) -> None:
        from engine.runs.tags import tag_run

        if not tags:
            return
        try:
            r.tags = tag_run(r.path, *tags)
        except (ValueError, OSError) as exc:
            self.notify(error_text(exc), title="Tag", severity="error", markup=False)
            return
        self._fill()

    def action_delete(self) -> None:
        r = self._cursor_record()
        if r is None:
            self.notify("no run selected", severity="warning")
            return
        if r.status == "running":
            self.notify(f"run {r.run_id} is running: stop it before deleting it", title="Delete",
                        severity="error", markup=False)
            return
        self.app.push_screen(DeleteRunScreen(r.run_id), lambda yes: self._delete(r) if yes else None)

    def _delete(self, r: RunRecord) -> None:
        from engine.runs.index import delete_run

        try:
            delete_run(self.qapp.runs_dir, r.path)
        except (ValueError, OSError) as exc:  # RunError is a ValueError: e.g. it started running meanwhile
            self.notify(error_text(exc), title="Delete", severity="error", markup=False)
            return
        self.notify(f"deleted {r.run_id}", title="Delete", markup=False)
        self.records = [x for x in self.records if x.run_id != r.run_id]
        self.selected.discard(r.run_id)
        self._fill()

    # ----- compare, sweep, open -----

    def chosen(self) -> list[RunRecord]:
        """The selected runs in table order, or the run under the cursor when none is selected."""
        if self.selected:
            return [r for r in self.shown if r.run_id in self.selected] + \
                [r for r in self.records if r.run_id in self.selected and r not in self.shown]
        r = self._cursor_record()
        return [] if r is None else [r]

    def action_compare(self) -> None:
        from .compare import CompareScreen

        runs = self.chosen()
        if not runs:
            self.notify("no run selected", severity="warning")
            return
        self.app.push_screen(CompareScreen([r.path for r in runs]))

    def action_sweep(self) -> None:
        """The Sweep view of the cursor run's study, or of the newest sweep in the runs directory."""
        from engine.sweep.summary import summary_path

        from .sweep import SweepScreen, newest_sweep

        r = self._cursor_record()
        path = summary_path(self.qapp.runs_dir, r.study) if r is not None and r.study else \
            newest_sweep(self.qapp.runs_dir)
        if path is None or not path.is_file():
            self.notify("no sweep in this runs directory", severity="warning")
            return
        self.app.push_screen(SweepScreen(path))

    def action_open(self, how: str) -> None:
        """Open, attach to or resume the run under the cursor (then the Training screen shows it)."""
        selected = self._cursor_path()
        if selected is None:
            self.notify("no run selected", severity="warning")
            return
        self.qapp.open_run(Path(selected), how)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open("open")
