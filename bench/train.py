"""The v3.4 guide's "Training (5 epochs, 100 samples)" scenario, end to end, against a cirq peer in the same run.

Scenario (guide): 8 qubits, depth 2, batch 10, spsa_parallel, 1000 shots, two moons (100 samples,
80 train / 20 validation), 5 epochs, on the local simulator. Then the same with parameter_shift, then
the SPSA run again on a backend that executes each circuit with cirq.Simulator (bench/_cirq_backend.py).
All three go through the same QuantumTrainer and CircuitBatchManager (batch API and smart caching on,
as in the guide); only the backend differs. Native-gate compilation is off: it targets IonQ hardware,
and on a simulator it only adds work (more gates, dense MS instead of permutation CNOTs). What it
costs on the local backend is measured too, as a fourth run (SPSA, local, use_native_gates on).

Settings the guide leaves open, chosen here: learning_rate 0.1 (the head; all parameters for
parameter shift), spsa_a_initial 0.2, other fields at their defaults, seed 0 (--seed).
Before timing, each backend runs one small batch of the model so that one-time process costs
(imports, the simulator's plan for this structure) are not billed to either side; each timed run
builds its own trainer, batch manager, cache and compiler.

Also: the scenario with `adjoint` (exact expectations, shots 0: the run gradient_method "auto" picks there),
and the cirq peer at its best: one parametrized circuit and `run_sweep` over a `cirq.ListSweep` of resolvers
per batch (bench/_cirq_backend.CirqSweepBackend), not circuit by circuit.

Shot-frugal case (skip with --skip-frugal): the IonQ emulator in-process over loopback with the aria-1 noise
model, 2 qubits, depth 2, two moons (100 samples), batch 10, SGD, native gates on, seed 0; fixed-shot
spsa_parallel (100 shots), qnspsa (100 shots) and shot_adaptive (min 10 shots a term) each under a shot budget
of FRUGAL_BUDGET training-step shots. shots_to_085_* = training-step shots measured when the validation accuracy
(20 samples, checked at epoch ends) first reaches 0.85; null, with the reason, when the budget ran out first.
Validation shots are not counted (the same for all three).

Targets: SPSA run <= 2 s with validation accuracy >= 0.80; parameter shift <= 10 s with validation
accuracy >= 0.95; adjoint <= 0.3 s with validation accuracy >= 0.95; SPSA at least 50x faster than the
cirq-backed run.
Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cirq_backend import CirqSimulatorBackend, CirqSweepBackend  # noqa: E402

from engine.backends.local import LocalSimulatorBackend  # noqa: E402
from engine.batch import CircuitBatchManager  # noqa: E402
from engine.config import TrainingConfig  # noqa: E402
from engine.data import load_dataset, train_val_split  # noqa: E402
from engine.events import EpochFinished, EventBus, ShotsSpent, _Event  # noqa: E402
from engine.model import QuantumModel  # noqa: E402
from engine.parts import build_backend, build_manager  # noqa: E402
from engine.trainer import QuantumTrainer  # noqa: E402

TARGETS = {"spsa_s": 2.0, "spsa_val_acc": 0.80, "ps_s": 10.0, "ps_val_acc": 0.95, "adjoint_s": 0.3,
           "adjoint_val_acc": 0.95, "ratio_vs_cirq": 50.0}
FRUGAL_BUDGET = 200_000  # training-step shots per optimizer in the shot-frugal case
FRUGAL_ACC = 0.85
FRUGAL = (("spsa", "spsa_parallel", 100, 0.1), ("qnspsa", "qnspsa", 100, 0.1), ("rosalin", "shot_adaptive", 10, 0.3))


def scenario_config(method: str, seed: int, native: bool = False, shots: int = 1000,
                    learning_rate: float = 0.1) -> TrainingConfig:
    return TrainingConfig(
        n_qubits=8, circuit_depth=2, batch_size=10, epochs=5, gradient_method=method, shots_per_circuit=shots,
        dataset="moons", n_samples=100, validation_split=0.2, seed=seed, learning_rate=learning_rate,
        spsa_a_initial=0.2, use_batch_api=True, enable_smart_caching=True, use_native_gates=native,
    )


async def train_once(cfg: TrainingConfig, backend) -> dict:
    train, val = train_val_split(load_dataset(cfg), cfg.validation_split, cfg.seed)
    model = QuantumModel.from_config(cfg, train.n_features, train.n_classes)
    trainer = QuantumTrainer(cfg, build_manager(cfg, backend))
    t0 = time.perf_counter()
    result = await trainer.train(model, train, val)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "circuits": result.circuits, "val_acc": result.val_accuracy,
            "final_loss": result.final_loss, "steps": result.steps}


def frugal_config(method: str, shots: int, lr: float, seed: int) -> TrainingConfig:
    return TrainingConfig(
        backend="emulator", quantum_target="simulator", noise_model="aria-1", n_qubits=2, circuit_depth=2,
        dataset="moons", n_samples=100, batch_size=10, epochs=50, gradient_method=method, shots_per_circuit=shots,
        learning_rate=lr, spsa_a_initial=0.2, optimizer="sgd", momentum=0.0, shot_budget=FRUGAL_BUDGET, seed=seed,
        embeddings_to_store=False, use_native_gates=True,
    )


async def frugal_once(cfg: TrainingConfig) -> dict:
    """Train on the emulator until the budget is spent; the shots at the first epoch end with val acc >= 0.85."""
    parts = await build_backend(cfg, lambda info: None)
    events: list[_Event] = []
    bus = EventBus()
    bus.add_sink(events.append)
    t0 = time.perf_counter()
    try:
        train, val = train_val_split(load_dataset(cfg), cfg.validation_split, cfg.seed)
        model = QuantumModel.from_config(cfg, train.n_features, train.n_classes)
        result = await QuantumTrainer(cfg, build_manager(cfg, parts.backend), bus=bus).train(model, train, val)
    finally:
        await parts.backend.close()
        if parts.emulator is not None:
            await asyncio.to_thread(parts.emulator.stop)
    accs = [e.val_accuracy for e in events if isinstance(e, EpochFinished)]
    spent = [e.step_shots for e in events if isinstance(e, ShotsSpent)]
    reached = next((s for a, s in zip(accs, spent) if a is not None and a >= FRUGAL_ACC), None)
    return {"shots": reached, "wall_s": time.perf_counter() - t0, "epochs": len(accs), "best_val_acc": max(accs),
            "spent": spent[-1] if spent else 0, "status": result.status,
            "reason": None if reached is not None else
            f"val acc {max(accs):.2f} < {FRUGAL_ACC} at every epoch end within {FRUGAL_BUDGET:,} shots"}


async def warm_up_and_check(cfg: TrainingConfig) -> float:
    """One batch of the model on each backend (untimed); returns max |p_cirq - p_local| for exact runs."""
    model = QuantumModel.from_config(cfg, 2, 2)
    rng = np.random.default_rng(1)
    batch = model.batch(rng.random((4, 2)))
    probs = []
    for backend in (LocalSimulatorBackend(), CirqSimulatorBackend()):
        manager = CircuitBatchManager(cfg, backend)
        await manager.execute_batch(batch, seed=1)
        probs.append((await manager.execute_batch(batch, shots=0)).probabilities)
    return float(np.max(np.abs(probs[0] - probs[1])))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-frugal", action="store_true", help="skip the shot-frugal case on the emulator")
    args = parser.parse_args()

    spsa_cfg = scenario_config("spsa_parallel", args.seed)
    native_cfg = scenario_config("spsa_parallel", args.seed, native=True)
    peer_diff = max(await warm_up_and_check(spsa_cfg), await warm_up_and_check(native_cfg))
    spsa = await train_once(spsa_cfg, LocalSimulatorBackend())
    ps = await train_once(scenario_config("parameter_shift", args.seed), LocalSimulatorBackend())
    adjoint_cfg = scenario_config("adjoint", args.seed, shots=0)
    await train_once(adjoint_cfg, LocalSimulatorBackend())  # untimed: the adjoint kernels' first compile
    adjoint = await train_once(adjoint_cfg, LocalSimulatorBackend())
    cirq_spsa = await train_once(spsa_cfg, CirqSweepBackend())
    cirq_per_circuit = await train_once(spsa_cfg, CirqSimulatorBackend())
    native = await train_once(native_cfg, LocalSimulatorBackend())
    frugal = {} if args.skip_frugal else {
        key: await frugal_once(frugal_config(method, shots, lr, args.seed)) for key, method, shots, lr in FRUGAL}

    out = {
        "spsa_s": spsa["wall_s"], "spsa_val_acc": spsa["val_acc"],
        "ps_s": ps["wall_s"], "ps_val_acc": ps["val_acc"],
        "cirq_spsa_s": cirq_spsa["wall_s"], "cirq_spsa_val_acc": cirq_spsa["val_acc"],
        "adjoint_s": adjoint["wall_s"], "adjoint_val_acc": adjoint["val_acc"],
        "ratio_vs_cirq": cirq_spsa["wall_s"] / spsa["wall_s"],
        "cirq_per_circuit_spsa_s": cirq_per_circuit["wall_s"],
        "circuits": spsa["circuits"], "ps_circuits": ps["circuits"], "cirq_circuits": cirq_spsa["circuits"],
        "spsa_native_s": native["wall_s"], "spsa_native_val_acc": native["val_acc"],
        "peer_max_prob_diff": peer_diff, "seed": args.seed,
    }
    for key, r in frugal.items():
        out[f"shots_to_085_{key}"] = r["shots"]
        out[f"shots_to_085_{key}_reason"] = r["reason"]
    if frugal:
        base = frugal["spsa"]["shots"]
        for key in ("qnspsa", "rosalin"):  # < 1: fewer shots than fixed-shot SPSA
            other = frugal[key]["shots"]
            out[f"shots_ratio_{key}_vs_spsa"] = None if base is None or other is None else other / base
    met = {
        "spsa_s": out["spsa_s"] <= TARGETS["spsa_s"], "spsa_val_acc": out["spsa_val_acc"] >= TARGETS["spsa_val_acc"],
        "ps_s": out["ps_s"] <= TARGETS["ps_s"], "ps_val_acc": out["ps_val_acc"] >= TARGETS["ps_val_acc"],
        "adjoint_s": out["adjoint_s"] <= TARGETS["adjoint_s"],
        "adjoint_val_acc": out["adjoint_val_acc"] >= TARGETS["adjoint_val_acc"],
        "ratio_vs_cirq": out["ratio_vs_cirq"] >= TARGETS["ratio_vs_cirq"],
    }
    out["targets_met"] = met

    print("Training (5 epochs, 100 samples): 8 qubits, depth 2, batch 10, 1000 shots, two moons, seed", args.seed)
    print(f"peer check: max |p_cirq - p_local| on an exact batch = {peer_diff:.1e}")
    print(f"{'run':<28}{'wall s':>10}{'circuits':>10}{'steps':>7}{'val acc':>9}{'final loss':>12}")
    for name, r in (("spsa_parallel / local", spsa), ("parameter_shift / local", ps), ("adjoint / local exact", adjoint),
                    ("spsa_parallel / cirq sweep", cirq_spsa), ("spsa_parallel / cirq 1-by-1", cirq_per_circuit),
                    ("spsa_parallel / local native", native)):
        print(f"{name:<28}{r['wall_s']:>10.3f}{r['circuits']:>10,}{r['steps']:>7}{r['val_acc']:>9.2f}"
              f"{r['final_loss']:>12.4f}")
    print(f"local SPSA vs cirq-backed SPSA (run_sweep): {out['ratio_vs_cirq']:.1f}x faster")
    if frugal:
        print(f"shot-frugal, emulator aria-1 noise, shots to val acc {FRUGAL_ACC} (budget {FRUGAL_BUDGET:,}):")
        print(f"{'optimizer':<12}{'shots':>12}{'spent':>12}{'epochs':>8}{'best acc':>10}{'wall s':>9}")
        for key, r in frugal.items():
            shots = "-" if r["shots"] is None else f"{r['shots']:,}"
            print(f"{key:<12}{shots:>12}{r['spent']:>12,}{r['epochs']:>8}{r['best_val_acc']:>10.2f}{r['wall_s']:>9.1f}")
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
