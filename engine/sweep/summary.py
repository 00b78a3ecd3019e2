"""What a sweep looks like from outside: the trials table, the best trial, spend, parameter importances.

`summarize(study)` reads Optuna's storage; `write_summary` keeps `<runs_dir>/sweeps/<study>/study.json`
current while a sweep runs, so `qstore-tui sweep --status NAME --follow` (and the app's Sweep view) can
follow a sweep without the storage's URL or password.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import TypeAdapter, ValidationError

from ..fileio import atomic_write_bytes, write_error
from .storage import mask_url, sweeps_dir

if TYPE_CHECKING:
    import optuna

SUMMARY_FILE = "study.json"


@dataclass
class TrialRow:
    number: int
    state: str  # waiting, running, complete, pruned, fail, interrupted (a FAIL a Ctrl-C caused)
    params: dict[str, object]
    value: float | None
    duration_s: float | None
    run_id: str | None
    host: str | None
    retry_of: int | None = None  # the trial this one retries (a killed worker's)
    surplus: bool = False  # created by a worker after the planned trials were taken: never ran
    error: str | None = None


@dataclass
class SweepSummary:
    study: str
    storage: str  # masked
    direction: str
    objective: str
    planned: int
    counts: dict[str, int]
    trials: list[TrialRow]
    best: TrialRow | None
    spent_usd: float
    max_cost_usd: float | None
    stopped: str | None  # why the sweep stopped early (cost cap), else None
    finished: bool  # no trial waiting or running
    updated_at: float = 0.0
    importances: dict[str, float] = field(default_factory=dict)
    writer_host: str = ""  # the runner that keeps this file current: a follower can tell when it is gone
    writer_pid: int = 0


def _row(t: optuna.trial.FrozenTrial) -> TrialRow:
    duration = t.duration.total_seconds() if t.duration is not None else None
    retry = t.system_attrs.get("failed_trial")
    retry_of = t.user_attrs.get("qstore.retry_of", retry)
    error = t.user_attrs.get("error")
    state = t.state.name.lower()
    if state == "fail" and t.user_attrs.get("interrupted"):  # a Ctrl-C, not a failure: resuming runs it again
        state = "interrupted"
    return TrialRow(
        number=t.number, state=state, params=dict(t.params), value=t.value, duration_s=duration,
        run_id=cast("str | None", t.user_attrs.get("run_id")), host=cast("str | None", t.user_attrs.get("host")),
        retry_of=None if retry_of is None else int(cast(int, retry_of)), surplus=bool(t.user_attrs.get("surplus")),
        error=None if error is None else str(error))


def importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA by default) once two trials are complete; {} before."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2 or len({t.value for t in complete}) < 2:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except (ValueError, RuntimeError):  # a single-valued parameter etc.: nothing to say
            return {}


def summarize(study: optuna.Study, storage_url: str, *, with_importances: bool = False) -> SweepSummary:
    frozen = study.get_trials(deepcopy=False)  # one read of the storage: a live sweep is summarized every second
    trials = [_row(t) for t in frozen]
    counts: dict[str, int] = {}
    for row in trials:  # a surplus trial is closed as FAIL without running: counted apart, not as a failure
        state = "surplus" if row.surplus else row.state
        counts[state] = counts.get(state, 0) + 1
    complete = [r for r in trials if r.state == "complete" and r.value is not None and math.isfinite(r.value)]
    best = max(complete, key=lambda r: (cast(float, r.value), -r.number)) if complete else None
    attrs = study.user_attrs
    spent = sum(float(t.user_attrs.get("spent_usd", 0.0)) for t in frozen)
    cap = attrs.get("qstore.max_cost_usd")
    return SweepSummary(
        study=study.study_name, storage=mask_url(storage_url), direction=study.direction.name.lower(),
        objective=str(attrs.get("qstore.objective", "val_accuracy")), planned=int(attrs.get("qstore.trials", 0)),
        counts=counts, trials=trials, best=best, spent_usd=spent,
        max_cost_usd=None if cap is None else float(cap), stopped=attrs.get("qstore.stopped"),
        finished=not (counts.get("waiting", 0) or counts.get("running", 0)), updated_at=time.time(),
        importances=importances(study) if with_importances else {},
        writer_host=socket.gethostname(), writer_pid=os.getpid(),
    )


def runner_gone(summary: SweepSummary) -> bool:
    """An unfinished sweep whose study.json was written by a process on this host that has exited: nothing
    will update the file again (the runner was killed), so following it would wait forever. A runner on another
    host (a shared runs directory) cannot be checked, and counts as alive."""
    if summary.finished or summary.writer_pid <= 0 or summary.writer_host != socket.gethostname():
        return False
    try:
        os.kill(summary.writer_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    return False


def summary_path(runs_dir: Path, study: str) -> Path:
    return sweeps_dir(runs_dir) / study / SUMMARY_FILE


def write_summary(runs_dir: Path, summary: SweepSummary) -> Path:
    return atomic_write_bytes(summary_path(runs_dir, summary.study),
                              json.dumps(asdict(summary), indent=1, default=str).encode())


@lru_cache(maxsize=1)
def _summary_type() -> TypeAdapter[SweepSummary]:
    return TypeAdapter(SweepSummary)


def read_summary(path: Path) -> SweepSummary:
    """A study.json back into a SweepSummary, every field of its type, strictly (ValueError naming the file and
    the first field at fault when it is not one: "x", null, counts a list)."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        reason = write_error(path, exc, action="cannot read").reason
        raise ValueError(f"{path}: not a sweep summary ({reason})") from None
    try:
        return _summary_type().validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "the file"
        raise ValueError(f"{path}: not a sweep summary ({where}: {first['msg']})") from None
