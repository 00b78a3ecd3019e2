"""The run index: one RunRecord per run directory, with what tells runs apart, and sort / filter / delete.

A record is read from the run's own files (config.toml, events.jsonl, tags.json, sweep.json), never from
a separate database, so it cannot drift from the runs: delete a directory and it leaves the index.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from time import monotonic
from typing import Callable, Iterable

from ..config import TrainingConfig
from ..events import BatchExecuted, CostEstimate, EpochFinished, RunFinished, RunStarted, SpendUpdate, StepMetrics
from .directory import (CONFIG_FILE, EVENTS_FILE, LOCK_FILE, RunError, RunLock, cannot_delete, cannot_read,
                        check_runs_dir, is_run_dir, is_running, load_run_config, resolve_run, run_dirs)
from .eventlog import _parse_line, skipped_line_problem
from .tags import SWEEP_FILE, TAGS_FILE, SweepTag, read_sweep_tag, read_tags

_KINDS = tuple(f'"kind":"{k}"'.encode() for k in (
    "run_started", "step_metrics", "epoch_finished", "run_finished", "batch_executed", "cost_estimate",
    "spend_update"))

RunStatus = str  # running, completed, stopped, pruned, failed, interrupted, incomplete (killed), new, unreadable


@dataclass
class RunRecord:
    """One row of the Runs table: config fields, results, cost and tags of one run directory.

    `status` is "pruned" for a sweep trial Optuna pruned (the session itself ended "stopped" with a
    checkpoint). Costs: `cost_estimated_usd` prices the circuits the run executed at the quote the run
    used (CostEstimate events); `cost_actual_usd` is the spend IonQ reported per finished job (SpendUpdate
    events, each job counted once), None when no job reported one.
    """

    run_id: str
    path: Path
    status: RunStatus
    backend: str
    target: str
    gradient_method: str
    optimizer: str
    learning_rate: float
    epochs: int
    seed: int
    n_qubits: int
    circuit_depth: int
    started_at: float | None
    steps: int
    total_steps: int
    epochs_done: int
    best_val_accuracy: float | None
    final_val_accuracy: float | None
    final_loss: float | None
    circuits: int
    duration_s: float
    cost_estimated_usd: float | None
    cost_actual_usd: float | None
    tags: list[str] = field(default_factory=list)
    sweep: SweepTag | None = None
    config: TrainingConfig | None = None  # None when config.toml no longer loads (shown, not fatal)
    problem: str = ""  # why a field is missing (unreadable config or events), for the UI to show

    @property
    def study(self) -> str | None:
        return self.sweep.study if self.sweep else None

    @property
    def trial(self) -> int | None:
        return self.sweep.trial if self.sweep else None


SORT_KEYS = ("run_id", "status", "backend", "target", "gradient_method", "optimizer", "learning_rate", "epochs",
             "seed", "n_qubits", "circuit_depth", "started_at", "best_val_accuracy", "final_val_accuracy",
             "final_loss", "circuits", "duration_s", "cost_estimated_usd", "cost_actual_usd", "tags", "study",
             "trial")


def run_record(run_dir: Path, *, now: Callable[[], float] = time.time) -> RunRecord:
    """Read one run directory into a record; a bad config or event line becomes `problem`, not an exception."""
    run_dir = Path(run_dir)
    problem = ""
    config: TrainingConfig | None
    try:
        config = load_run_config(run_dir)
    except ValueError as exc:
        config, problem = None, str(exc)
    segments: list[tuple[RunStarted, RunFinished | None]] = []
    segment_last: list[float] = []  # the time of each segment's last event read
    last_step: StepMetrics | None = None
    val_accs: list[float] = []
    epochs_done = 0
    last_loss_epoch: float | None = None
    circuits = 0
    segment_cost: list[float] = []
    job_spend: dict[str, float] = {}
    path = run_dir / EVENTS_FILE
    try:
        lines = path.read_bytes().split(b"\n") if path.exists() else [b""]
        lines.pop()
        for number, line in enumerate(lines, start=1):
            if not any(k in line for k in _KINDS):
                problem = problem or skipped_line_problem(path, number, line)
                continue
            event = _parse_line(path, number, line)
            if isinstance(event, RunStarted):
                segments.append((event, None))
                segment_cost.append(0.0)
                segment_last.append(event.time)
                continue
            if segment_last:
                segment_last[-1] = event.time
            if isinstance(event, RunFinished) and segments:
                segments[-1] = (segments[-1][0], event)
            elif isinstance(event, StepMetrics):
                last_step = event
            elif isinstance(event, EpochFinished):
                epochs_done = max(epochs_done, event.epoch + 1)
                last_loss_epoch = event.train_loss
                if event.val_accuracy is not None:
                    val_accs.append(event.val_accuracy)
            elif isinstance(event, BatchExecuted):
                circuits += event.circuits
            elif isinstance(event, CostEstimate) and segment_cost:
                segment_cost[-1] = event.usd  # cumulative within a segment: the last one counts
            elif isinstance(event, SpendUpdate):
                job_spend[event.job_id] = event.job_usd
    except RunError as exc:
        problem = problem or str(exc)
    except OSError as exc:  # its events cannot be read: nothing is known of how it went
        return unreadable_record(run_dir, exc)
    running = is_running(run_dir)
    finished = segments[-1][1] if segments else None
    sweep, sweep_problem = _sweep_tag(run_dir)
    tags, tags_problem = _tags(run_dir)
    problem = problem or tags_problem or sweep_problem
    if running:
        status = "running"
    elif finished is not None:
        status = "pruned" if (finished.status == "stopped" and sweep and sweep.state == "pruned") else finished.status
    elif segments:
        status = "incomplete"
    else:
        status = "new"
    duration = 0.0
    for (started, end), last in zip(segments, segment_last):
        if end is not None:
            duration += end.wall_s
        elif running and started is segments[-1][0]:
            duration += max(0.0, now() - started.time)
        else:  # killed: it lasted at least until its last event
            duration += max(0.0, last - started.time)
    final_loss = (finished.final_loss if finished is not None and finished.final_loss is not None
                  else last_step.loss if last_step is not None else last_loss_epoch)
    final_val = (finished.val_accuracy if finished is not None and finished.val_accuracy is not None
                 else val_accs[-1] if val_accs else None)
    first = segments[0][0] if segments else None
    c = config
    return RunRecord(
        run_id=run_dir.name, path=run_dir, status=status,
        backend=first.backend if first else (c.backend if c else "?"),
        target=first.target if first else (c.quantum_target if c else "?"),
        gradient_method=c.gradient_method if c else "?", optimizer=c.optimizer if c else "?",
        learning_rate=c.learning_rate if c else float("nan"), epochs=c.epochs if c else 0, seed=c.seed if c else 0,
        n_qubits=c.n_qubits if c else (first.n_qubits if first else 0), circuit_depth=c.circuit_depth if c else 0,
        started_at=first.time if first else None,
        steps=last_step.step + 1 if last_step else 0,
        total_steps=last_step.total_steps if last_step else (first.total_steps if first else 0),
        epochs_done=epochs_done, best_val_accuracy=max((v for v in val_accs if math.isfinite(v)), default=None),
        final_val_accuracy=final_val, final_loss=final_loss, circuits=circuits, duration_s=duration,
        cost_estimated_usd=sum(segment_cost) if any(segment_cost) else None,
        cost_actual_usd=sum(job_spend.values()) if job_spend else None,
        tags=tags, sweep=sweep, config=config, problem=problem,
    )


def _tags(run_dir: Path) -> tuple[list[str], str]:
    """The run's tags and, for a damaged tags.json, the problem (shown as the run's warning, not as no tags)."""
    try:
        return read_tags(run_dir), ""
    except RunError as exc:
        return [], str(exc)


def _sweep_tag(run_dir: Path) -> tuple[SweepTag | None, str]:
    try:
        return read_sweep_tag(run_dir), ""
    except RunError as exc:
        return None, str(exc)


_SIGNED = (CONFIG_FILE, EVENTS_FILE, TAGS_FILE, SWEEP_FILE)  # every file a record is read from
_records: dict[Path, tuple[tuple[object, ...], RunRecord]] = {}
_records_lock = Lock()
UNCACHED = ("running", "unreadable")  # statuses whose records are read again at every listing


def signature(run_dir: Path) -> tuple[object, ...]:
    """What changes whenever a file the record is read from does (written in place, appended, or replaced)."""
    parts: list[object] = []
    for name in _SIGNED:
        try:
            st = os.stat(run_dir / name)
        except OSError:
            parts.append(None)
            continue
        parts.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(parts)


def unreadable_record(run_dir: Path, exc: OSError) -> RunRecord:
    """The row of a run whose files the OS will not give us: its id, and why, in `problem`."""
    return RunRecord(
        run_id=run_dir.name, path=run_dir, status="unreadable", backend="?", target="?", gradient_method="?",
        optimizer="?", learning_rate=float("nan"), epochs=0, seed=0, n_qubits=0, circuit_depth=0, started_at=None,
        steps=0, total_steps=0, epochs_done=0, best_val_accuracy=None, final_val_accuracy=None, final_loss=None,
        circuits=0, duration_s=0.0, cost_estimated_usd=None, cost_actual_usd=None,
        problem=cannot_read(run_dir, exc))


def cached_record(run_dir: Path) -> RunRecord:
    """run_record, kept while the run's files are unchanged and it is not running: a second listing of 2,000
    runs re-reads none of them (the first took ~5 s, every refresh of the Runs screen the same again)."""
    stamp = signature(run_dir)
    with _records_lock:
        kept = _records.get(run_dir)
    if kept is not None and kept[0] == stamp and kept[1].status not in UNCACHED and not is_running(run_dir):
        return kept[1]
    try:
        record = run_record(run_dir)
    except OSError as exc:  # a run this user may not read (another user's, on a shared box): a row that says so
        record = unreadable_record(run_dir, exc)
    if record.status in UNCACHED:  # read again next time: it moves on, or may have become readable
        return record
    with _records_lock:
        _records[run_dir] = (stamp, record)
    return record


def list_records(runs_dir: Path, *, on_progress: Callable[[list[RunRecord], int], None] | None = None,
                 first_s: float = 0.5) -> list[RunRecord]:
    """Every run under `runs_dir`, newest first (start time, then id).

    With `on_progress`, after `first_s` of reading and then at doubling intervals, it gets the records read so far
    (sorted the same way) and the number of runs in all: runs are read newest id first (ids start with their start
    time), so the first of these already holds the runs a person looks for first, and the few later ones (each a
    redraw on the UI's thread, which slows this one) do not stretch the listing (every 0.5 s tripled it).
    """
    runs_dir = Path(runs_dir)
    if not check_runs_dir(runs_dir):
        return []
    dirs = sorted(run_dirs(runs_dir), key=lambda p: p.name, reverse=True)
    records: list[RunRecord] = []
    wait, told = first_s, monotonic()
    for p in dirs:
        records.append(cached_record(p))
        if on_progress is not None and monotonic() - told >= wait and len(records) < len(dirs):
            on_progress(sort_runs(records, "started_at", descending=True), len(dirs))
            wait, told = 2 * wait, monotonic()
    present = set(dirs)
    with _records_lock:  # deleted runs leave the cache too
        for gone in [p for p in _records if p.parent == runs_dir and p not in present]:
            del _records[gone]
    return sort_runs(records, "started_at", descending=True)


def _sort_value(record: RunRecord, key: str) -> object:
    value = getattr(record, key)
    if key == "tags":
        return ",".join(value)
    return value


def sort_runs(records: Iterable[RunRecord], key: str, *, descending: bool = False) -> list[RunRecord]:
    """Sorted by one SORT_KEYS column; missing values (None, NaN) go last either way, ties by run id."""
    if key not in SORT_KEYS:
        raise ValueError(f"sort key {key!r}: expected one of {', '.join(SORT_KEYS)}")
    present: list[RunRecord] = []
    missing: list[RunRecord] = []
    for r in records:
        v = _sort_value(r, key)
        (missing if v is None or (isinstance(v, float) and v != v) else present).append(r)
    present.sort(key=lambda r: r.run_id, reverse=descending)
    present.sort(key=lambda r: _sort_value(r, key), reverse=descending)  # type: ignore[arg-type, return-value]
    missing.sort(key=lambda r: r.run_id)
    return present + missing


def filter_runs(records: Iterable[RunRecord], *, text: str = "", status: str | Iterable[str] | None = None,
                tag: str | None = None) -> list[RunRecord]:
    """Runs whose id, backend, target, method, optimizer, study or tags contain `text` (case-insensitive),
    whose status is `status` (one or several), and that carry `tag`."""
    wanted = {status} if isinstance(status, str) else set(status) if status is not None else None
    needle = text.strip().lower()
    out = []
    for r in records:
        if wanted is not None and r.status not in wanted:
            continue
        if tag is not None and tag not in r.tags:
            continue
        if needle:
            hay = " ".join([r.run_id, r.backend, r.target, r.gradient_method, r.optimizer, r.study or "", *r.tags])
            if needle not in hay.lower():
                continue
        out.append(r)
    return out


def delete_run(runs_dir: Path, run: str | Path) -> Path:
    """Delete a run directory; refused (RunError) while a session runs it. Holds the run's lock while
    deleting, so no session can start on it half-way."""
    run_dir = _run_to_delete(Path(runs_dir), run)
    try:  # a folder this user may not change refuses its lock file: said as that, not as "running"
        open(run_dir / LOCK_FILE, "ab").close()
    except OSError as exc:
        raise cannot_delete(run_dir, exc, removed=False) from None
    lock = RunLock(run_dir)
    try:
        lock.acquire()
    except RunError:
        raise RunError(f"run {run_dir.name!r} is running: stop it before deleting it") from None
    before = _entries(run_dir)
    try:
        shutil.rmtree(run_dir)
    except OSError as exc:  # e.g. an immutable folder: rmtree stops at the first file it may not remove
        raise cannot_delete(run_dir, exc, removed=_entries(run_dir) < before) from None
    finally:
        lock.release()
    return run_dir


def _run_to_delete(runs_dir: Path, run: str | Path) -> Path:
    """resolve_run, or a damaged run without its config.toml, which the listings show so it can be deleted."""
    try:
        return resolve_run(runs_dir, run)
    except RunError:
        damaged = next((p for p in (runs_dir / str(run), Path(run)) if is_run_dir(p)), None)
        if damaged is None:
            raise
        return damaged


def _entries(run_dir: Path) -> int:
    """Files and folders under `run_dir`: fewer after a failed delete means it removed some."""
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(run_dir))
