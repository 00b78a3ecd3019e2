"""Hyperparameter sweeps on Optuna: a TOML search space over TrainingConfig, one ordinary run per trial.

- `space.py`     the space file: float (log) / int ranges, categorical choices, checked against TrainingConfig
- `storage.py`   Optuna's RDB storage: SQLite in the runs directory by default, PostgreSQL to scale out
- `study.py`     the study and its stored spec; planned trials enqueued up front (exact counts across workers)
- `objective.py` one trial = one EngineSession run, tagged; pruning from EpochFinished
- `budget.py`    the whole study's cost on a QPU target and the cap no trial can pass
- `worker.py`    a worker process's loop (heartbeat, retry of a killed worker's trial)
- `runner.py`    start / join a sweep with K local worker processes
- `summary.py`   trials table, best trial, importances, study.json for following a sweep

Optuna is imported only when a sweep runs, never when the app starts.
"""

from __future__ import annotations

from .budget import StudyCost, check_study_cap, study_cost
from .runner import SweepCancelled, SweepOptions, join_sweep, run_workers, start_sweep
from .space import Categorical, FloatRange, IntRange, SearchSpace, load_space, parse_space
from .storage import Heartbeat, default_storage_url, mask_url, open_storage
from .study import SweepSpec, create_study, load_spec, load_study
from .summary import SweepSummary, TrialRow, read_summary, runner_gone, summarize, summary_path, write_summary

__all__ = [
    "Categorical", "FloatRange", "Heartbeat", "IntRange", "SearchSpace", "StudyCost", "SweepCancelled", "SweepOptions",
    "SweepSpec", "SweepSummary", "TrialRow", "check_study_cap", "create_study", "default_storage_url", "join_sweep",
    "load_space", "load_spec", "load_study", "mask_url", "open_storage", "parse_space", "read_summary", "run_workers",
    "runner_gone", "start_sweep", "study_cost", "summarize", "summary_path", "write_summary",
]
