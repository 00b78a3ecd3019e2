"""The CLI's one error boundary: every command's error becomes one line and a documented exit code.

    0    success
    1    an unexpected error (a bug): one line naming what failed and the crash log holding the traceback
    2    bad configuration or input: a config field, a data file and row, a checkpoint, a run directory
         that cannot be written (read-only, not owned, not a directory), a circuit file
    3    a backend, store or disk error: IonQ, the vector store, no space left on the device
    130  interrupted (Ctrl-C or SIGTERM; a run writes a checkpoint first)
    141  the output pipe was closed (e.g. `qstore-tui runs | head -1`): nothing more is printed

Known errors are recognised by their types, looked up only in modules already imported: a command
that never touched IonQ cannot have raised an IonQ error, and the boundary imports nothing heavy.
Crash logs go to the run directory of the command (noted with `note_run_dir`), else the user state
directory (see qstore_tui.crash).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import threading
from pathlib import Path
from typing import TextIO

from qstore_tui.crash import EXIT_INTERNAL, crash_message, write_crash_log

from .command import Command

EXIT_CONFIG, EXIT_BACKEND, EXIT_INTERRUPTED, EXIT_PIPE = 2, 3, 130, 141

# (module, class) pairs; a subclass matches too. Order matters: the first match decides.
_KNOWN: tuple[tuple[str, str, int], ...] = (
    ("engine.fileio", "DiskFullError", EXIT_BACKEND),
    ("engine.fileio", "FileWriteError", EXIT_CONFIG),
    ("engine.config", "ConfigError", EXIT_CONFIG),
    ("engine.runs.directory", "RunError", EXIT_CONFIG),
    ("engine.data", "DataError", EXIT_CONFIG),
    ("engine.checkpoint", "CheckpointError", EXIT_CONFIG),
    ("engine.compiler.crosscheck", "CrossCheckError", EXIT_CONFIG),
    ("engine.circuits.errors", "CircuitError", EXIT_CONFIG),
    ("engine.compiler.errors", "UnsupportedGateError", EXIT_CONFIG),
    ("engine.store.base", "StoreError", EXIT_BACKEND),
    ("engine.backends.ionq_errors", "IonQError", EXIT_BACKEND),
    ("engine.trainer", "TrainingError", EXIT_BACKEND),
    ("engine.compiler.errors", "CompilationError", EXIT_BACKEND),
)
# OSErrors about a path or an address the user gave: input to fix, not a broken backend.
_INPUT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.EEXIST,
                 errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.ENAMETOOLONG, errno.ELOOP}

_run_dir: Path | None = None
_real_process = False  # main() was called by the program itself (not by a test with argv)


def note_run_dir(path: Path | None) -> None:
    """The run directory the current command works in: its crash log goes there."""
    global _run_dir
    _run_dir = path


def _known_type(exc: BaseException) -> int | None:
    for module, name, code in _KNOWN:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return code
    return None


def _os_error_line(exc: OSError) -> str:
    from engine.fileio import write_error

    if exc.filename is not None:
        return str(write_error(exc.filename, exc, action="cannot use"))
    return (exc.strerror or str(exc)).lower()


def classify(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, the line to print) for a known error; None for an unexpected one (a crash)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, BrokenPipeError):
        return EXIT_PIPE, ""
    code = _known_type(exc)
    if code is not None:
        return code, f"error: {exc}"
    if isinstance(exc, OSError):
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        code = EXIT_CONFIG if exc.errno in _INPUT_ERRNOS else EXIT_BACKEND
        return (EXIT_BACKEND if full else code), f"error: {_os_error_line(exc)}"
    return None


def _say(line: str, stream: TextIO | None = None) -> None:
    """One line, whatever it quotes: a line break or an escape sequence (a run folder's name) is written escaped."""
    from engine.quoting import printable

    if not line:
        return
    try:
        print(printable(line), file=stream or sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr itself is gone: the exit code still tells
        pass


def _silence_closed_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def handle(exc: BaseException, what: str) -> int:
    """Report `exc` (one line; a crash log for an unexpected error) and return the exit code."""
    known = classify(exc)
    if known is not None:
        code, line = known
        if code == EXIT_PIPE:
            _silence_closed_stdout()
        _say(line)
        return code
    path = write_crash_log(exc, what=what, run_dir=_run_dir)
    _say(crash_message(what, exc, path))
    return EXIT_INTERNAL


def run_guarded(command: Command, args: argparse.Namespace) -> int:
    """Run one command inside the boundary. SystemExit (argparse, --help) passes through untouched."""
    note_run_dir(None)
    try:
        return command.run(args)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - this is the one place every error is turned into a code
        return handle(exc, f"'{command.name}'")


def exit_now(code: int) -> None:
    """End the real process now with `code`, without joining worker threads (an interrupted run's abandoned
    compile or simulation); the caller has closed its files. In-process callers (tests) just return."""
    if not _real_process:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def sigterm_as_interrupt(command: Command, args: argparse.Namespace) -> None:
    """SIGTERM and SIGHUP end a plain command like Ctrl-C (exit 130, files closed) instead of killing it mid-write.

    Not for the TUI (the app and attach, or `run` without --headless): a KeyboardInterrupt inside Textual
    would leave the screen in raw mode. The app takes SIGTERM and SIGHUP itself once it runs (it stops its
    run at a checkpoint, restores the terminal and exits 130: QStoreApp._terminated); until then the default
    applies.
    """
    import signal

    from .options import have_terminal

    # What opens the app: `attach --headless` and `run` without a terminal print text (and were killed by SIGTERM
    # and SIGHUP with 143 / 129, a run with no checkpoint or report, when taken for the app here).
    wants_app = command.name == "attach" or (command.name == "run" and getattr(args, "resume", None) is None)
    in_tui = command.name == "tui" or (wants_app and not getattr(args, "headless", False) and have_terminal())
    if not in_tui and command.name != "emulator":  # the emulator's server handles its own signals
        from engine.hangup import hangup_as_interrupt

        signal.signal(signal.SIGTERM, signal.default_int_handler)
        hangup_as_interrupt()  # the SSH session dropped: a Ctrl-C (a headless run stops at a checkpoint)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def install_thread_hook() -> None:
    """An exception escaping a worker thread gets the same treatment: one line and a crash log, no traceback.

    Called once by main() for the real program, which also lets `exit_now` end it without joining threads.
    """
    global _real_process
    _real_process = True

    def hook(info: threading.ExceptHookArgs) -> None:
        if info.exc_value is None or isinstance(info.exc_value, SystemExit):
            return
        name = info.thread.name if info.thread is not None else "a thread"
        path = write_crash_log(info.exc_value, what=f"thread {name}", run_dir=_run_dir)
        _say(crash_message(f"thread {name}", info.exc_value, path))

    threading.excepthook = hook
