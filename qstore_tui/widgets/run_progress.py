"""Epoch and step progress on two lines: where the run is, and how far it has to go."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ..view import SessionView


def bar(fraction: float, width: int) -> str:
    """A bar of `width` cells with eighth-cell resolution."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width, "·")[:width]


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class RunProgress(Widget):
    """`epoch 2/5 ███░░ 40%` and `step 37/100 ███░░ 37%`, with the run id, backend and elapsed time."""

    DEFAULT_CSS = """
    RunProgress {
        height: 3;
        padding: 0 1;
        color: $foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: SessionView | None = None

    def set_view(self, view: SessionView) -> None:
        self.view = view
        self.refresh()

    def render(self) -> Text:
        v = self.view
        if v is None or v.source == "none":
            return Text("No run yet. Start one on the Config screen (1), or open one on the Runs screen (5).",
                        style="dim")
        width = self.content_region.width
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(v.run_id or "new run", style="bold")
        where = f"{v.backend}/{v.target}" if v.backend else ""
        model = f"  {v.n_qubits} qubits, {v.n_params} params" if v.n_qubits else ""
        head.append(f"  {where}{model}  {v.status} {_clock(v.elapsed_s)}")
        if v.source == "attach":
            head.append("  (attached)", style="dim")
        error = v.fatal_error
        if error is not None and v.status == "failed":
            colour = self.app.theme_variables.get("error", "")
            failed = Text(no_wrap=True, overflow="ellipsis")
            failed.append(f"✖ run failed: {error.source}: {error.message}", style=f"bold {colour}".strip())
            return Text("\n").join([head, failed])
        steps_per_epoch = v.total_steps / v.total_epochs if v.total_epochs and v.total_steps else None
        epochs_done = v.step / steps_per_epoch if steps_per_epoch else 0.0
        label_w = 18
        bar_w = max(4, width - label_w - 6)
        epoch_label = f"epoch {min(v.epoch + 1, v.total_epochs or v.epoch + 1)}/{v.total_epochs or '?'}"
        step_label = f"step {v.step}/{v.total_steps or '?'}"
        lines = [head]
        for label, fraction in ((epoch_label, epochs_done / v.total_epochs if v.total_epochs else 0.0),
                                (step_label, v.step / v.total_steps if v.total_steps else 0.0)):
            line = Text(no_wrap=True)
            line.append(f"{label:<{label_w}}")
            line.append(bar(fraction, bar_w), style="bold")
            line.append(f" {fraction:>4.0%}")
            lines.append(line)
        return Text("\n").join(lines)
