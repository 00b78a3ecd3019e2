"""A run's report as files with pictures: report.md (images linked), report.html (self-contained), report.json,
and the PNG/SVG curves in <run>/plots/.

Drawn on demand (the Report screen's export, `qstore-tui report RUN --write`), not at every run's end:
matplotlib costs a second to import and the session should finish as soon as training does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write_bytes
from .directory import REPORT_JSON, REPORT_MD, load_run_config
from .eventlog import iter_events
from .plots import Plot, plots_markdown, run_plots

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


def write_report_files(run_dir: Path) -> ReportFiles:
    """Build the report from the run's events and write it with its pictures."""
    from ..report import build_report
    from ..report.html import to_html

    run_dir = Path(run_dir)
    report = build_report(iter_events(run_dir), load_run_config(run_dir))  # folded line by line
    plots = tuple(run_plots(run_dir))
    markdown = report.to_markdown() + "\n## Plots\n\n" + plots_markdown(plots, run_dir) + "\n"
    md = atomic_write_bytes(run_dir / REPORT_MD, markdown.encode())
    page = atomic_write_bytes(run_dir / REPORT_HTML, to_html(report, plots).encode())
    js = atomic_write_bytes(run_dir / REPORT_JSON, report.to_json_bytes())  # the same bytes, encoded lazily
    return ReportFiles(md, page, js, plots)
