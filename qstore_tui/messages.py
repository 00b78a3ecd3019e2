"""Typed messages between the engine bridge, background workers and the screens."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from .view import SessionView


class SessionUpdated(Message):
    """The session view changed. A newer one replaces an older one still queued, so the UI never lags."""

    def __init__(self, view: SessionView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionUpdated)


class EngineProblem(Message):
    """Something went wrong in the engine: shown as a notification (the log pane has it too)."""

    def __init__(self, source: str, message: str, *, fatal: bool) -> None:
        super().__init__()
        self.source = source
        self.message = message
        self.fatal = fatal


class RunEnded(Message):
    """A run (live, attached or resumed) reached its end."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__()
        self.status = status
        self.message = message


class ReportReady(Message):
    """A report built in a worker thread: the report and the run directory it belongs to, or why not."""

    def __init__(self, report: Any, run_dir: Path | None, error: str | None = None) -> None:
        super().__init__()
        self.report = report
        self.run_dir = run_dir
        self.error = error


class RunsListed(Message):
    """The runs directory, listed in a worker thread (it reads every run's events)."""

    def __init__(self, runs: list[Any], error: str | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.error = error


class CompileFinished(Message):
    """A Compiler-screen compile finished; `result` is a `CompiledView` or the error text. `request` is the worker
    that made it: the screen drops the result of a request superseded by a newer one."""

    def __init__(self, result: Any, error: str | None = None, *, request: object = None) -> None:
        super().__init__()
        self.result = result
        self.error = error
        self.request = request


class VerifyFinished(Message):
    """The equivalence check of a compiled circuit finished; `request` as for CompileFinished."""

    def __init__(self, fidelity: float | None, error: str | None = None, *, request: object = None) -> None:
        super().__init__()
        self.fidelity = fidelity
        self.error = error
        self.request = request
