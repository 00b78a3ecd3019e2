"""Report: the performance report of the run on show (or one chosen from the runs directory); export, copy."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Select, Static

from engine.fileio import error_text

from ..view import SessionView
from ..widgets.plain_table import plain
from ..messages import ReportReady, RunsListed
from .base import AppScreen
from .listing import notify_listing_error, runs_listed

if TYPE_CHECKING:
    from engine.report import PerformanceReport

CURRENT = "__current__"
REBUILD_EVERY_S = 2.0  # while a run is live, the report (read from events.jsonl) is rebuilt at most this often


class ReportScreen(AppScreen):
    MODE = "report"
    PURPOSE = "The performance report of the current or chosen run, as written to report.md; export it."
    AUTO_FOCUS = "#report-scroll"
    PALETTE = (
        ("Report: export Markdown", "Write report.md into the run directory (and download it in a browser)",
         "export('md')"),
        ("Report: export JSON", "Write report.json into the run directory (and download it in a browser)",
         "export('json')"),
        ("Report: copy", "Copy the report text to the clipboard", "copy"),
        ("Report: refresh", "Rebuild the report from the run's events", "refresh_report"),
        ("Report: write report files", "report.md, .html, .json and plots into the run directory (w)",
         "write_files"),
    )
    BINDINGS = [
        Binding("m", "export('md')", "Markdown", id="report.markdown"),
        Binding("j", "export('json')", "JSON", id="report.json"),
        Binding("c", "copy", "Copy", id="report.copy"),
        Binding("g", "refresh_report", "Refresh", id="report.refresh"),
        Binding("w", "write_files", "Write files", id="report.write"),
    ]
    DEFAULT_CSS = """
    ReportScreen {
        #toolbar { height: 1; }
        #run { width: 1fr; }
        #toolbar Button { margin-left: 1; }
        #report-scroll { height: 1fr; padding: 0 1; }
        #report { width: auto; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: PerformanceReport | None = None
        self._report_dir: Path | None = None
        self._version = -1
        self._built_at = 0.0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="toolbar"):
            yield Select([("run on show", CURRENT)], value=CURRENT, allow_blank=False, compact=True, id="run")
            yield Button("Markdown", compact=True, id="md")
            yield Button("JSON", compact=True, id="json")
            yield Button("Copy", compact=True, id="copy")
        with VerticalScroll(id="report-scroll"):
            yield Static("", id="report", markup=False)

    def on_mount(self) -> None:
        self._list_runs()

    def on_screen_resume(self) -> None:
        if self.ready:  # after the switch is on screen: the listing competes with the UI for the GIL
            self.call_after_refresh(self._list_runs)

    # Listing runs and building a report read events.jsonl files: both run in worker threads, so
    # switching to this screen stays instant however long the run.

    @work(thread=True, group="report-runs", exclusive=True, exit_on_error=False)
    def _list_runs(self) -> None:
        self.post_message(runs_listed(self.qapp.runs_dir))

    def on_runs_listed(self, message: RunsListed) -> None:
        notify_listing_error(self, message)
        select = self.query_one("#run", Select)
        options = [("run on show", CURRENT)] + [(plain(f"{r.run_id}  {r.status}"), str(r.path)) for r in message.runs]
        value = select.value
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = value if any(v == value for _, v in options) else CURRENT

    def show_view(self, view: SessionView) -> None:
        super().show_view(view)
        if self.query_one("#run", Select).value != CURRENT or view.version == self._version:
            return
        now = time.monotonic()
        if view.finished is None and self.qapp.bridge.active and now - self._built_at < REBUILD_EVERY_S:
            return
        self._version, self._built_at = view.version, now
        self.call_after_refresh(self.action_refresh_report)

    @on(Select.Changed, "#run")
    def _run_chosen(self) -> None:
        self.action_refresh_report()

    def action_refresh_report(self) -> None:
        """Build the report of the chosen run from its events."""
        choice = self.query_one("#run", Select).value
        self._build(None if choice == CURRENT else Path(str(choice)))

    @work(thread=True, group="report", exclusive=True, exit_on_error=False)
    def _build(self, run_dir: Path | None) -> None:
        from engine.runs import load_run_config
        from engine.runs.report_files import run_report

        try:
            if run_dir is None:
                report, where = self.qapp.bridge.report(), self.qapp.bridge.run_dir
            else:
                try:
                    config = load_run_config(run_dir)
                except ValueError:
                    config = None
                report, where = run_report(run_dir, config), run_dir
        except LookupError as exc:
            self.post_message(ReportReady(None, None, str(exc)))
        except (ValueError, OSError) as exc:
            self.post_message(ReportReady(None, None, f"cannot build the report: {error_text(exc)}"))
        else:
            self.post_message(ReportReady(report, where))

    def on_report_ready(self, message: ReportReady) -> None:
        self.report, self._report_dir = message.report, message.run_dir
        text = message.error if message.report is None else message.report.to_text()
        self.query_one("#report", Static).update(text or "")

    def _rendered(self, kind: str) -> str:
        assert self.report is not None
        if kind == "md":
            return self.report.to_markdown()
        return json.dumps(self.report.to_json(), indent=2) + "\n"

    def action_export(self, kind: str) -> None:
        """report.md / report.json into the run directory; in a browser, also offered as a download."""
        if self.report is None:
            self.notify("no report to export", severity="warning")
            return
        name = "report.md" if kind == "md" else "report.json"
        content = self._rendered(kind)
        if self._report_dir is None and not self.app.is_web:
            self.notify("this run has no run directory to export into; use Copy", severity="warning")
            return
        if self._report_dir is not None:
            from engine.fileio import atomic_write_bytes

            path = self._report_dir / name
            try:
                atomic_write_bytes(path, content.encode("utf-8"))
            except OSError as exc:
                self.notify(f"{path}: cannot write: {exc.strerror or exc}", severity="error", markup=False)
                return
            self.notify(f"wrote {path}", title="Report", markup=False)
        if self.app.is_web:  # the run directory is on the server: hand the file to the browser too
            self.app.deliver_text(io.StringIO(content), save_filename=name, open_method="download")

    def action_write_files(self) -> None:
        """Every report file with its plots into the run directory; the notification names them."""
        if self._report_dir is None:
            self.notify("this report has no run directory to write into", severity="warning")
            return
        self.notify("writing the report files (drawing the plots)...", timeout=3)
        self._write_files(self._report_dir)

    @work(thread=True, group="report-files", exclusive=True, exit_on_error=False)
    def _write_files(self, run_dir: Path) -> None:
        from engine.runs.report_files import write_report_files

        try:
            files = write_report_files(run_dir)
        except (OSError, ValueError) as exc:
            self.app.call_from_thread(self.notify, f"{run_dir}: cannot write the report files: {error_text(exc)}",
                                      severity="error", markup=False)
            return
        names = ", ".join(p.name for p in files.paths())
        self.app.call_from_thread(self.notify, f"wrote {names} in {run_dir}", title="Report", timeout=10,
                                  markup=False)

    def action_copy(self) -> None:
        """The report text to the clipboard (OSC 52: works over SSH and in tmux with set-clipboard on)."""
        if self.report is None:
            self.notify("no report to copy", severity="warning")
            return
        self.app.copy_to_clipboard(self.report.to_text())
        self.notify("report copied to the clipboard", timeout=3)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("md", "json"):
            self.action_export(event.button.id)
        elif event.button.id == "copy":
            self.action_copy()
