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

import fcntl
import os
import shutil
import secrets
import time
from pathlib import Path
from typing import IO, Callable

import platformdirs

from ..config import TrainingConfig, load_config, save_config
from ..fileio import DiskFullError, write_error
from ..quoting import quoted

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
    text = str(run)  # a path is shown whole up to a file name's limit; a paste gone wrong is cut
    name = quoted(text) if len(text) > 255 else repr(text)
    candidates = [Path(runs_dir) / str(run), Path(run)]
    try:
        for path in candidates:
            if (path / CONFIG_FILE).is_file():
                return path
        is_folder = Path(run).is_dir()
    except OSError as exc:  # a name longer than a path may be (ENAMETOOLONG): no such run
        raise RunError(f"run {name}: not found in {runs_dir} ({exc.strerror or exc})") from None
    if is_folder:
        raise RunError(f"run {name}: that folder is not a run (no {CONFIG_FILE} in it), and no run of that "
                       f"name is in {runs_dir}")
    raise RunError(f"run {name}: not found in {runs_dir} (no {CONFIG_FILE})")


def cannot_read(run_dir: Path, exc: OSError) -> str:
    """Why a run is listed as unreadable: the file (or the run's folder) and the reason in words."""
    return str(write_error(exc.filename or run_dir, exc, action="cannot read"))


NOT_RUNS = ("lost+found",)  # what a runs folder at a file system's root holds that no user may read


def is_run_dir(path: Path) -> bool:
    """A folder with a config.toml, or with an events.jsonl but no config.toml (a run whose config was deleted:
    listed as damaged, so it can be seen and deleted). OSError when this user may not look into it."""
    return (path / CONFIG_FILE).is_file() or (path / EVENTS_FILE).is_file()


def run_dirs(runs_dir: Path) -> list[Path]:
    """The runs under `runs_dir` (is_run_dir), and folders this user may not look into (another user's runs on a
    shared box), which the listings show as unreadable rather than leave out unsaid."""
    found = []
    for path in Path(runs_dir).iterdir():
        try:
            if is_run_dir(path):
                found.append(path)
        except OSError:
            if path.name not in NOT_RUNS and path.is_dir():
                found.append(path)
    return found


def cannot_delete(run_dir: Path, exc: OSError, *, removed: bool) -> RunError:
    """Why a run was not deleted, naming the run and its folder (the OSError names only a file inside it)."""
    left = "some of its files were removed, the rest are still there" if removed else "nothing was removed"
    return RunError(f"cannot delete run {run_dir.name!r} ({run_dir}): {write_error(run_dir, exc).reason}; {left}")


def check_runs_dir(runs_dir: Path) -> bool:
    """Whether `runs_dir` holds runs yet (False: not made yet); RunError when it is a file, not a folder."""
    if runs_dir.is_dir():
        return True
    if runs_dir.exists():
        raise RunError(f"runs directory {runs_dir}: not a directory")
    return False


def create_run_dir(runs_dir: Path, run_id: str, config: TrainingConfig) -> Path:
    """Make the run directory and write its config.toml (no secrets)."""
    runs_dir = Path(runs_dir)
    run_dir = runs_dir / run_id
    check_runs_dir(runs_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise RunError(f"run {run_id!r}: {run_dir} already exists") from None
    except OSError as exc:
        raise unusable(run_dir, exc, "cannot create the run directory") from None
    try:
        try:
            (run_dir / CHECKPOINT_DIR).mkdir()
        except OSError as exc:
            raise unusable(run_dir / CHECKPOINT_DIR, exc, "cannot create") from None
        save_config(config, run_dir / CONFIG_FILE)
    except BaseException:  # a run without its config is no run: the folder made just now goes (a full disk)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


def unusable(path: Path, exc: OSError, action: str) -> Exception:
    """The error for a run path the OS refused: DiskFullError (exit 3) or RunError naming path and reason (exit 2)."""
    error = write_error(path, exc, action=action)
    return error if isinstance(error, DiskFullError) else RunError(str(error))


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
        try:
            handle = open(self.path, "ab")
        except OSError as exc:  # a read-only run directory, or one another user owns
            raise unusable(self.path.parent, exc, "cannot write to the run directory") from None
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
