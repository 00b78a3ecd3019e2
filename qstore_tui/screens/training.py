"""Training: progress, loss and accuracy curves, throughput, queue, log; pause, resume and stop."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal

from ..view import SessionView
from ..widgets.line_chart import LineChart
from ..widgets.log_pane import LogPane
from ..widgets.queue_table import QueueTable
from ..widgets.run_progress import RunProgress
from ..widgets.stats_panel import StatsPanel
from .base import AppScreen


class TrainingScreen(AppScreen):
    MODE = "training"
    PURPOSE = "The run as it trains: progress, loss and accuracy curves, throughput, the batch or job queue, the log."
    AUTO_FOCUS = None  # nothing takes the keys: 1-5, p, r, s always work
    BINDINGS = [
        Binding("p", "pause", "Pause", id="training.pause"),
        Binding("r", "resume", "Resume", id="training.resume"),
        Binding("s", "stop", "Stop", id="training.stop"),
    ]
    DEFAULT_CSS = """
    TrainingScreen {
        #charts { height: 1fr; min-height: 6; }
        #charts LineChart { width: 1fr; }
        #queue { height: 1fr; min-height: 4; }
        #log { height: 1fr; min-height: 3; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._controls: tuple[bool, str] | None = None

    def compose_body(self) -> ComposeResult:
        yield RunProgress(id="progress")
        with Horizontal(id="charts"):
            yield LineChart("step loss", id="loss")
            yield LineChart("batch train acc", fixed_range=(0.0, 1.0), id="accuracy")
        yield StatsPanel(id="stats")
        yield QueueTable(id="queue")
        yield LogPane(id="log")

    def show_view(self, view: SessionView) -> None:
        super().show_view(view)
        self.query_one(RunProgress).set_view(view)
        self.query_one("#loss", LineChart).set_values(view.losses)
        val = f"val {view.val_accuracies[-1]:.3f}" if view.val_accuracies else ""
        self.query_one("#accuracy", LineChart).set_values(view.accuracies, note=val)
        self.query_one(StatsPanel).set_view(view)
        self.query_one(QueueTable).set_rows(view.queue, view.in_flight, view.queue_kind)
        self.query_one(LogPane).set_lines(view.logs)
        controls = (self.qapp.bridge.can_control, view.status)
        if controls != self._controls:  # the footer is rebuilt on a refresh: only when its keys change
            self._controls = controls
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only the controls that make sense now are shown in the footer."""
        bridge = self.qapp.bridge
        status = bridge.view.status
        if action == "pause":
            return bridge.can_control and status == "running"
        if action == "resume":
            return bridge.can_control and status == "paused"
        if action == "stop":
            return bridge.can_control and status in ("running", "paused", "starting")
        return True

    def action_pause(self) -> None:
        self.qapp.action_pause()

    def action_resume(self) -> None:
        self.qapp.action_resume_training()

    def action_stop(self) -> None:
        self.qapp.action_stop()
