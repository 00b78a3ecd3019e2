"""A run's report as files with pictures: report.md (images linked), report.html (self-contained), report.json,
and the PNG/SVG curves in <run>/plots/.

Drawn on demand (the Report screen's export, `qstore-tui report RUN --write`), not at every run's end:
matplotlib costs a second to import and the session should finish as soon as training does.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import TrainingConfig
from ..fileio import atomic_write_bytes
from .directory import REPORT_JSON, REPORT_MD, is_running, load_run_config
from .eventlog import iter_events
from .plots import Plot, plots_markdown, run_plots

if TYPE_CHECKING:
    from ..report import PerformanceReport

REPORT_HTML = "report.html"


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    json: Path
    plots: tuple[Plot, ...]

    def paths(self) -> list[Path]:
        """Every file written, report files first (what the Report screen names)."""
        out = [self.markdown, self.html, self.json]
        for p in self.plots:
            out += [p.png, p.svg]
        return out


def run_report(run_dir: Path, config: TrainingConfig | None) -> PerformanceReport:
    """The report of a run directory, folded from its events line by line; a run another process is still
    writing says `running` (its events alone say `incomplete`, as a killed run's do)."""
    from ..report import build_report

    report = build_report(iter_events(run_dir), config)
    run = report.run
    if run.status == "incomplete" and is_running(run_dir):
        run.status = "running"
    if run.segments == 0:  # never started (no RunStarted): what the listings call it, and what its config says
        run.status, run.run_id = ("running" if is_running(run_dir) else "new"), Path(run_dir).name
        if config is not None:
            run.backend, run.target, run.n_qubits = config.backend, config.quantum_target, config.n_qubits
    return report


def write_report_files(run_dir: Path) -> ReportFiles:
    """Build the report from the run's events and write it with its pictures."""
    from ..report.html import to_html

    run_dir = Path(run_dir)
    for name in (REPORT_MD, REPORT_HTML, REPORT_JSON):  # checked first: a set of files half rewritten is worse
        if (run_dir / name).is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(run_dir / name))
    report = run_report(run_dir, load_run_config(run_dir))
    plots = tuple(run_plots(run_dir))
    markdown = report.to_markdown() + "\n## Plots\n\n" + plots_markdown(plots, run_dir) + "\n"
    md = atomic_write_bytes(run_dir / REPORT_MD, markdown.encode())
    page = atomic_write_bytes(run_dir / REPORT_HTML, to_html(report, plots).encode())
    js = atomic_write_bytes(run_dir / REPORT_JSON, report.to_json_bytes())  # the same bytes, encoded lazily
    return ReportFiles(md, page, js, plots)
