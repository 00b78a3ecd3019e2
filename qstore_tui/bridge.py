"""The engine bridge: one worker runs the engine, its events fold into a `SessionView`.

The engine (an `EngineSession`, or an `events.jsonl` followed for `attach`) runs in ONE Textual
worker, group "engine", exclusive, `exit_on_error=False`: whatever goes wrong becomes a notification
and a log line, never a traceback on screen. Events are folded into `SessionView` as they arrive
(cheap, no widgets touched), and the app hears about it through `SessionUpdated` at most every
`min_interval` seconds (10 a second, or fewer if TEXTUAL_FPS is lower), so a run going flat out
cannot flood the UI.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual import constants

from .messages import EngineProblem, RunEnded, SessionUpdated

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

    from engine.config import TrainingConfig
    from engine.events import (
        CacheStats, Checkpoint, CompilerStats, CostEstimate, Error, MitigationInfo, RunFinished, SpendUpdate,
        StoreUpdate, _Event,
    )
    from engine.report import PerformanceReport
    from engine.session import EngineSession

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
        if self.finished is not None and self.finished.wall_s:
            return self.finished.wall_s
        if self.started_at is None or self.last_time is None:
            return None
        return max(0.0, self.last_time - self.started_at)

    def apply(self, event: _Event) -> None:
        """Fold one event in. Unknown kinds are ignored: the view shows what it knows."""
        # Dispatch on the event's kind: no engine import on the app's start-up path.
        kind = getattr(event, "kind", "")
        self.version += 1
        self.last_time = event.time or self.last_time
        if kind == "run_started":
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
        elif kind == "epoch_finished":
            if event.val_accuracy is not None:
                self.val_accuracies.append(event.val_accuracy)
            val = f", val acc {event.val_accuracy:.3f}" if event.val_accuracy is not None else ""
            self._log(event.time, "info", f"epoch {event.epoch + 1} done: loss {event.train_loss:.4f}{val}")
        elif kind == "batch_executed":
            self.batches_done += 1
            self.circuits_done += event.circuits
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


class BridgeBusy(RuntimeError):
    """A run is already going: stop it before starting or attaching another."""


class EngineBridge:
    """Owns the one engine worker and the SessionView the screens read."""

    def __init__(self, app: App[Any], *, runs_dir: Path | None, clock: Callable[[], float]):
        self._app = app
        self.runs_dir = runs_dir
        self.clock = clock
        self.min_interval = max(0.1, 1.0 / constants.MAX_FPS)
        self.view = SessionView()
        self.session: EngineSession | None = None
        self.config: TrainingConfig | None = None
        self.run_dir: Path | None = None
        self._replayed: list[_Event] | None = None
        self._publish_handle: asyncio.TimerHandle | None = None
        self._last_publish = 0.0
        self._recent_problems: dict[tuple[str, str], float] = {}
        self._rewatch: Timer | None = None  # after a followed run ended: is it resumed?
        self.publishes = 0

    # ----- state -----

    @property
    def active(self) -> bool:
        """True while a live run or an attach is going."""
        return self.view.source in ("live", "attach") and self.view.finished is None and self.view.status not in (
            "failed", "stopped", "completed", "interrupted", "incomplete")

    @property
    def can_control(self) -> bool:
        """A live session, or a followed run steered through its run directory's control channel."""
        return (self.session is not None or (self.view.source == "attach" and self.run_dir is not None)) \
            and self.active

    # ----- starting things -----

    def start(self, config: TrainingConfig) -> None:
        """A new live run. Raises ConfigError (bad or not runnable config) before anything starts."""
        from engine.session import EngineSession

        self._check_idle()
        session = EngineSession(config, runs_dir=self.runs_dir, clock=self.clock)
        self._go_live(session, config)

    def resume(self, run_dir: Path) -> None:
        """Continue a stopped or killed run from its last checkpoint."""
        from engine.session import EngineSession

        from engine.runs import read_events

        self._check_idle()
        session = EngineSession.from_run_dir(run_dir, clock=self.clock)
        history = read_events(run_dir)
        self._go_live(session, session.config)
        # The run's history first (curves, circuit totals, the timer from its first start), quietly:
        # its old errors were notified when they happened.
        for event in history:
            self.view.apply(event)
        self.view.status, self.view.finished = "starting", None
        self._publish()

    def attach(self, run_dir: Path) -> None:
        """Follow a run another process writes (or wrote): the same screens, read from events.jsonl."""
        from engine.runs import load_run_config

        self._check_idle()
        self._reset("attach", run_dir=run_dir, config=_config_or_none(load_run_config, run_dir))
        self._app.run_worker(self._follow(run_dir), name="engine", group="engine", exclusive=True,
                             exit_on_error=False)

    def open(self, run_dir: Path) -> None:
        """Show a finished (or any) run as it stands now, without following it."""
        from engine.runs import load_run_config, read_events

        self._check_idle()
        events = read_events(run_dir)
        self._reset("replay", run_dir=run_dir, config=_config_or_none(load_run_config, run_dir))
        self._fold(events)
        self._publish()

    def replay(self, events: Sequence[_Event], *, config: TrainingConfig | None = None) -> None:
        """Show a fixed list of events (demo data, snapshots) exactly as a run would."""
        self._check_idle()
        self._reset("replay", run_dir=None, config=config)
        self._replayed = list(events)
        self._fold(self._replayed)
        self._publish()

    # ----- controls -----

    def pause(self) -> bool:
        if not self.can_control or self.view.status != "running":
            return False
        if self.session is None:
            return self._steer("pause")
        assert self.session is not None
        self.session.pause()  # the session logs it
        self.view.status = "paused"
        self._publish()
        return True

    def resume_training(self) -> bool:
        if not self.can_control or self.view.status != "paused":
            return False
        if self.session is None:
            return self._steer("resume")
        assert self.session is not None
        self.session.resume()
        self.view.status = "running"
        self._publish()
        return True

    def stop(self) -> bool:
        """Ask the session to stop (checkpoint, cancel jobs); the run worker sees the end."""
        if not self.can_control or self.view.status == "stopping":
            return False
        if self.session is None:
            return self._steer("stop")
        assert self.session is not None
        self.view.status = "stopping"
        self.view.note(self.clock(), "info", "stopping: checkpointing and cancelling jobs in flight")
        self._publish()
        self._app.run_worker(self.session.stop(), name="engine-stop", group="engine-control",
                             exit_on_error=False)
        return True

    def _steer(self, command: Literal["pause", "resume", "stop"]) -> bool:
        """Ask the followed (headless) run through its control channel; the run's events confirm it."""
        from engine.runs.control import send_command

        assert self.run_dir is not None
        try:
            send_command(self.run_dir, command)
        except OSError as exc:
            self._problem("control", f"{self.run_dir}: cannot ask the run to {command}: {exc.strerror or exc}",
                          fatal=False)
            return False
        if command == "stop":
            self.view.status = "stopping"
        self.view.note(self.clock(), "info", f"asked the headless run to {command}")
        self._publish()
        return True

    def report(self) -> PerformanceReport:
        """The performance report of what is shown: live session, run directory, or replayed events."""
        from engine.report import build_report
        from engine.runs import read_events

        if self.session is not None:
            return self.session.performance_report()
        if self.run_dir is not None:
            return build_report(read_events(self.run_dir), self.config)
        if self._replayed is not None:
            return build_report(self._replayed, self.config)
        raise LookupError("no run yet: start one on the Config screen or open one on the Runs screen")

    def worker_failed(self, error: BaseException) -> None:
        """The engine worker died of an exception the engine did not turn into events."""
        self.view.status = "failed"
        message = f"{type(error).__name__}: {error}"
        self.view.note(self.clock(), "error", f"engine stopped: {message}")
        self._problem("engine", message, fatal=True)
        self._publish()

    # ----- internals -----

    def _watch_for_more(self, run_dir: Path) -> None:
        """After a followed run ended (finished, stopped, or its writer killed): follow it again, from its
        first event, once a new writer holds it or its events grow (`run --resume` appends to it)."""
        path = run_dir / "events.jsonl"
        size = path.stat().st_size if path.exists() else 0

        def check() -> None:
            from engine.runs import is_running

            if self.view.source != "attach" or self.run_dir != run_dir:
                self._stop_watching()
                return
            grown = path.exists() and path.stat().st_size > size
            if grown or is_running(run_dir):
                self._stop_watching()
                config = self.config
                self._reset("attach", run_dir=run_dir, config=config)
                self._app.run_worker(self._follow(run_dir), name="engine", group="engine", exclusive=True,
                                     exit_on_error=False)

        self._stop_watching()
        self._rewatch = self._app.set_interval(1.0, check, name="attach-rewatch")

    def _stop_watching(self) -> None:
        if self._rewatch is not None:
            self._rewatch.stop()
            self._rewatch = None

    def _check_idle(self) -> None:
        if self.active:
            what = self.view.run_id or "a run"
            raise BridgeBusy(f"{what} is still going: stop it (s) before starting another")

    def _reset(self, source: Source, *, run_dir: Path | None, config: TrainingConfig | None) -> None:
        self._stop_watching()
        self.session = None
        self._replayed = None
        self.run_dir = run_dir
        self.config = config
        self.view = SessionView(source=source, status="starting" if source != "replay" else "idle")
        if config is not None:
            self.view.total_epochs = config.epochs

    def _go_live(self, session: EngineSession, config: TrainingConfig) -> None:
        self._reset("live", run_dir=session.run_dir, config=config)
        self.session = session
        self.view.run_id = session.run_id
        self._publish()
        self._app.run_worker(self._run(session), name="engine", group="engine", exclusive=True,
                             exit_on_error=False)

    async def _run(self, session: EngineSession) -> None:
        queue = session.bus.subscribe(maxsize=100_000)
        consumer = asyncio.create_task(self._consume(queue))
        try:
            final = await session.run()
        finally:
            consumer.cancel()
            session.bus.unsubscribe(queue)
        self._drain(queue)
        if self.view.finished is None:  # the bus dropped it: the returned event is the truth
            self.view.apply(final)
        self._end()

    async def _follow(self, run_dir: Path) -> None:
        from engine.runs import follow_events

        async for event in follow_events(run_dir):
            self._fold((event,))
            self._schedule_publish()
        self._end()

    async def _consume(self, queue: asyncio.Queue) -> None:
        while True:
            self._fold((await queue.get(),))
            self._drain(queue)
            self._schedule_publish()

    def _drain(self, queue: asyncio.Queue) -> None:
        while not queue.empty():
            self._fold((queue.get_nowait(),))

    def _fold(self, events: Iterable[_Event]) -> None:
        for event in events:
            self.view.apply(event)
            if event.kind == "error":  # type: ignore[attr-defined]
                self._problem(event.source, event.message, fatal=event.fatal)  # type: ignore[attr-defined]

    def _problem(self, source: str, message: str, *, fatal: bool) -> None:
        """Notify, but the same problem at most once every 10 s (a failing job retried must not flood)."""
        now = time.monotonic()
        key = (source, message)
        if now - self._recent_problems.get(key, -1e9) < 10.0:
            return
        self._recent_problems[key] = now
        self._app.post_message(EngineProblem(source, message, fatal=fatal))

    def _end(self) -> None:
        if self.view.finished is None and self.view.status in ("starting", "running", "paused", "stopping"):
            # A followed run whose writer died without a RunFinished (what `runs` calls incomplete).
            self.view.status = "incomplete"
        self._publish()
        finished = self.view.finished
        status = finished.status if finished else self.view.status
        self._app.post_message(RunEnded(status, finished.message if finished else ""))
        if self.view.source == "attach" and self.run_dir is not None:
            self._watch_for_more(self.run_dir)

    def _schedule_publish(self) -> None:
        """Trailing-edge throttle: publish now if the last one is old enough, else once, later."""
        if self._publish_handle is not None:
            return
        delay = self._last_publish + self.min_interval - time.monotonic()
        if delay <= 0:
            self._publish()
        else:
            self._publish_handle = asyncio.get_running_loop().call_later(delay, self._publish)

    def _publish(self) -> None:
        if self._publish_handle is not None:
            self._publish_handle.cancel()
            self._publish_handle = None
        self._last_publish = time.monotonic()
        self.publishes += 1
        self._app.post_message(SessionUpdated(self.view))


def _config_or_none(load: Callable[[Path], TrainingConfig], run_dir: Path) -> TrainingConfig | None:
    """A run's config for its report; a run whose config no longer validates still shows its events."""
    try:
        return load(run_dir)
    except ValueError:
        return None
