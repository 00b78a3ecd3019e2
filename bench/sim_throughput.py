"""Simulator throughput: ours vs cirq.Simulator vs qiskit-aer (when installed), in one process run.

Workload: RY(pi x) input encoding, then L layers of RY and RZ on every qubit and a CNOT chain;
8 qubits x 2 layers and 12 qubits x 4 layers; batch 200; exact <Z> and 1000 shots.
Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.circuits import CircuitBatch  # noqa: E402
from engine.sim import expectations_z, probabilities, sample_counts  # noqa: E402
from engine.circuits.library import ry_rz_ladder  # noqa: E402
from _timing import best_rate  # noqa: E402

BATCH = 200


model = ry_rz_ladder  # the issues' benchmark workload


def workload(n: int, layers: int, rows: int = BATCH, seed: int = 0) -> CircuitBatch:
    t = model(n, layers)
    rng = np.random.default_rng(seed)
    return CircuitBatch(t, rng.uniform(-np.pi, np.pi, (rows, t.n_trainable)), rng.random((rows, n)))


def ours_exact(batch: CircuitBatch):
    return lambda: expectations_z(probabilities(batch.template, batch.angles()))


def ours_shots(batch: CircuitBatch, shots: int = 1000):
    rng = np.random.default_rng(1)

    def run():
        counts = sample_counts(probabilities(batch.template, batch.angles()), shots, rng)
        return expectations_z(counts / shots)

    return run


def cirq_exact(batch: CircuitBatch):
    """cirq.Simulator with a parametrized circuit and one resolver per row (its batched API)."""
    import cirq
    import sympy

    t = batch.template
    n = t.n_qubits
    qs = cirq.LineQubit.range(n)
    syms = sympy.symbols(f"a0:{t.n_angles}")
    ops = []
    for op, off in zip(t.ops, t.param_offsets):
        if op.name == "cnot":
            ops.append(cirq.CNOT(qs[op.controls[0]], qs[op.targets[0]]))
        else:
            ops.append({"ry": cirq.ry, "rz": cirq.rz}[op.name](syms[off]).on(qs[op.targets[0]]))
    circuit = cirq.Circuit(ops)
    angles = batch.angles()
    resolvers = [cirq.ParamResolver(dict(zip(syms, row))) for row in angles]
    sim = cirq.Simulator(dtype=np.complex128)
    zs = [cirq.Z(q) for q in qs]

    def run():
        return sim.simulate_expectation_values_sweep(circuit, observables=zs, params=resolvers)

    return run, circuit, resolvers


def aer_exact(batch: CircuitBatch):
    """qiskit-aer: one run with parameter_binds, statevector method, exact <Z> from the saved probabilities."""
    try:
        from qiskit import QuantumCircuit, transpile
        from qiskit.circuit import ParameterVector
        from qiskit_aer import AerSimulator
    except ImportError:
        return None
    t = batch.template
    n = t.n_qubits
    pv = ParameterVector("a", t.n_angles)
    qc = QuantumCircuit(n)
    for op, off in zip(t.ops, t.param_offsets):
        if op.name == "cnot":
            qc.cx(op.controls[0], op.targets[0])
        else:
            getattr(qc, op.name)(pv[off], op.targets[0])
    qc.save_probabilities()
    sim = AerSimulator(method="statevector")
    tqc = transpile(qc, sim)
    angles = batch.angles()
    binds = [{p: angles[:, i].tolist() for i, p in enumerate(pv)}]

    def run():
        res = sim.run([tqc], parameter_binds=binds, shots=None).result()
        return [res.data(i)["probabilities"] for i in range(len(angles))]

    return run


def peak_mb_2000_12q() -> float:
    batch = workload(12, 4, rows=2000)
    angles = batch.angles()
    tracemalloc.start()
    probabilities(batch.template, angles)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak + angles.nbytes) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    b8, b12 = workload(8, 2), workload(12, 4)

    out = {}
    out["ours_8q2l_cps"] = best_rate(ours_exact(b8), BATCH)
    out["ours_12q4l_cps"] = best_rate(ours_exact(b12), BATCH)
    out["ours_8q2l_shots_cps"] = best_rate(ours_shots(b8), BATCH)

    run_cirq, circuit, resolvers = cirq_exact(b8)
    out["cirq_8q2l_cps"] = best_rate(run_cirq, BATCH, repeat=2, min_time=0.5)
    # correctness against cirq on the same rows: <Z> per qubit
    import cirq

    ours_z = expectations_z(probabilities(b8.template, b8.angles()))
    cirq_z = np.real(np.array(run_cirq()))
    out["max_abs_diff_vs_cirq"] = float(np.max(np.abs(ours_z - cirq_z)))
    del cirq

    aer8, aer12 = aer_exact(b8), aer_exact(b12)
    out["aer_8q2l_cps"] = best_rate(aer8, BATCH, repeat=3) if aer8 else None
    out["aer_12q4l_cps"] = best_rate(aer12, BATCH, repeat=3) if aer12 else None
    out["peak_mb_2000x12q"] = peak_mb_2000_12q()

    def ratio(a, b):
        return None if not a or not b else a / b

    print(f"{'workload':<28}{'ours c/s':>12}{'cirq c/s':>12}{'aer c/s':>12}{'vs cirq':>9}{'vs aer':>8}")
    fmt = lambda v: f"{v:>12,.0f}" if v else f"{'n/a':>12}"  # noqa: E731
    fr = lambda v: f"{v:>8.1f}x" if v else f"{'n/a':>9}"  # noqa: E731
    print(f"{'8q x 2L exact, batch 200':<28}{fmt(out['ours_8q2l_cps'])}{fmt(out['cirq_8q2l_cps'])}"
          f"{fmt(out['aer_8q2l_cps'])}{fr(ratio(out['ours_8q2l_cps'], out['cirq_8q2l_cps']))}"
          f"{fr(ratio(out['ours_8q2l_cps'], out['aer_8q2l_cps']))}")
    print(f"{'12q x 4L exact, batch 200':<28}{fmt(out['ours_12q4l_cps'])}{fmt(None)}{fmt(out['aer_12q4l_cps'])}"
          f"{fr(None)}{fr(ratio(out['ours_12q4l_cps'], out['aer_12q4l_cps']))}")
    print(f"{'8q x 2L 1000 shots':<28}{fmt(out['ours_8q2l_shots_cps'])}")
    print(f"max |<Z> ours - cirq| = {out['max_abs_diff_vs_cirq']:.2e}; "
          f"peak memory, 2000 x 12-qubit batch: {out['peak_mb_2000x12q']:.0f} MB")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
