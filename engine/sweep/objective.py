"""One trial: an ordinary EngineSession run in its own run directory, tagged with its study and trial.

The trial's values come from the sampler (or are fixed: grid points, retries); the run reports its
validation accuracy at every epoch end to Optuna, and when the pruner says so the session stops at that
epoch boundary with a checkpoint and the trial ends PRUNED (run status "pruned"). The objective is the
run's final validation accuracy. A run that fails raises TrialFailed: Optuna records FAIL, never retried
(only a killed worker's trial is retried, by the heartbeat).
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ConfigError, TrainingConfig
from ..events import EpochFinished, RunStarted, _Event
from ..runs import new_run_id, run_record
from ..runs.tags import SweepTag, write_sweep_tag
from .space import Choice, apply_params
from .study import PLANNED_ATTR, SweepSpec

if TYPE_CHECKING:
    import optuna


class TrialFailed(RuntimeError):
    """The trial's run did not complete (bad combination of values, backend error, ...); the message says why."""


class SurplusTrial(RuntimeError):
    """A worker asked for a trial after the planned ones were all taken: it is closed without a run."""


class BudgetReached(RuntimeError):
    """Starting this trial could pass the study's cost cap: the sweep stops here."""


@dataclass(frozen=True)
class TrialContext:
    spec: SweepSpec
    runs_dir: Path


def _is_planned(trial: optuna.Trial) -> bool:
    # Planned trials are enqueued (WAITING) with this user attribute (a retry copies it); a trial Optuna had
    # to create because the queue was empty when this worker asked is surplus.
    return bool(trial.user_attrs.get(PLANNED_ATTR))


def run_trial(trial: optuna.Trial, ctx: TrialContext) -> float:
    import optuna

    if not _is_planned(trial):
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number}: every planned trial was already taken")
    spec = ctx.spec
    params = spec.space.suggest(trial)
    from .budget import reserve_budget

    cap = reserve_budget(trial, spec)
    try:
        config = _trial_config(spec, params, cap)
    except ConfigError as exc:
        trial.set_user_attr("error", str(exc))
        raise TrialFailed(f"trial {trial.number}: {exc}") from None
    from ..session import EngineSession

    run_id = f"{new_run_id()}-t{trial.number}"
    tag = SweepTag(spec.study, trial.number)
    for key, attr in (("run_id", run_id), ("host", socket.gethostname()), ("pid", os.getpid()),
                       ("runs_dir", str(Path(ctx.runs_dir).resolve()))):
        trial.set_user_attr(key, attr)
    session = EngineSession(config, runs_dir=ctx.runs_dir, run_id=run_id)
    pruned = False

    def on_event(event: _Event) -> None:
        nonlocal pruned
        if isinstance(event, RunStarted):
            write_sweep_tag(session.run_dir, tag)
        elif isinstance(event, EpochFinished) and event.val_accuracy is not None and not pruned:
            trial.report(event.val_accuracy, event.epoch)
            if trial.should_prune() and event.epoch + 1 < config.epochs and session.trainer is not None:
                pruned = True
                session.trainer.request_stop()  # stops before the next epoch, after a checkpoint

    session.bus.add_sink(on_event)
    try:
        finished = asyncio.run(session.run())
    except KeyboardInterrupt:  # Ctrl-C: the run ended "interrupted"; a resumed sweep runs the trial again
        trial.set_user_attr("interrupted", True)
        raise
    record = run_record(session.run_dir)
    spent = record.cost_actual_usd if record.cost_actual_usd is not None else record.cost_estimated_usd
    trial.set_user_attr("spent_usd", spent or 0.0)
    if pruned and finished.status == "stopped":
        write_sweep_tag(session.run_dir, SweepTag(spec.study, trial.number, "pruned", record.final_val_accuracy))
        raise optuna.TrialPruned(f"pruned after epoch {record.epochs_done}")
    if finished.status != "completed" or finished.val_accuracy is None:
        write_sweep_tag(session.run_dir, SweepTag(spec.study, trial.number, "fail"))
        why = finished.message or ("no validation accuracy" if finished.status == "completed" else finished.status)
        trial.set_user_attr("error", why)
        raise TrialFailed(f"trial {trial.number}: run {run_id} ended {finished.status}: {why}")
    value = finished.val_accuracy
    write_sweep_tag(session.run_dir, SweepTag(spec.study, trial.number, "complete", value))
    return value


def _trial_config(spec: SweepSpec, params: dict[str, Choice], cap: float | None) -> TrainingConfig:
    """The base config with the trial's values; on a QPU target its cap is what the study has left."""
    updates = dict(params)
    if cap is not None:
        updates["max_cost_usd"] = cap
    return apply_params(spec.base, updates)
