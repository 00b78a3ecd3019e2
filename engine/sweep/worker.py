"""A sweep worker: takes the study's WAITING trials one at a time until none is waiting or running.

Each local worker is its own process, forked warm by the worker host (host.py; its job as JSON on stdin, so a
storage password never appears on a command line), or the sweep's own process when there is one worker.
When the queue is empty but another worker's trial is still running, the worker waits: if that worker died,
Optuna's heartbeat turns its trial into FAIL after the grace period and the retry callback enqueues a copy,
which this worker then runs (a trial beats from the moment it turns RUNNING: storage.py).
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..config import ConfigError
from .storage import Heartbeat, open_storage

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class WorkerJob:
    study: str
    storage_url: str
    runs_dir: str
    heartbeat_interval_s: int = 5
    heartbeat_grace_s: int = 60
    poll_s: float = 0.5
    workers: int = 1  # how many the host forks (host.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerJob:
        return cls(**json.loads(text))

    @property
    def heartbeat(self) -> Heartbeat:
        return Heartbeat(self.heartbeat_interval_s, self.heartbeat_grace_s)


def work(job: WorkerJob, on_trial: Callable[[optuna.Study], None] | None = None) -> int:
    """Run trials until the study has none waiting or running; returns how many this worker ran.
    `on_trial` is called after each trial (the in-process worker's progress)."""
    import optuna
    from optuna.trial import TrialState

    from .objective import BudgetReached, SurplusTrial, TrialContext, TrialFailed, run_trial
    from .study import load_spec, load_study

    storage = open_storage(job.storage_url, job.heartbeat)
    study = load_study(job.study, storage)
    ctx = TrialContext(load_spec(study), Path(job.runs_dir))
    ran = 0
    try:
        while not study.user_attrs.get("qstore.stopped"):
            if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                    break
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)  # a dead worker's trial: FAIL, and a retry enqueued
                if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                    time.sleep(job.poll_s)
                    continue
            study.optimize(lambda trial: run_trial(trial, ctx), n_trials=1, gc_after_trial=False,
                           catch=(TrialFailed, SurplusTrial, BudgetReached))
            ran += 1
            if ran == 1:  # what the first trial imported (cirq, ...) stays: no full collection walks it again
                gc.collect()
                gc.freeze()
            if on_trial is not None:
                on_trial(study)
    finally:
        if ran:
            gc.unfreeze()  # an in-process caller (the CLI, a test) gets its collector back as it was
    return ran


def run_worker(job: WorkerJob) -> int:
    """One worker process's trials; its exit code (2: the study or storage refused, with the reason on stderr)."""
    try:
        work(job)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
