"""SessionView: everything the screens show about a run, folded from its events (no textual, no engine objects).

The bridge (bridge.py) folds events into it; messages carry it to the screens; widgets read it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from engine.events import (
        CacheStats, Checkpoint, CompilerStats, CostEstimate, Error, MitigationInfo, RunFinished, SpendUpdate,
        StoreUpdate, _Event,
    )

Source = Literal["none", "live", "attach", "replay"]
QUEUE_ROWS = 200
LOG_LINES = 1000
THROUGHPUT_POINTS = 240
_TERMINAL_JOB = {"completed", "failed", "canceled", "cancelled", "done"}


@dataclass
class QueueRow:
    """One in-flight or recent IonQ job (from JobUpdate) or local batch (from BatchExecuted)."""

    id: str
    circuits: int
    status: str
    queue_s: float | None
    run_s: float | None


@dataclass
class LogLine:
    time: float
    level: str
    message: str


@dataclass
class SessionView:
    """Everything the screens show about a run, folded from its events. No textual, no engine objects."""

    source: Source = "none"
    run_id: str | None = None
    backend: str = ""
    target: str = ""
    n_qubits: int = 0
    n_params: int = 0
    status: str = "idle"
    started_at: float | None = None
    last_time: float | None = None
    # The timer is training time: a resumed run sums its segments (RunStarted to RunFinished, or to its
    # last event when it was killed), never the downtime between a kill and the resume.
    active_before_s: float = 0.0  # the segments that ended
    segment_start: float | None = None  # the running segment's RunStarted time
    epoch: int = 0
    total_epochs: int | None = None
    step: int = 0  # optimizer steps done
    total_steps: int = 0
    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)  # one per step that reported it
    val_accuracies: list[float] = field(default_factory=list)
    grad_norm: float | None = None
    spsa_a: float | None = None
    spsa_c: float | None = None
    learning_rate: float | None = None
    throughput: deque[float] = field(default_factory=lambda: deque(maxlen=THROUGHPUT_POINTS))
    circuits_done: int = 0
    batches_done: int = 0
    shots_spent: int = 0  # by the training steps (StepMetrics.shots), resynced at each ShotsSpent
    shots_per_loss: float | None = None  # from the last ShotsSpent (epoch end)
    cache: CacheStats | None = None
    compiler: CompilerStats | None = None
    cost: CostEstimate | None = None
    spend: SpendUpdate | None = None  # actual IonQ spend so far (QPU runs)
    mitigation: MitigationInfo | None = None
    checkpoint: Checkpoint | None = None
    store: StoreUpdate | None = None
    jobs: OrderedDict[str, QueueRow] = field(default_factory=OrderedDict)
    batches: OrderedDict[str, QueueRow] = field(default_factory=OrderedDict)
    logs: deque[LogLine] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    errors: list[Error] = field(default_factory=list)
    finished: RunFinished | None = None
    version: int = 0

    @property
    def elapsed_s(self) -> float | None:
        if self.segment_start is not None and self.last_time is not None:
            return self.active_before_s + max(0.0, self.last_time - self.segment_start)
        if self.started_at is None and self.finished is None:
            return None
        return self.active_before_s

    def apply(self, event: _Event) -> None:
        """Fold one event in. Unknown kinds are ignored: the view shows what it knows."""
        # Dispatch on the event's kind: no engine import on the app's start-up path.
        kind = getattr(event, "kind", "")
        self.version += 1
        before, self.last_time = self.last_time, event.time or self.last_time
        if kind == "run_started":
            if self.segment_start is not None and before is not None:  # the last segment was killed
                self.active_before_s += max(0.0, before - self.segment_start)
            self.segment_start = self.last_time
            self.run_id, self.backend, self.target = event.run_id, event.backend, event.target
            self.n_qubits, self.n_params, self.total_steps = event.n_qubits, event.n_params, event.total_steps
            self.status, self.finished = "running", None
            if self.started_at is None:
                self.started_at = event.time
            where = f" (resumed at step {event.resumed_from_step})" if event.resumed_from_step else ""
            self._log(event.time, "info", f"run {event.run_id} started on {event.backend}/{event.target}{where}")
        elif kind == "step_metrics":
            self.epoch, self.step, self.total_steps = event.epoch, event.step + 1, event.total_steps
            self.losses.append(event.loss)
            if event.accuracy is not None:
                self.accuracies.append(event.accuracy)
            self.grad_norm = event.grad_norm if event.grad_norm is not None else self.grad_norm
            self.spsa_a = event.spsa_a if event.spsa_a is not None else self.spsa_a
            self.spsa_c = event.spsa_c if event.spsa_c is not None else self.spsa_c
            self.learning_rate = event.learning_rate if event.learning_rate is not None else self.learning_rate
            self.shots_spent += getattr(event, "shots", None) or 0
        elif kind == "shots_spent":
            self.shots_spent, self.shots_per_loss = event.step_shots, event.shots_per_loss
        elif kind == "epoch_finished":
            if event.val_accuracy is not None:
                self.val_accuracies.append(event.val_accuracy)
            val = f", val acc {event.val_accuracy:.3f}" if event.val_accuracy is not None else ""
            self._log(event.time, "info", f"epoch {event.epoch + 1} done: epoch loss {event.train_loss:.4f}{val}")
        elif kind == "batch_executed":
            self.batches_done += 1
            self.circuits_done += event.circuits
            if math.isfinite(event.throughput_cps):  # Textual's Sparkline scales by int(): a NaN there ends the app
                self.throughput.append(event.throughput_cps)
            queue_ms = event.stage_ms.get("queue")
            run_ms = event.stage_ms.get("execute", event.total_ms)
            _keep(self.batches, QueueRow(
                f"batch {event.batch_id}", event.circuits, "failed" if event.failed else "done",
                None if queue_ms is None else queue_ms / 1000.0, run_ms / 1000.0,
            ))
        elif kind == "job_update":
            _keep(self.jobs, QueueRow(event.job_id, event.circuits, event.status, event.queue_s, event.run_s))
        elif kind == "cache_stats":
            self.cache = event
        elif kind == "compiler_stats":
            self.compiler = event
        elif kind == "cost_estimate":
            self.cost = event
        elif kind == "spend_update":
            self.spend = event
        elif kind == "mitigation":
            self.mitigation = event
        elif kind == "checkpoint":
            self.checkpoint = event
        elif kind == "store_update":
            self.store = event
        elif kind == "log":
            self._log(event.time, event.level, event.message)
            # The session announces pause and resume as log lines; an attached viewer learns them here.
            if event.message == "paused" and self.status == "running":
                self.status = "paused"
            elif event.message == "resumed" and self.status == "paused":
                self.status = "running"
        elif kind == "error":
            self.errors.append(event)
            self._log(event.time, "error", f"{event.source}: {event.message}")
        elif kind == "run_finished":
            self.finished, self.status = event, event.status
            if self.segment_start is not None:
                self.active_before_s += event.wall_s or max(0.0, (self.last_time or 0.0) - self.segment_start)
                self.segment_start = None
            else:  # it ended before its RunStarted (a refused key): the session's own time
                self.active_before_s += event.wall_s
            text = f"run {event.status} after {event.steps} steps"
            self._log(event.time, "error" if event.status == "failed" else "info",
                      text + (f": {event.message}" if event.message else ""))

    def note(self, when: float, level: str, message: str) -> None:
        """A line from the app itself (stopping, worker errors)."""
        self.version += 1
        self._log(when, level, message)

    def _log(self, when: float, level: str, message: str) -> None:
        self.logs.append(LogLine(when, level, message))

    @property
    def queue(self) -> list[QueueRow]:
        """IonQ jobs when the backend reports them (each batch is one or more jobs), else local batches."""
        return list((self.jobs or self.batches).values())

    @property
    def queue_kind(self) -> str:
        return "IonQ jobs" if self.jobs else "batches"

    @property
    def in_flight(self) -> int:
        return sum(1 for r in self.jobs.values() if r.status not in _TERMINAL_JOB)

    @property
    def fatal_error(self) -> Error | None:
        return next((e for e in reversed(self.errors) if e.fatal), None)


def _keep(rows: OrderedDict[str, QueueRow], row: QueueRow) -> None:
    """Insert or update a row as the newest, keeping the last QUEUE_ROWS."""
    rows[row.id] = row
    rows.move_to_end(row.id)
    while len(rows) > QUEUE_ROWS:
        rows.popitem(last=False)
