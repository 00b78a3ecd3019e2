"""metrics.csv: one row per optimizer step, derived from the run's events so it is right after a resume.

Columns: step, epoch, loss, accuracy, val_loss, val_accuracy, grad_norm, circuits, throughput_cps.
A row per step the trainer reported (StepMetrics: every `log_interval` steps and the last one), plus the
last step of every epoch, which carries `val_loss` / `val_accuracy` (empty elsewhere; its training columns
are empty when that step was not reported). `circuits` is that step's own count; `throughput_cps` is the
circuits per second of the training batches executed since the previous reported step (validation
passes excluded), or, where training ran no batches through the batch manager (the exact local
executor), the step's circuits over the wall time since the previous reported step (empty for a
segment's first step, whose interval includes the start-up).

A resumed run repeats the steps after its last checkpoint: the later segment's row replaces the earlier
one, so each step appears once, as the run that continued computed it. The file is rebuilt by
`MetricsWriter` (a bus sink) at every epoch end and at the run's end, and by `write_metrics_csv` on demand.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Iterable

from ..events import BatchExecuted, EpochFinished, Event, RunFinished, RunStarted, StepMetrics, _Event
from .directory import load_run_config
from .eventlog import iter_events
from .replace import replace_bytes

METRICS_FILE = "metrics.csv"
_log = logging.getLogger("engine.runs.metrics")  # a Log event through the session's handler


@dataclass
class MetricRow:
    step: int
    epoch: int
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    grad_norm: float | None = None
    circuits: int = 0
    throughput_cps: float | None = None


METRIC_COLUMNS = tuple(f.name for f in fields(MetricRow))


class MetricsBuilder:
    """Feed it events in order; `rows()` gives one row per step (resumed steps replaced, not repeated)."""

    def __init__(self, epochs: int | None = None) -> None:
        self._epochs = epochs
        self._steps_per_epoch: int | None = None
        self._rows: dict[int, MetricRow] = {}
        self._last_step_of_epoch: dict[int, int] = {}
        self._batch_circuits = 0
        self._batch_ms = 0.0
        self._last_step_time: float | None = None
        self._last_step_no: int | None = None

    def feed(self, event: _Event | Event) -> None:
        if isinstance(event, RunStarted):
            # Steps after the checkpoint are re-run: drop their rows so the new segment's rows win.
            resumed = event.resumed_from_step
            if self._epochs:
                self._steps_per_epoch = max(1, event.total_steps // self._epochs)
            for step in [s for s in self._rows if s >= resumed]:
                del self._rows[step]
            self._batch_circuits, self._batch_ms = 0, 0.0
            self._last_step_time = self._last_step_no = None
        elif isinstance(event, BatchExecuted):
            if event.purpose != "validation":
                self._batch_circuits += event.circuits
                self._batch_ms += event.total_ms
        elif isinstance(event, StepMetrics):
            throughput: float | None = None
            seconds = self._batch_ms / 1000.0
            if seconds > 0:  # not `_batch_ms > 0`: a subnormal total_ms divided by 1,000 is 0
                throughput = self._batch_circuits / seconds
            elif (self._last_step_time is not None and self._last_step_no is not None
                  and event.time > self._last_step_time):
                steps = max(1, event.step - self._last_step_no)
                throughput = event.circuits * steps / (event.time - self._last_step_time)
            self._last_step_time, self._last_step_no = event.time, event.step
            earlier = self._rows.get(event.step)
            self._rows[event.step] = MetricRow(
                step=event.step, epoch=event.epoch, loss=event.loss, accuracy=event.accuracy,
                val_loss=earlier.val_loss if earlier else None, val_accuracy=earlier.val_accuracy if earlier else None,
                grad_norm=event.grad_norm, circuits=event.circuits, throughput_cps=throughput)
            self._last_step_of_epoch[event.epoch] = event.step
            self._batch_circuits, self._batch_ms = 0, 0.0
        elif isinstance(event, EpochFinished):
            if self._steps_per_epoch is not None:
                last: int | None = (event.epoch + 1) * self._steps_per_epoch - 1
            else:  # epochs unknown: the epoch's last reported step
                last = self._last_step_of_epoch.get(event.epoch)
            if last is None:
                return
            row = self._rows.setdefault(last, MetricRow(step=last, epoch=event.epoch))
            row.val_loss, row.val_accuracy = event.val_loss, event.val_accuracy

    def rows(self) -> list[MetricRow]:
        return [self._rows[s] for s in sorted(self._rows)]

    @property
    def steps_per_epoch(self) -> int | None:
        """Optimizer steps in one epoch (the last segment's total_steps / epochs); None without the config's epochs.
        Not the rows an epoch has: with `log_interval` 10, a 32-step epoch has 5 of them."""
        return self._steps_per_epoch

    def take_until(self, step: int) -> list[MetricRow]:
        """Remove and return the rows up to `step`: they are final once their epoch has ended."""
        done = sorted(s for s in self._rows if s <= step)
        return [self._rows.pop(s) for s in done]


def metric_rows(events: Iterable[_Event | Event], epochs: int | None = None) -> list[MetricRow]:
    """Rows from events; `epochs` (the config's) places each epoch's validation on its last step."""
    builder = MetricsBuilder(epochs)
    for event in events:
        builder.feed(event)
    return builder.rows()


def run_metrics(run_dir: Path) -> list[MetricRow]:
    """The rows of a run, from its events.jsonl (and config.toml for the epoch length)."""
    return run_metrics_and_epoch_length(run_dir)[0]


def run_metrics_and_epoch_length(run_dir: Path) -> tuple[list[MetricRow], int | None]:
    """The rows of a run and its steps per epoch (None when config.toml does not load)."""
    try:
        epochs: int | None = load_run_config(Path(run_dir)).epochs
    except ValueError:
        epochs = None
    builder = MetricsBuilder(epochs)
    for event in iter_events(Path(run_dir)):  # streamed: only the rows are held
        builder.feed(event)
    return builder.rows(), builder.steps_per_epoch


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


def _csv_lines(rows: Iterable[MetricRow], *, header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(METRIC_COLUMNS)
    for row in rows:
        writer.writerow([_cell(v) for v in asdict(row).values()])
    return out.getvalue()


def metrics_csv(rows: Iterable[MetricRow]) -> str:
    return _csv_lines(rows, header=True)


def metrics_json(rows: Iterable[MetricRow]) -> list[dict[str, float | int | None]]:
    return [asdict(r) for r in rows]


def _replace_file(path: Path, text: str) -> None:
    replace_bytes(path, text.encode())


def write_metrics_csv(run_dir: Path) -> Path:
    """(Re)write <run>/metrics.csv from events.jsonl."""
    path = Path(run_dir) / METRICS_FILE
    _replace_file(path, metrics_csv(run_metrics(run_dir)))
    return path


class MetricsWriter:
    """A bus sink that keeps metrics.csv current: the rows of each finished epoch are appended at its end.

    Rows leave memory once written, so a long run holds one epoch's rows at most, and each epoch end writes
    only its own rows (rewriting the whole file every epoch grew with the run). Built with the run's earlier
    events (a resumed run): the file is first written from them, then cut back to the steps before the
    resume point when the new segment starts.
    """

    def __init__(self, run_dir: Path, epochs: int, previous: Iterable[_Event | Event] = ()):
        self.path = Path(run_dir) / METRICS_FILE
        self._warned = False
        self._builder = MetricsBuilder(epochs)
        for event in previous:
            self._builder.feed(event)

    def start(self) -> None:
        """Write the earlier rows. Apart from __init__ so that the session calls it once its log handler is in
        place: a warning from here (metrics.csv a folder) then reaches events.jsonl and the report, not just
        stderr."""
        self._guard(lambda: _replace_file(self.path, metrics_csv(self._builder.take_until(2**62))))

    def __call__(self, event: _Event) -> None:
        self._builder.feed(event)
        if isinstance(event, RunStarted) and event.resumed_from_step > 0:
            self._guard(lambda: self._cut_back(event.resumed_from_step))
        elif isinstance(event, EpochFinished):
            last = max((r.step for r in self._builder.rows()), default=None)
            if last is not None:
                rows = self._builder.take_until(last)
                self._guard(lambda: self._append(rows))
        elif isinstance(event, RunFinished):
            rows = self._builder.take_until(2**62)
            self._guard(lambda: self._append(rows))

    def _append(self, rows: list[MetricRow]) -> None:
        if not rows:
            return
        header = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(_csv_lines(rows, header=header))

    def _cut_back(self, resumed_from: int) -> None:
        """Keep the rows of steps before `resumed_from`: the new segment computes the later ones again."""
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = lines[:1] + [ln for ln in lines[1:] if int(ln.split(",", 1)[0]) < resumed_from]
        if len(kept) != len(lines):
            _replace_file(self.path, "".join(kept))

    def _guard(self, write: Callable[[], None]) -> None:
        try:
            write()
        except OSError as exc:  # the run goes on: metrics.csv can be rebuilt from events (`export`)
            if not self._warned:
                self._warned = True
                _log.warning("cannot write %s: %s (rebuild it with `qstore-tui export`)", self.path,
                             exc.strerror or exc)


__all__ = ["METRICS_FILE", "METRIC_COLUMNS", "MetricRow", "MetricsBuilder", "MetricsWriter",
           "metric_rows", "metrics_csv", "metrics_json", "run_metrics", "run_metrics_and_epoch_length",
           "write_metrics_csv"]
