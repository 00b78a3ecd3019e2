"""A QPU-target run's estimated cost before it starts (before a model exists): what the Config screen's cost
dialog and `run --headless`'s prompt show. The same published prices and circuit count as the engine session,
which, against the real IonQ API, re-prices with IonQ's /jobs/estimate endpoint and refuses a run over the cap."""

from __future__ import annotations

from dataclasses import dataclass

from . import cost
from .config import TrainingConfig


@dataclass(frozen=True)
class RunCost:
    target: str
    circuits: int
    shots: int
    per_circuit_usd: float
    usd: float
    basis: str

    def line(self) -> str:
        return (f"QPU cost estimate: ${self.usd:,.2f} for ~{self.circuits:,} circuits x {self.shots:,} shots "
                f"on {self.target}")


def _samples(config: TrainingConfig) -> int:
    if config.dataset == "csv" and config.dataset_path is not None and config.dataset_path.is_file():
        with open(config.dataset_path, "rb") as handle:
            return max(0, sum(1 for line in handle if line.strip()) - 1)
    return config.n_samples


def planned_circuits(config: TrainingConfig) -> int:
    """The session's own count (engine.cost), before a model exists: 2 trainable angles per qubit per layer."""
    n = _samples(config)
    n_val = max(1, round(n * config.validation_split))
    return cost.planned_circuits(epochs=config.epochs, batch_size=config.batch_size, n_train=max(1, n - n_val),
                                 n_val=n_val, gradient_method=config.gradient_estimator,
                                 spsa_samples=config.spsa_samples,
                                 n_circuit_params=2 * config.n_qubits * config.circuit_depth)


def estimate_run_cost(config: TrainingConfig) -> RunCost | None:
    """The estimated cost of a QPU-target run, or None when nothing is charged."""
    if not config.requires_cost_confirmation:
        return None
    shots = config.shots_per_circuit
    per, source = cost.published_price(config.quantum_target, shots)
    circuits = planned_circuits(config)
    basis = f"estimate from {source}"
    return RunCost(config.quantum_target, circuits, shots, per, per * circuits, basis)
