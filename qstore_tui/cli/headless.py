"""A headless run: a progress display fed by the session's events, then the report; the exit code of the run.

Ctrl-C (or SIGTERM) once stops cleanly: a checkpoint, events flushed, IonQ jobs in flight cancelled; twice
abandons the step in flight. A signal is honoured within a second in every phase: before training starts
there is nothing to save and the work is cancelled at once; a step that does not reach its boundary within
SIGNAL_GRACE_S is abandoned (the run resumes from its last checkpoint); and once the session has closed its
files, an interrupted process exits without waiting for a computation it abandoned in a worker thread.
SIGHUP (the SSH session dropped) is a Ctrl-C too (engine.hangup, set by the CLI's boundary); under `nohup` the
run goes on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from engine.events import Event
    from engine.session import EngineSession


SIGNAL_GRACE_S = 0.5  # how long a signal waits for the step in flight to reach its checkpoint


def run_headless(session: EngineSession) -> int:
    """Run the session to its end with a progress display; print the report; return the exit code."""
    import asyncio
    import signal

    from .boundary import note_run_dir

    note_run_dir(session.run_dir)  # a crash of this run logs into its directory
    # Until the loop installs its own handlers, SIGTERM is a Ctrl-C (exit 130), not a silent kill.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return asyncio.run(_headless(session))
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _headless(session: EngineSession) -> int:
    import asyncio
    import signal

    from engine.session import exit_code

    loop = asyncio.get_running_loop()
    queue = session.bus.subscribe(maxsize=100_000)
    progress = _Progress(tty=sys.stdout.isatty() and os.environ.get("TERM") != "dumb")
    print(f"run {session.run_id} ({session.config.backend}) in {session.run_dir}", flush=True)
    interrupts = 0

    def on_signal() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            print("\nstopping: writing a checkpoint, cancelling IonQ jobs in flight "
                  "(Ctrl-C again to abandon the step in flight)", file=sys.stderr, flush=True)
            loop.create_task(session.stop(interrupted=True, grace_s=SIGNAL_GRACE_S))
        else:
            session.abort()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal)

    async def consume() -> None:
        while True:
            progress.update(await queue.get())

    consumer = loop.create_task(consume())
    try:
        with progress:
            await session.run()
            consumer.cancel()
            while not queue.empty():
                progress.update(queue.get_nowait())
    finally:
        consumer.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)
    report = session.report or session.performance_report()  # the one the session wrote: not built twice
    print(report.to_text())
    if session.events_lost:  # the report is built from events.jsonl, which stopped at the disk error
        print(f"note: the last {session.events_lost:,} events of this run could not be written to "
              f"{session.run_dir / 'events.jsonl'}, so this report ends before the run did", file=sys.stderr)
    if session.report_written:
        print(f"report: {session.run_dir / 'report.md'} and report.json", flush=True)
    code = exit_code(session)
    if interrupts:
        from .boundary import exit_now

        exit_now(code)  # a worker thread still computing what was abandoned must not hold the exit
    return code


def follow_headless(run_dir: Path) -> int:
    """`attach RUN` without the app: the run's progress as its writer appends it (its history first), until it
    ends. The exit code says how it ended: 0 completed, 4 not finished (stopped, interrupted, or killed: it can
    be resumed), 3 failed. Ctrl-C stops the following, not the run."""
    import asyncio

    from engine.events import RunFinished, RunStarted
    from engine.runs import follow_events

    from .sweep import EXIT_INCOMPLETE

    progress = _Progress(tty=sys.stdout.isatty() and os.environ.get("TERM") != "dumb")
    print(f"following run {run_dir.name} in {run_dir} (Ctrl-C stops following; the run goes on)", flush=True)

    async def follow() -> RunFinished | None:
        finished: RunFinished | None = None
        with progress:
            async for event in follow_events(run_dir):
                progress.update(event)
                if isinstance(event, RunStarted):
                    finished = None  # a resumed segment: not finished until it says so again
                elif isinstance(event, RunFinished):
                    finished = event
        return finished

    finished = asyncio.run(follow())
    resume = f"resume it with: qstore-tui run --resume {run_dir.name}"
    if finished is None:
        print(f"run {run_dir.name}: no session writes it any more and it did not finish (killed?); {resume}",
              flush=True)
        return EXIT_INCOMPLETE
    if finished.status == "completed":
        return 0
    if finished.status == "failed":
        return 3
    print(f"run {run_dir.name} {finished.status}: {resume}", flush=True)
    return EXIT_INCOMPLETE


class _Progress:
    """Step progress: a rich progress bar on a terminal, throttled plain lines otherwise."""

    PLAIN_EVERY_S = 1.0

    def __init__(self, *, tty: bool):
        self.tty = tty
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0

    def __enter__(self) -> "_Progress":
        if self.tty:
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
            self._task = self._bar.add_task("training", total=None, info="starting")
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _line(self, text: str, *, force: bool = False) -> None:
        import time

        now = time.monotonic()
        if force or now - self._last_line >= self.PLAIN_EVERY_S:
            self._last_line = now
            print(text, flush=True)

    def _note(self, text: str, *, stream: TextIO | None = None) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=stream or sys.stdout, flush=True)

    def update(self, event: Event) -> None:
        from engine.events import Checkpoint, EpochFinished, Error, Log, RunFinished, RunStarted, StepMetrics
        from engine.report.render import number_text

        if isinstance(event, RunStarted):
            resumed = f", resuming at step {event.resumed_from_step}" if event.resumed_from_step else ""
            self._note(f"{event.backend} / {event.target}: {event.n_qubits} qubits, {event.n_params} parameters, "
                       f"{event.total_steps} steps{resumed}")
            if self._bar is not None:
                self._bar.update(self._task, total=event.total_steps, completed=event.resumed_from_step)
        elif isinstance(event, StepMetrics):
            acc = "" if event.accuracy is None else f" batch train acc {event.accuracy:.1%}"
            info = f"epoch {event.epoch + 1} step loss {number_text(event.loss)}{acc}"
            if self._bar is not None:
                self._bar.update(self._task, total=event.total_steps, completed=event.step + 1, info=info)
            else:
                self._line(f"step {event.step + 1}/{event.total_steps} {info}",
                           force=event.step + 1 == event.total_steps)
        elif isinstance(event, EpochFinished):
            val = "" if event.val_accuracy is None else f", val acc {event.val_accuracy:.1%}"
            self._note(f"epoch {event.epoch + 1}: epoch loss {number_text(event.train_loss)}{val}")
        elif isinstance(event, Checkpoint) and self._bar is None:
            self._line(f"checkpoint at step {event.step}")
        elif isinstance(event, Log) and event.level in ("warning", "error"):
            self._note(f"{event.level}: {event.message}", stream=sys.stderr)
        elif isinstance(event, Error):
            self._note(f"error: {event.source}: {event.message}", stream=sys.stderr)
        elif isinstance(event, RunFinished):
            detail = f" ({event.message})" if event.message else ""
            self._note(f"run {event.status} after {event.steps} steps in {event.wall_s:.1f}s{detail}")
