"""Pictures of runs: loss and accuracy curves of one run, and the overlay of a comparison, as PNG and SVG.

matplotlib is imported here only, when a picture is drawn (never at app start), through its object API
(Figure + the Agg canvas): no pyplot, no global figure state, safe from a worker thread. The SVG files carry
no date, so the same data draws the same bytes.
"""

from __future__ import annotations

import base64
import errno
import html
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .compare import Comparison, Curve, run_curves

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PLOTS_DIR = "plots"
_SIZE = (6.4, 3.6)


@dataclass(frozen=True)
class Plot:
    """One picture, written twice: `png` and `svg` (same stem)."""

    title: str
    png: Path
    svg: Path


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, out_dir: Path, stem: str, title: str) -> Plot:
    import matplotlib

    if out_dir.exists() and not out_dir.is_dir():  # mkdir's "file exists" named the wrong problem
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    with matplotlib.rc_context({"svg.hashsalt": "qstore", "svg.fonttype": "none"}), warnings.catch_warnings():
        # matplotlib's warnings (a glyph the font lacks, drawn as a box; a tick overflow near 1e308) printed its
        # source lines on stderr, under the command's one line; the plot is written either way
        warnings.simplefilter("ignore")
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return Plot(title, png, svg)


def _line(ax: Axes, curve: Curve, label: str, **style: object) -> None:
    if curve.x:
        ax.plot(curve.x, curve.y, label=label, linewidth=1.5, **style)  # type: ignore[arg-type]


def run_plots(run_dir: Path, out_dir: Path | None = None, *, axis: str = "step") -> list[Plot]:
    """loss.png/.svg (train and validation loss) and accuracy.png/.svg of one run, in <run>/plots/."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / PLOTS_DIR
    curves = run_curves(run_dir, axis="epoch" if axis == "epoch" else "step")
    plots = []
    for stem, title, pairs, ylabel in (
        ("loss", "Loss", (("loss", "train"), ("val_loss", "validation")), "loss"),
        ("accuracy", "Accuracy", (("accuracy", "train"), ("val_accuracy", "validation")), "accuracy"),
    ):
        fig, ax = _figure()
        for metric, label in pairs:
            _line(ax, curves[metric], label, marker="o" if metric.startswith("val_") else None)
        ax.set_title(f"{title} — {run_dir.name}")
        ax.set_xlabel(f"{axis}s done" if axis == "step" else "epochs")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(loc="best", fontsize="small")
        plots.append(_save(fig, out, stem, title))
    return plots


def comparison_plots(cmp: Comparison, out_dir: Path, *, stem: str = "compare", log_loss: bool = False) -> list[Plot]:
    """The overlay: one colour per run (or per group, with its band), a legend, loss (optionally log) and
    validation accuracy on the comparison's axis; `<stem>-loss` and `<stem>-val_accuracy` files."""
    plots = []
    for metric in cmp.curves:
        fig, ax = _figure()
        groups = cmp.groups.get(metric) or []
        if groups:
            for i, g in enumerate(groups):
                color = f"C{i % 10}"
                if g.x:
                    ax.plot(g.x, g.mean, color=color, linewidth=1.8,
                            label=f"{g.field}={g.value} (n={len(g.run_ids)})")
                    ax.fill_between(g.x, g.lo, g.hi, color=color, alpha=0.2, linewidth=0)
        else:
            for i, c in enumerate(cmp.curves[metric]):
                _line(ax, c, c.run_id, color=f"C{i % 10}")
        title = metric.replace("_", " ")
        ax.set_title(title + (f" (EMA {cmp.smoothing:g})" if cmp.smoothing else ""))
        ax.set_xlabel("steps done" if cmp.axis == "step" else "epochs")
        ax.set_ylabel(title)
        if log_loss and metric in ("loss", "val_loss"):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(loc="best", fontsize="small")
        plots.append(_save(fig, Path(out_dir), f"{stem}-{metric}", title))
    return plots


comparison_figures = comparison_plots  # the name the CLI uses


def plots_markdown(plots: Sequence[Plot], relative_to: Path) -> str:
    """Image lines for report.md (PNG, paths relative to the report's folder)."""
    lines = []
    for p in plots:
        try:
            rel = p.png.relative_to(relative_to)
        except ValueError:
            rel = p.png
        lines.append(f"![{p.title}]({rel.as_posix()})")
    return "\n\n".join(lines)


def plots_html(plots: Sequence[Plot]) -> str:
    """Figures for a self-contained report.html: each PNG inlined as a base64 data URI."""
    parts = []
    for p in plots:
        data = base64.b64encode(p.png.read_bytes()).decode()
        parts.append(f'<figure><img alt="{html.escape(p.title)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(p.title)}</figcaption></figure>")
    return "\n".join(parts)
