"""The engine bridge: one worker runs the engine, its events fold into a `SessionView` (view.py).

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
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual import constants

from engine.fileio import error_text

from .messages import EngineProblem, RunEnded, SessionUpdated
from .view import SessionView, Source

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

    from engine.config import TrainingConfig
    from engine.events import RunFinished, _Event
    from engine.report import PerformanceReport
    from engine.session import EngineSession

_UNFINISHED = ("starting", "running", "paused", "stopping")  # what the events say of a run without its RunFinished


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
            "failed", "stopped", "completed", "interrupted", "incomplete", "unreadable")

    @property
    def training_here(self) -> bool:
        """A run trains in this process (not one followed by attach): quitting must stop it first."""
        return self.session is not None and self.active

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
        from engine.runs import EVENTS_FILE, load_run_config

        self._check_idle()
        events = run_dir / EVENTS_FILE
        if events.exists():  # one this user cannot read is said now, not as the follow worker's crash
            events.open("rb").close()
        self._reset("attach", run_dir=run_dir, config=_config_or_none(load_run_config, run_dir))
        self._app.run_worker(partial(self._follow, run_dir), name="engine", group="engine", exclusive=True,
                             exit_on_error=False)

    def open(self, run_dir: Path) -> None:
        """Show a finished (or any) run as it stands now, without following it."""
        from engine.runs import is_running, load_run_config, read_events

        self._check_idle()
        events = read_events(run_dir)
        self._reset("replay", run_dir=run_dir, config=_config_or_none(load_run_config, run_dir))
        self._fold(events)
        if self.view.finished is None and self.view.status in _UNFINISHED and not is_running(run_dir):
            self.view.status = "incomplete"  # killed or truncated before its RunFinished, as the listings say
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
        # The coroutine function, not a coroutine: a worker the app's exit cancels before it starts would leave
        # its coroutine never awaited, and Python's RuntimeWarning about it on the restored terminal.
        self._app.run_worker(self.session.stop, name="engine-stop", group="engine-control",
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
        from engine.runs import iter_events

        if self.session is not None:
            return self.session.performance_report()
        if self.run_dir is not None:
            return build_report(iter_events(self.run_dir), self.config)  # folded line by line, not loaded whole
        if self._replayed is not None:
            return build_report(self._replayed, self.config)
        raise LookupError("no run yet: start one on the Config screen or open one on the Runs screen")

    def worker_failed(self, error: BaseException) -> None:
        """The engine worker died of an exception the engine did not turn into events."""
        from engine.runs import RunError

        if self.view.source == "attach" and isinstance(error, (OSError, RunError)):
            # The follow could not read the run's events (a damaged line, a file gone unreadable): that is
            # the viewer's problem, not the run's, which may well have completed.
            self.view.status = "unreadable"
            message = f"cannot read the run: {error_text(error)}"
            self.view.note(self.clock(), "error", message)
            self._problem("attach", message, fatal=True)
            self._publish()
            return
        self.view.status = "failed"
        message = error_text(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
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
                self._app.run_worker(partial(self._follow, run_dir), name="engine", group="engine",
                                     exclusive=True, exit_on_error=False)

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
        self._app.run_worker(partial(self._run, session), name="engine", group="engine", exclusive=True,
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
        if self.view.finished is None and self.view.status in _UNFINISHED:
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
