"""A run's price: one circuit priced for a QPU target (or a QPU a noise model imitates), the whole run estimated
and refused when over `max_cost_usd`, and the CostEstimate event of the circuits run so far.

Runs on IonQ's QPU targets ask IonQ's /jobs/estimate as they start, and that price is the one enforced; the
others use the published table (engine/cost.py). The estimate a user confirms before the start (the Config
screen's dialog, `run`'s y/N) is the published table's, which can differ from IonQ's: it says so when it is over the
cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import ConfigError, TrainingConfig
from .cost import planned_circuits, published_price
from .events import CostEstimate, Log, _Event

if TYPE_CHECKING:
    from .backends.ionq_client import IonQClient
    from .model import QuantumModel


@dataclass(frozen=True)
class CircuitPrice:
    usd: float  # per circuit
    source: str  # "ionq-estimate" or "formula"
    basis: str  # in words


class RunPricing:
    """Prices the run once (`prepare`), then describes what its circuits cost (`event`)."""

    def __init__(self, config: TrainingConfig):
        self.config = config
        self.price: CircuitPrice | None = None  # None: not a (real or imitated) QPU target, no charge
        self.planned = 0  # circuits the whole run plans to execute (set by prepare on priced runs)

    def target(self) -> str | None:
        """The QPU whose prices apply: the configured one, or the one a noise model imitates (with shots)."""
        cfg = self.config
        if cfg.quantum_target.startswith("qpu."):
            return cfg.quantum_target
        if cfg.noise_model in ("aria-1", "forte-1") and cfg.shots_per_circuit > 0:
            return f"qpu.{cfg.noise_model}"
        return None

    async def prepare(self, model: QuantumModel, n_train: int, n_val: int, client: IonQClient | None,
                      emit: Callable[[_Event], object]) -> None:
        """Price one circuit, say what the planned run costs (a Log event), refuse a run over its cap."""
        cfg = self.config
        target = self.target()
        if target is None:
            return
        one, two, gateset = await asyncio.to_thread(self._gate_counts, model)
        shots = cfg.shots_per_circuit
        if cfg.quantum_target.startswith("qpu.") and client is not None:
            answer = await client.estimate(target, qubits=cfg.n_qubits, shots=shots, gates_1q=one, gates_2q=two)
            per = float(answer["estimated_total_cost"])
            basis = (f"IonQ /jobs/estimate for one {cfg.n_qubits}-qubit circuit ({one} 1q + {two} 2q {gateset} gates, "
                     f"{shots} shots): ${per:.4f}; priced per circuit (an upper bound where a job minimum "
                     f"applies per multi-circuit job)")
            self.price = CircuitPrice(per, "ionq-estimate", basis)
        else:
            per, source = published_price(target, shots)
            self.price = CircuitPrice(per, "formula", f"what this run would cost on {target}: {source}")
        planned = planned_circuits(
            epochs=cfg.epochs, batch_size=cfg.batch_size, n_train=n_train, n_val=n_val,
            gradient_method=cfg.gradient_estimator, spsa_samples=cfg.spsa_samples,
            n_circuit_params=model.n_circuit_params)
        self.planned = planned
        total = planned * per + await self._calibration_usd(target, client)
        calibration = ", readout calibration included" if cfg.readout_mitigation == "calibrate" else ""
        emit(Log(message=f"estimated cost of {planned:,} planned circuits on {target}{calibration}: "
                         f"${total:,.2f} ({self.price.source})"))
        over = cfg.max_cost_usd is not None and total > cfg.max_cost_usd
        if cfg.requires_cost_confirmation and over and not cfg.dry_run:  # a dry run is priced, never charged
            raise ConfigError("max_cost_usd", f"the run is estimated at ${total:,.2f} ({planned:,} circuits"
                                              f"{calibration}), over the cap of ${cfg.max_cost_usd:,.2f}")

    async def _calibration_usd(self, target: str, client: IonQClient | None) -> float:
        """Readout calibration's two circuits (all 0; all 1: n X gates) at their own shots: left out, a run at
        readout_calibration_shots = 1,000,000 passed its own cap check and IonQ refused the job."""
        cfg = self.config
        if cfg.readout_mitigation != "calibrate":
            return 0.0
        shots = cfg.readout_calibration_shots
        if cfg.quantum_target.startswith("qpu.") and client is not None:
            answer = await client.estimate(target, qubits=cfg.n_qubits, shots=shots, gates_1q=cfg.n_qubits,
                                           gates_2q=0)
            return 2 * float(answer["estimated_total_cost"])
        return 2 * published_price(target, shots)[0]

    def _gate_counts(self, model: QuantumModel) -> tuple[int, int, str]:
        """(1q, 2q, gateset) of the circuits the jobs carry: with native gates, the compiled form, which has
        more 1q gates than the qis source (3 GPI/GPI2 pulses for an RY·RZ pair): priced from the source, the
        'upper bound' was below what IonQ billed."""
        ops = model.template.ops
        gateset = "qis"
        if self.config.use_native_gates:
            from .compiler import NativeGateCompiler

            compiler = NativeGateCompiler(self.config.native_target, optimize=self.config.enable_circuit_compression)
            ops, gateset = compiler.compile_template(model.template).native_template.ops, "native"
        one = sum(1 for op in ops if len(op.qubits) == 1)
        return one, len(ops) - one, gateset

    def event(self, circuits: int) -> CostEstimate | None:
        """What `circuits` executed circuits cost, or None when the run is not priced."""
        if self.price is None:
            return None
        cfg, p = self.config, self.price
        target = cfg.quantum_target if cfg.quantum_target.startswith("qpu.") else f"qpu.{cfg.noise_model}"
        return CostEstimate(target=target, circuits=circuits, shots=cfg.shots_per_circuit, usd=p.usd * circuits,
                            per_circuit_usd=p.usd, source=p.source, basis=p.basis)
