"""How a run failed: bad input (config, data, checkpoint), the backend or store, or a bug; and which part said so.

The session turns engine errors into an `Error` event (with `error_source`) and RunFinished(status="failed");
the CLI maps `classify_error` to its exit codes (2 bad input, 3 backend).
"""

from __future__ import annotations

from typing import Literal

from .backends.ionq_errors import IonQError
from .checkpoint import CheckpointError
from .config import ConfigError
from .data import DataError
from .fileio import DiskFullError, FileWriteError
from .runs import RunError

FailureKind = Literal["config", "backend"]  # None: a programming error


def classify_error(exc: BaseException) -> FailureKind | None:
    """How a failed run failed: bad input (config, data, checkpoint), the backend / store, or a bug (None)."""
    from .compiler.crosscheck import CrossCheckError
    from .compiler.errors import CompilationError
    from .store.base import StoreError
    from .trainer import TrainingError

    if isinstance(exc, DiskFullError):
        return "backend"
    if isinstance(exc, (ConfigError, DataError, CheckpointError, RunError, CrossCheckError, FileWriteError)):
        return "config"  # FileWriteError here: a path that is read-only, not owned, or not a directory
    if isinstance(exc, (IonQError, StoreError, TrainingError, OSError, CompilationError)):
        return "backend"
    if isinstance(exc, ValueError):
        return "config"
    return None


def error_source(exc: BaseException) -> str:
    """The part a failure came from, as the Error event's `source`."""
    from .store.base import StoreError

    if isinstance(exc, IonQError):
        return "ionq"
    if isinstance(exc, StoreError):
        return "store"
    if isinstance(exc, DataError):  # a data file's row or column: "config:" sent people to the config
        return "data"
    if isinstance(exc, ConfigError):
        return "config"
    if isinstance(exc, (CheckpointError, RunError, FileWriteError)):
        return "run"
    if type(exc).__module__.startswith("engine.compiler"):
        return "compiler"
    return "trainer"
