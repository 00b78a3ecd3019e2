"""Crash logs: an unexpected error becomes one line on the terminal and a file holding the traceback.

Shared by the CLI's error boundary and the TUI's crash handler, so a crash is reported the same way
wherever it happens. The log goes into the run directory when there is one (it belongs with the
run), else into the user state directory (platformdirs: ~/.local/state/qstore/crash on Linux), else
the temporary directory. API keys from the environment are scrubbed from everything written.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

import platformdirs

from engine import __version__

EXIT_INTERNAL = 1  # an unexpected error (a bug): the crash log has the traceback
SECRET_ENV = ("IONQ_API_KEY", "PINECONE_API_KEY")


def crash_dir() -> Path:
    """Where crash logs go when no run directory takes them: the user state directory's `crash/`."""
    return platformdirs.user_state_path("qstore", appauthor=False) / "crash"


def _scrub(text: str) -> str:
    for var in SECRET_ENV:
        secret = os.environ.get(var, "").strip()
        if secret:
            text = text.replace(secret, "***")
    return text


def _masked_argv(argv: list[str]) -> list[str]:
    """argv with the value of any secret field assignment (`quantum_api_key=...`, in `--set K=V` or `--set=K=V`)
    masked: the CLI refuses them, but a crash log must not depend on that; and the password of any URL (a sweep's
    `--storage postgresql://user:pw@host/db`, `--storage=...` or an abbreviated `--stor`) masked."""
    import re

    from engine.config.fieldtypes import MASK, SECRET_FIELDS
    from engine.sweep.storage import mask_url

    assignment = re.compile(rf"\b({'|'.join(map(re.escape, SECRET_FIELDS))})(\s*=).*", re.DOTALL)
    return [mask_url(assignment.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", arg)) for arg in argv]


def _report(exc: BaseException, what: str, context: list[str]) -> str:
    lines = [
        f"qstore-tui {__version__} crashed in {what}",
        f"time: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
        f"python: {sys.version.split()[0]} on {platform.platform()}",
        f"argv: {' '.join(_masked_argv(sys.argv))}",
        *context,
        "",
        *traceback.format_exception(exc),
    ]
    return _scrub("\n".join(line.rstrip("\n") for line in lines) + "\n")


def write_crash_log(
    exc: BaseException, *, what: str, run_dir: Path | None = None, context: list[str] | None = None
) -> Path | None:
    """Write the crash log; the first directory that takes it wins. Never raises; None if none could."""
    text = _report(exc, what, context or []).encode("utf-8", "replace")
    stem = f"crash-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{os.getpid()}"
    candidates = [d for d in (run_dir, crash_dir(), Path(tempfile.gettempdir()) / "qstore-crash") if d is not None]
    for directory in candidates:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        for n in range(100):  # a second crash in the same second (the app's workers) gets -2, not another folder
            path = directory / (f"{stem}.log" if n == 0 else f"{stem}-{n + 1}.log")
            try:
                with open(path, "xb") as handle:
                    handle.write(text)
                return path
            except FileExistsError:
                continue
            except OSError:
                break
    return None


def crash_message(what: str, exc: BaseException, path: Path | None) -> str:
    """The one line shown for a crash: what failed, the exception, and where its log is."""
    first = (str(exc).strip().splitlines() or [""])[0]
    detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    where = f"crash log: {path}" if path is not None else "no crash log could be written"
    return _scrub(f"error: internal error in {what}: {detail} ({where})")
