"""A Comparison as text, Markdown, CSV or JSON: what `qstore-tui compare` prints or writes.

text / md: the runs (status, results, cost), the config fields that differ, and with --group-by each
group's final mean and band. csv: one row per run with the differing fields as columns (for a
spreadsheet). json: everything, curves included (smoothed as asked).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict
from typing import Literal

from .. import strict_json
from ..quoting import printable
from .compare import Comparison, GroupCurve
from .index import RunRecord

Format = Literal["text", "md", "csv", "json"]
FORMATS = ("text", "md", "csv", "json")


def _num(value: float | None, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _usd(r: RunRecord) -> str:
    if r.cost_actual_usd is not None:
        return f"${r.cost_actual_usd:,.2f}"
    return f"~${r.cost_estimated_usd:,.2f}" if r.cost_estimated_usd is not None else "-"


def _run_rows(cmp: Comparison) -> list[list[str]]:
    rows = [["run", "status", "best val acc", "final val acc", "final loss", "circuits", "duration", "cost"]]
    for r in cmp.records:
        rows.append([r.run_id, r.status, _num(r.best_val_accuracy), _num(r.final_val_accuracy),
                     _num(r.final_loss), f"{r.circuits:,}", f"{r.duration_s:.1f}s", _usd(r)])
    return rows


def _diff_rows(cmp: Comparison) -> list[list[str]]:
    rows = [["field", *[r.run_id for r in cmp.records]]]
    for d in cmp.diffs:
        rows.append([d.field, *[d.values[r.run_id] for r in cmp.records]])
    return rows


def _last(g: GroupCurve) -> tuple[float, float, float, float, int] | None:
    if not g.x:
        return None
    return g.x[-1], g.mean[-1], g.lo[-1], g.hi[-1], g.n[-1]


def _group_rows(cmp: Comparison) -> list[list[str]]:
    band = "min..max" if not cmp.groups or next(iter(cmp.groups.values()))[0].band == "minmax" else "mean±std"
    rows = [[cmp.group_by or "group", "runs", "metric", f"at {cmp.axis}", "mean", band]]
    for metric, groups in cmp.groups.items():
        for g in groups:
            last = _last(g)
            if last is None:
                rows.append([g.value, str(len(g.run_ids)), metric, "-", "-", "-"])
                continue
            x, mean, lo, hi, n = last
            rows.append([g.value, f"{n}/{len(g.run_ids)}", metric, f"{x:g}", f"{mean:.4f}", f"{lo:.4f}..{hi:.4f}"])
    return rows


def _table(rows: list[list[str]]) -> str:
    rows = [[printable(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _md(rows: list[list[str]]) -> str:
    """A Markdown table; every cell, the header's too (run names head the diff columns), escaped."""
    cells = [[printable(c).replace("|", "\\|") for c in row] for row in rows]
    out = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in cells[0]) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(out)


def render_comparison(cmp: Comparison, fmt: Format) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "json":
        return strict_json.dumps(comparison_json(cmp), indent=1) + "\n"
    if fmt == "csv":
        return comparison_csv(cmp)
    table = _md if fmt == "md" else _table
    smoothing = f", EMA smoothing {cmp.smoothing:g}" if cmp.smoothing else ""
    parts = [("## Runs" if fmt == "md" else "Runs") + f" ({len(cmp.records)}, {cmp.axis} axis{smoothing})",
             table(_run_rows(cmp))]
    if cmp.diffs:
        parts += ["## Config fields that differ" if fmt == "md" else "Config fields that differ",
                  table(_diff_rows(cmp))]
    else:
        parts.append("The runs have the same config." if len(cmp.records) > 1 else "")
    if cmp.group_by:
        parts += [(f"## Groups by {cmp.group_by}" if fmt == "md" else f"Groups by {cmp.group_by}")
                  + " (last point of each group's mean curve)", table(_group_rows(cmp))]
    return "\n\n".join(p for p in parts if p) + "\n"


def comparison_csv(cmp: Comparison) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    fields = [d.field for d in cmp.diffs]
    w.writerow(["run_id", "status", *fields, "best_val_accuracy", "final_val_accuracy", "final_loss", "circuits",
                "duration_s", "cost_estimated_usd", "cost_actual_usd"])
    for r in cmp.records:
        w.writerow([r.run_id, r.status, *[d.values[r.run_id] for d in cmp.diffs],
                    *["" if v is None else repr(v) if isinstance(v, float) else v for v in (
                        r.best_val_accuracy, r.final_val_accuracy, r.final_loss, r.circuits, r.duration_s,
                        r.cost_estimated_usd, r.cost_actual_usd)]])
    return out.getvalue()


def comparison_json(cmp: Comparison) -> dict[str, object]:
    def record(r: RunRecord) -> dict[str, object]:
        return {k: v for k, v in asdict(r).items() if k not in ("config", "path")} | {"path": str(r.path)}

    return {
        "axis": cmp.axis, "smoothing": cmp.smoothing, "group_by": cmp.group_by,
        "runs": [record(r) for r in cmp.records],
        "differing_fields": [asdict(d) for d in cmp.diffs],
        "curves": {m: [asdict(c) for c in cs] for m, cs in cmp.curves.items()},
        "groups": {m: [asdict(g) for g in gs] for m, gs in cmp.groups.items()},
    }
