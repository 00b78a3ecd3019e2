"""RunInfo: the one-line summary of a run that `qstore-tui runs` and the Runs screen list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..events import EpochFinished, RunFinished, RunStarted, StepMetrics
from .directory import EVENTS_FILE, RunError, cannot_read, check_runs_dir, is_running, load_run_config, run_dirs
from .eventlog import _parse_line, skipped_line_problem


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: str  # running, completed, stopped, failed, interrupted, incomplete (killed), new, unreadable
    started_at: float | None
    steps: int
    total_steps: int
    final_loss: float | None
    val_accuracy: float | None
    backend: str
    problem: str = ""  # a damaged event line: the summary holds what was read before it


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
    lines: list[bytes] = []
    problem = ""
    if path.exists():  # one this user cannot read raises OSError: list_runs shows the run as unreadable
        lines = path.read_bytes().split(b"\n")[:-1]  # the last piece: empty, or a killed run's torn line
    for number, line in enumerate(lines, start=1):
        if not any(k in line for k in _SUMMARY_KINDS):
            problem = problem or skipped_line_problem(path, number, line)
            continue
        try:
            event = _parse_line(path, number, line)
        except RunError as exc:  # one damaged run must not hide the others from `runs`
            problem = str(exc)
            break
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
    config_backend: str
    try:  # a config.toml that report and resume would refuse is this run's problem too
        config_backend = load_run_config(run_dir).backend
    except ValueError as exc:
        config_backend, problem = "?", problem or str(exc)
    backend = started.backend if started else config_backend
    final_loss = finished.final_loss if finished and finished.final_loss is not None else (
        last_step.loss if last_step else None)
    val_accuracy = finished.val_accuracy if finished and finished.val_accuracy is not None else (
        last_epoch.val_accuracy if last_epoch else None)
    return RunInfo(
        run_id=run_dir.name, path=run_dir, status=status, started_at=started.time if started else None,
        steps=last_step.step + 1 if last_step else 0,
        total_steps=last_step.total_steps if last_step else (started.total_steps if started else 0),
        final_loss=final_loss, val_accuracy=val_accuracy, backend=backend, problem=problem,
    )


def _readable_info(run_dir: Path) -> RunInfo:
    try:
        return run_info(run_dir)
    except OSError as exc:  # another user's run: a row that says it cannot be read, not a listing that fails
        return RunInfo(run_id=run_dir.name, path=run_dir, status="unreadable", started_at=None, steps=0,
                       total_steps=0, final_loss=None, val_accuracy=None, backend="?",
                       problem=cannot_read(run_dir, exc))


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run under `runs_dir`, newest first (by start time, then by id)."""
    runs_dir = Path(runs_dir)
    if not check_runs_dir(runs_dir):
        return []
    infos = [_readable_info(p) for p in run_dirs(runs_dir)]
    return sorted(infos, key=lambda r: (r.started_at or 0.0, r.run_id), reverse=True)
