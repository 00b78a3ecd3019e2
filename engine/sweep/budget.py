"""Money for a sweep on a QPU target: the whole study estimated before it starts, and a cap no trial can pass.

The estimate prices each trial at its worst case over the space (the most circuits any combination plans,
at the published price per circuit, engine/cost.py), times the planned trials. Before a trial runs it
reserves that worst case in the storage (a trial user attribute) and starts only if the spend of finished
trials plus every reservation stays within the study's `max_cost_usd`; its own session gets the rest of
the budget as its `max_cost_usd`, which the session enforces. Two workers that reserve at once both see
both reservations: at worst one of them does not start; the cap is never passed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import ConfigError, TrainingConfig
from ..cost import planned_circuits, published_price
from .space import Categorical, Choice, FloatRange, IntRange, apply_params
from .study import SweepSpec

if TYPE_CHECKING:
    import optuna

# Fields that change how many circuits a run plans or what one costs: the worst case tries their extremes.
_COST_FIELDS = ("epochs", "batch_size", "n_samples", "validation_split", "gradient_method", "spsa_samples",
                "n_qubits", "circuit_depth", "shots_per_circuit", "quantum_target")


@dataclass(frozen=True)
class StudyCost:
    trials: int
    per_trial_usd: float  # the worst case over the space
    total_usd: float
    target: str
    basis: str


def _run_cost(config: TrainingConfig) -> float:
    n = config.n_samples
    n_val = max(1, round(n * config.validation_split))
    circuits = planned_circuits(
        epochs=config.epochs, batch_size=config.batch_size, n_train=max(1, n - n_val), n_val=n_val,
        gradient_method=config.gradient_estimator, spsa_samples=config.spsa_samples,
        n_circuit_params=2 * config.n_qubits * config.circuit_depth)
    per, _ = published_price(config.quantum_target, config.shots_per_circuit)
    return circuits * per


def _extremes(name: str, spec: SweepSpec) -> list[Choice]:
    p = spec.space.params[name]
    if isinstance(p, Categorical):
        return list(p.choices)
    if isinstance(p, (IntRange, FloatRange)):
        return [p.low, p.high]
    return []


def study_cost(spec: SweepSpec) -> StudyCost | None:
    """The whole study's estimate, or None when no trial can be charged (no QPU target anywhere)."""
    swept = [n for n in _COST_FIELDS if n in spec.space.params]
    worst, target = 0.0, ""
    for combo in itertools.product(*(_extremes(n, spec) for n in swept)):
        try:
            config = apply_params(spec.base, dict(zip(swept, combo)))
        except ConfigError:
            continue  # a combination the config refuses never runs, so it costs nothing
        if not config.quantum_target.startswith("qpu."):
            continue
        cost = _run_cost(config)
        if cost > worst:
            worst, target = cost, config.quantum_target
    if not target:
        return None
    return StudyCost(spec.trials, worst, worst * spec.trials, target,
                     f"{spec.trials} trials x ${worst:,.2f} (the costliest combination of the space on {target}, "
                     "published prices)")


def check_study_cap(spec: SweepSpec, cost: StudyCost | None) -> None:
    """A QPU study needs a max_cost_usd that covers the whole estimate (ConfigError naming the field)."""
    if cost is None:
        return
    if spec.max_cost_usd is None:
        raise ConfigError("max_cost_usd", f"a sweep on {cost.target} needs a cap for the whole study; the estimate "
                                          f"is ${cost.total_usd:,.2f} ({cost.basis})")
    if spec.max_cost_usd + 1e-9 < cost.total_usd:
        raise ConfigError("max_cost_usd", f"${spec.max_cost_usd:,.2f} does not cover the study's estimate of "
                                          f"${cost.total_usd:,.2f} ({cost.basis})")


def spent_and_reserved(study: optuna.Study, *, exclude: int | None = None) -> tuple[float, float]:
    """Actual spend of finished trials and the reservations of running ones (optionally minus one trial)."""
    from optuna.trial import TrialState

    spent = reserved = 0.0
    for t in study.get_trials(deepcopy=False):
        if t.number == exclude:
            continue
        if t.state == TrialState.RUNNING:
            reserved += float(t.user_attrs.get("reserved_usd", 0.0))
        else:
            spent += float(t.user_attrs.get("spent_usd", 0.0))
    return spent, reserved


def reserve_budget(trial: optuna.Trial, spec: SweepSpec) -> float | None:
    """Reserve this trial's worst case; its session's cap (None off-QPU). Raises BudgetReached when the
    study's cap could be passed."""
    from .objective import BudgetReached

    cost = study_cost(spec)
    if cost is None or spec.max_cost_usd is None:
        return None
    trial.set_user_attr("reserved_usd", cost.per_trial_usd)
    spent, reserved = spent_and_reserved(trial.study, exclude=trial.number)
    left = spec.max_cost_usd - spent - reserved
    if cost.per_trial_usd > left + 1e-9:
        trial.set_user_attr("reserved_usd", 0.0)
        # Every worker checks this before its next trial: the whole sweep stops, on every machine.
        trial.study.set_user_attr("qstore.stopped", f"cost cap: ${spent:,.2f} spent, ${reserved:,.2f} reserved of "
                                                    f"${spec.max_cost_usd:,.2f}")
        raise BudgetReached(f"trial {trial.number} could pass the study's cap of ${spec.max_cost_usd:,.2f}")
    return max(0.0, math.floor(left * 100) / 100)
