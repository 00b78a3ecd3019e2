"""The control channel of a run directory: a viewer pauses, resumes or stops a headless run.

A command file, `control.json`, not a socket: it works on any filesystem the run directory lives on,
needs no server thread, survives the viewer going away, and is as simple to test as a file. The
viewer writes `{"seq": n, "command": "pause"}` atomically (temporary file, rename), readable and
writable by its owner only (mode 0600). The session polls it (`ControlChannel.watch`, every
`POLL_S`) and obeys each new `seq` once, well within a second.

Only the run's owner can steer it: a file that is not owned by the user the session runs as, or
that group or others can write, is refused (`ControlRefused`) and reported, never obeyed.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

CONTROL_FILE = "control.json"
POLL_S = 0.25
MAX_BYTES = 4096
Command = Literal["pause", "resume", "stop"]
COMMANDS: tuple[str, ...] = get_args(Command)


class ControlRefused(ValueError):
    """A control file that must not be obeyed (someone else's, writable by others, or malformed)."""


@dataclass(frozen=True)
class ControlRequest:
    seq: int
    command: Command
    time: float


def control_path(run_dir: Path) -> Path:
    return Path(run_dir) / CONTROL_FILE


def read_request(run_dir: Path) -> ControlRequest | None:
    """The request in the control file, None when there is none; ControlRefused when it is not to be obeyed."""
    path = control_path(run_dir)
    try:  # O_NONBLOCK: a FIFO in its place blocked the event loop (and every signal) until someone wrote to it
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ControlRefused(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a folder, a FIFO, a device
            raise ControlRefused(f"{path}: not a regular file")
        if info.st_uid != os.getuid():
            raise ControlRefused(f"{path}: owned by uid {info.st_uid}, not by this run's owner")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ControlRefused(f"{path}: writable by group or others (mode {stat.S_IMODE(info.st_mode):o})")
        raw = os.read(fd, MAX_BYTES + 1)
    except OSError as exc:
        raise ControlRefused(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise ControlRefused(f"{path}: too large for a control request (over {MAX_BYTES:,} bytes)")
    try:
        body = json.loads(raw)
        seq, command, when = body["seq"], body["command"], body.get("time", 0.0)
    except (ValueError, KeyError, TypeError):
        raise ControlRefused(f"{path}: not a control request: {raw[:80]!r}") from None
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise ControlRefused(f"{path}: field 'seq' must be an integer, got {str(seq)[:40]!r}")
    if command not in COMMANDS or isinstance(when, bool) or not isinstance(when, (int, float)):
        raise ControlRefused(f"{path}: field 'command' must be one of {', '.join(COMMANDS)}, got "
                             f"{str(command)[:40]!r}")
    return ControlRequest(seq, command, float(when))


def send_command(run_dir: Path, command: Command) -> ControlRequest:
    """Viewer side: ask the session that runs `run_dir` to pause, resume or stop (it obeys within a second)."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {', '.join(COMMANDS)}, got {command!r}")
    run_dir = Path(run_dir)
    try:
        previous = read_request(run_dir)
    except ControlRefused:
        previous = None  # replaced below by one of ours
    # Above the last one and the clock's microseconds: after a refused file (no previous seq to read), seq 1 was
    # at or below what the session had obeyed, so it ignored the stop unsaid.
    request = ControlRequest(max((previous.seq if previous else 0) + 1, time.time_ns() // 1_000), command,
                             time.time())
    data = json.dumps({"seq": request.seq, "command": request.command, "time": request.time}).encode()
    tmp = run_dir / f".{CONTROL_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, control_path(run_dir))
    return request


class ControlChannel:
    """Session side: obeys new requests in the run's control file.

    Requests already in the file when the channel opens are old (a previous session's); only a
    higher `seq` is obeyed. A refused file is reported once per change through `on_refused`.
    """

    def __init__(self, run_dir: Path, handlers: dict[str, Callable[[], object]],
                 on_refused: Callable[[str], None], *, poll_s: float = POLL_S):
        self.run_dir = Path(run_dir)
        self.handlers = handlers
        self.on_refused = on_refused
        self.poll_s = poll_s
        self._last_refusal = ""
        self._tasks: set[asyncio.Future[object]] = set()  # stop() runs as a task: keep it referenced
        self.last_seq = self._current_seq()

    def _current_seq(self) -> int:
        try:
            request = read_request(self.run_dir)
        except ControlRefused:
            return 0
        return request.seq if request else 0

    def poll(self) -> ControlRequest | None:
        """Check the file once; run the handler of a new request and return it."""
        try:
            request = read_request(self.run_dir)
        except ControlRefused as exc:
            if str(exc) != self._last_refusal:
                self._last_refusal = str(exc)
                self.on_refused(str(exc))
            return None
        if request is None or request.seq <= self.last_seq:
            return None
        self.last_seq = request.seq
        result = self.handlers[request.command]()
        if asyncio.iscoroutine(result):
            task: asyncio.Future[object] = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return request

    async def watch(self) -> None:
        """Poll until cancelled (the session cancels it when the run ends)."""
        while True:
            await asyncio.sleep(self.poll_s)
            self.poll()
