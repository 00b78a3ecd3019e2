"""The run directory: where a run's config, events, checkpoints, store and report live.

    <runs_dir>/<run-id>/
        config.toml      the TrainingConfig, without secrets (load_config refuses them anyway)
        events.jsonl     one JSON event per line, flushed per line so `attach` follows it live
        checkpoints/     step-000123.json, written atomically (engine.checkpoint)
        store.sqlite     the embedded vector store (store_backend = "local")
        report.md, report.json
        .lock            held (flock) while a process runs the session: "running" survives no crash

A run resumes from its directory; a second process cannot run it at the same time.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, AsyncIterator, Callable

import platformdirs
from pydantic import ValidationError

from .config import TrainingConfig, load_config, save_config
from .events import (
    EpochFinished, Event, RunFinished, RunStarted, StepMetrics, _Event, parse_event,
)

CONFIG_FILE = "config.toml"
EVENTS_FILE = "events.jsonl"
CHECKPOINT_DIR = "checkpoints"
STORE_FILE = "store.sqlite"
REPORT_MD = "report.md"
REPORT_JSON = "report.json"
LOCK_FILE = ".lock"


class RunError(ValueError):
    """A run directory is missing, busy or unreadable; the message names the run or the file and line."""


def default_runs_dir() -> Path:
    """platformdirs user_data_dir("qstore")/runs (XDG_DATA_HOME on Linux)."""
    return platformdirs.user_data_path("qstore", appauthor=False) / "runs"


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    """Sortable and unique: UTC start time plus four random hex digits, e.g. 20250101-120000-3fa2."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock())) + "-" + secrets.token_hex(2)


def resolve_run(runs_dir: Path, run: str | os.PathLike[str]) -> Path:
    """A run given as an id under `runs_dir` or as a path to its directory."""
    candidates = [Path(runs_dir) / str(run), Path(run)]
    for path in candidates:
        if (path / CONFIG_FILE).is_file():
            return path
    raise RunError(f"run {str(run)!r}: not found in {runs_dir} (no {CONFIG_FILE})")


def create_run_dir(runs_dir: Path, run_id: str, config: TrainingConfig) -> Path:
    """Make the run directory and write its config.toml (no secrets)."""
    run_dir = Path(runs_dir) / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise RunError(f"run {run_id!r}: {run_dir} already exists") from None
    (run_dir / CHECKPOINT_DIR).mkdir()
    save_config(config, run_dir / CONFIG_FILE)
    return run_dir


def load_run_config(run_dir: Path) -> TrainingConfig:
    """The run's config.toml; secrets come from the environment as for any config."""
    return load_config(Path(run_dir) / CONFIG_FILE)


# ----------------------------------------------------------------------------------------- lock


class RunLock:
    """An exclusive flock on <run>/.lock: held while a session runs, released by the OS if it dies."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._handle: IO[bytes] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunError(f"run {self.path.parent.name!r} is already running in another session") from None
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def is_running(run_dir: Path) -> bool:
    """True while some session (this process or another) holds the run's lock."""
    path = Path(run_dir) / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "rb") as handle:  # read-only: attach may run as a user who cannot write the run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


# -------------------------------------------------------------------------------------- events


class EventLog:
    """The events.jsonl sink: one line per event, flushed per line; `sync` fsyncs (checkpoints, end).

    Opening drops a torn last line left by a killed process, so appended events start on a line of
    their own and the file stays parseable.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        _drop_torn_tail(self.path)
        self._handle: IO[bytes] | None = open(self.path, "ab")
        self._write_lock = threading.Lock()  # whole lines, even if an event comes from a worker thread
        self.written = 0

    def __call__(self, event: _Event) -> None:
        line = event.model_dump_json().encode() + b"\n"
        with self._write_lock:
            if self._handle is None:
                raise RunError(f"{self.path}: event log is closed")
            self._handle.write(line)
            self._handle.flush()
            self.written += 1

    def sync(self) -> None:
        """Flush and fsync; safe from a worker thread while the loop keeps writing lines."""
        with self._write_lock:
            if self._handle is None:
                return
            self._handle.flush()
            fd = os.dup(self._handle.fileno())  # its own descriptor: a close meanwhile cannot pull it away
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.sync()
        with self._write_lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _drop_torn_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


def _parse_line(path: Path, number: int, line: bytes) -> _Event:
    try:
        return parse_event(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "line"
        raise RunError(f"{path}: line {number}: bad event at {where}: {first.get('msg')}") from None


def read_events(run_dir: Path) -> list[Event]:
    """Every complete event of the run, in order (a torn last line of a killed run is ignored)."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a line still being written
    return [_parse_line(path, i, line) for i, line in enumerate(lines, start=1) if line.strip()]


async def follow_events(run_dir: Path, *, poll_s: float = 0.2, stop_at_finish: bool = True) -> AsyncIterator[Event]:
    """Events as the run writes them, from the first line on; for `attach` and the TUI.

    With `stop_at_finish` the iterator ends at the end of the file once the last event is a
    RunFinished, or once no session holds the run (a killed run, or one never started);
    otherwise it follows forever (a stopped run can be resumed and append more).
    """
    path = Path(run_dir) / EVENTS_FILE
    offset, number, pending = 0, 0, b""
    last: _Event | None = None

    def read_new() -> bytes:
        if not path.exists():
            return b""
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read()

    while True:
        data = read_new()
        if data:
            offset += len(data)
            pending += data
            *complete, pending = pending.split(b"\n")
            for line in complete:
                number += 1
                if line.strip():
                    last = _parse_line(path, number, line)
                    yield last
            continue
        if stop_at_finish:
            if isinstance(last, RunFinished) and not pending:
                return
            # Seen free, then nothing new: the writer is gone and wrote all it ever will.
            if not is_running(run_dir) and not read_new():
                return
        await asyncio.sleep(poll_s)


# ----------------------------------------------------------------------------------------- runs


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: str  # running, completed, stopped, failed, interrupted, incomplete (killed), new
    started_at: float | None
    steps: int
    total_steps: int
    final_loss: float | None
    val_accuracy: float | None
    backend: str


_SUMMARY_KINDS = tuple(f'"kind":"{k}"'.encode()
                       for k in ("run_started", "step_metrics", "epoch_finished", "run_finished"))


def run_info(run_dir: Path) -> RunInfo:
    """What `qstore-tui runs` shows for one run, read from its events (only the summary kinds are parsed)."""
    run_dir = Path(run_dir)
    path = run_dir / EVENTS_FILE
    started: RunStarted | None = None
    last_step: StepMetrics | None = None
    last_epoch: EpochFinished | None = None
    finished: RunFinished | None = None
    if path.exists():
        lines = path.read_bytes().split(b"\n")
        lines.pop()
        for number, line in enumerate(lines, start=1):
            if not any(k in line for k in _SUMMARY_KINDS):
                continue
            event = _parse_line(path, number, line)
            if isinstance(event, RunStarted):
                started = started or event
                finished = None  # a resumed segment: the run is not finished until it says so again
            elif isinstance(event, StepMetrics):
                last_step = event
            elif isinstance(event, EpochFinished):
                last_epoch = event
            elif isinstance(event, RunFinished):
                finished = event
    if is_running(run_dir):
        status = "running"
    elif finished is not None:
        status = finished.status
    elif started is not None:
        status = "incomplete"
    else:
        status = "new"
    backend = started.backend if started else _config_backend(run_dir)
    final_loss = finished.final_loss if finished and finished.final_loss is not None else (
        last_step.loss if last_step else None)
    val_accuracy = finished.val_accuracy if finished and finished.val_accuracy is not None else (
        last_epoch.val_accuracy if last_epoch else None)
    return RunInfo(
        run_id=run_dir.name, path=run_dir, status=status, started_at=started.time if started else None,
        steps=last_step.step + 1 if last_step else 0,
        total_steps=last_step.total_steps if last_step else (started.total_steps if started else 0),
        final_loss=final_loss, val_accuracy=val_accuracy, backend=backend,
    )


def _config_backend(run_dir: Path) -> str:
    try:
        return load_run_config(run_dir).backend
    except ValueError:
        return "?"


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run under `runs_dir`, newest first (by start time, then by id)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    infos = [run_info(p) for p in runs_dir.iterdir() if (p / CONFIG_FILE).is_file()]
    return sorted(infos, key=lambda r: (r.started_at or 0.0, r.run_id), reverse=True)
