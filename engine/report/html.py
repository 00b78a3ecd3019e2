"""The report as one self-contained HTML file: the same sections as the Markdown, pictures inlined (base64 PNG).

Nothing outside the file is fetched (no scripts, fonts or stylesheets), so report.html opens offline
and can be mailed as it is.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Sequence

from .render import SECTIONS
from .sections import ReportData

if TYPE_CHECKING:
    from ..runs.plots import Plot

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem}figure{margin:1rem 0}img{max-width:100%}"""


def _table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def to_html(report: ReportData, plots: Sequence[Plot] = ()) -> str:
    from ..runs.plots import plots_html

    title = f"Performance report: {report.run.run_id or 'run'}"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if plots:
        parts.append("<h2>Plots</h2>" + plots_html(plots))
    for section in SECTIONS:
        name, rows = section(report)
        parts.append(f"<h2>{html.escape(name)}</h2>{_table(rows)}")
    if report.config:
        parts.append("<h2>Config</h2>" + _table([(k, str(v)) for k, v in report.config.items()]))
    parts.append("</body></html>\n")
    return "\n".join(parts)
