"""events.jsonl: the append-only sink a session writes, and the readers (`read_events`, `follow_events`)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator, cast

from pydantic import ValidationError

from ..events import Event, RunFinished, _Event, parse_event
from ..fileio import FileWriteError, LineAppender, write_error
from .directory import EVENTS_FILE, RunError, is_running


class EventLog:
    """The events.jsonl sink: one line per event, written whole; `sync` fsyncs (checkpoints, end).

    Opening drops a torn last line left by a killed process, so appended events start on a line of
    their own and the file stays parseable. A line that cannot be written (a full disk) is cut back,
    so the file always ends on a whole line. The first failure is raised as a FileWriteError, or,
    with `on_failure`, handed to it (the session ends the run with it); the log then stops writing,
    so events.jsonl stays a gap-free prefix of the run, and counts what it could not write in `lost`.
    """

    def __init__(self, path: Path, *, on_failure: Callable[[FileWriteError], None] | None = None):
        self.path = Path(path)
        try:
            _drop_torn_tail(self.path)
        except OSError as exc:
            raise write_error(self.path, exc, action="cannot repair") from None
        self._file: LineAppender | None = LineAppender(self.path)
        self._write_lock = threading.Lock()  # whole lines, even if an event comes from a worker thread
        self._on_failure = on_failure
        self.failure: FileWriteError | None = None
        self.written = 0
        self.lost = 0

    def __call__(self, event: _Event) -> None:
        line = event.model_dump_json().encode() + b"\n"
        with self._write_lock:
            if self._file is None:
                raise RunError(f"{self.path}: event log is closed")
            if self.failure is None:
                try:
                    self._file.append(line)
                    self.written += 1
                    return
                except FileWriteError as exc:
                    self.failure = exc
                    first = True
            else:
                first = False
            self.lost += 1
            failure = self.failure
        if self._on_failure is None:
            raise failure
        if first:
            self._on_failure(failure)

    def sync(self) -> None:
        """fsync; safe from a worker thread while the loop keeps writing lines."""
        with self._write_lock:
            if self._file is None or self.failure is not None:
                return
            fd = os.dup(self._file.fileno())  # its own descriptor: a close meanwhile cannot pull it away
        try:
            os.fsync(fd)
        except OSError as exc:
            failure = write_error(self.path, exc)
            with self._write_lock:
                self.failure = self.failure or failure
            if self._on_failure is None:
                raise failure from None
            self._on_failure(failure)
        finally:
            os.close(fd)

    def close(self) -> None:
        try:
            self.sync()
        finally:
            with self._write_lock:
                if self._file is not None:
                    self._file.close()
                    self._file = None


def _drop_torn_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


def _parse_line(path: Path, number: int, line: bytes) -> Event:
    try:
        return cast(Event, parse_event(line))  # parse_event validates against the Event union
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        field = f" (field {where})" if where else ""  # a line that is not JSON at all has no field to name
        raise RunError(f"{path}: line {number}: not a valid event{field}: {first.get('msg')}") from None


def skipped_line_problem(path: Path, number: int, line: bytes) -> str:
    """For a reader that parses only some kinds (the listings): the problem of a line it skips that cannot be an
    event at all (garbage, a paste), which report and resume would refuse; "" for another kind's line. A cheap
    test, not a parse: a line of a kind not read is still an object with a kind."""
    body = line.rstrip(b"\r")
    if body.startswith(b"{") and body.endswith(b"}") and b'"kind":' in body:
        return ""
    return f"{path}: line {number}: not a valid event"


def read_events(run_dir: Path) -> list[Event]:
    """Every complete event of the run, in order (a torn last line of a killed run is ignored)."""
    return list(iter_events(run_dir))


def iter_events(run_dir: Path) -> Iterator[Event]:
    """The run's complete events one at a time, parsed as they are read: memory stays one line, not the run.

    What a caller that folds the events (the report, metrics.csv) should use: a 20,000-step run has ~85,000
    events, about 150 MB as a list of models. Same lines, order and errors as `read_events`; a line that does
    not end in a newline (torn by a killed process, or still being written) is not an event yet.
    """
    path = Path(run_dir) / EVENTS_FILE
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                return
            line = line[:-1]
            if line.strip():
                yield _parse_line(path, number, line)


async def follow_events(run_dir: Path, *, poll_s: float = 0.2, stop_at_finish: bool = True) -> AsyncIterator[Event]:
    """Events as the run writes them, from the first line on; for `attach` and the TUI.

    With `stop_at_finish` the iterator ends at the end of the file once the last event is a
    RunFinished, or once no session holds the run (a killed run, or one never started);
    otherwise it follows forever (a stopped run can be resumed and append more).
    """
    path = Path(run_dir) / EVENTS_FILE
    offset, number, pending = 0, 0, b""
    last: Event | None = None

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
