"""Simulator throughput: ours vs cirq, qiskit-aer, JAX, qulacs and PennyLane lightning, in one process run.

Workload: RY(pi x) input encoding, then L layers of RY and RZ on every qubit and a CNOT chain;
8 qubits x 2 layers and 12 qubits x 4 layers; batch 200; exact <Z> and 1000 shots. Peers at their
best settings: qiskit-aer with `save_probabilities`, runtime parameter binding and
`max_parallel_experiments=0`; JAX `jit(vmap)` in complex128 (our precision); qulacs one parametric
circuit updated in place; lightning all rows as one batch of preprocessed tapes (bench/_peers.py).

`kernel_flop_fraction`: the forward kernel's FLOP rate on the 8q x 2L batch (one thread, FLOPs
counted from the program: 14 per amplitude for a 2x2 pass, 28 for a paired pass, 6 for a diagonal
one, 12 for the product-state prefix) over this machine's elementwise complex FLOP rate measured in
the same run (y = a * x + y over state-sized complex128 arrays, 8 FLOPs an element, one thread; the
faster of a compiled loop and numpy).
`shots_overhead_pct`: the time 1000 shots add to the exact path, same rows, wall clock, the two timed in
turn (the shots path is the local backend's: each chunk sampled by the job that simulated it, frequencies
written by the sampler, <Z> from them); `shots_overhead_cpu_pct` the same from CPU time (every thread's),
which load does not inflate. `shots_overhead_12q4l_pct`: the same wall-clock overhead on the 12q x 4L batch. The
sampler's work per row grows with 2**n + shots, the simulation's with layers x n x 2**n, so the 8q x 2L batch,
the cheapest circuit per outcome, is the worst case.
Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.circuits import CircuitBatch  # noqa: E402
from engine.sim import expectations_z, probabilities, shot_frequencies  # noqa: E402
from engine.circuits.library import ry_rz_ladder  # noqa: E402
from _timing import best_rate, best_rates_interleaved  # noqa: E402
import _peers  # noqa: E402

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
        frequencies, _ = shot_frequencies(batch.template, batch.angles(), shots, rng)  # the local backend's path
        return expectations_z(frequencies)

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
    sim = AerSimulator(method="statevector", runtime_parameter_bind_enable=True, max_parallel_experiments=0)
    tqc = transpile(qc, sim)
    angles = batch.angles()
    binds = [{p: angles[:, i].tolist() for i, p in enumerate(pv)}]

    def run():
        res = sim.run([tqc], parameter_binds=binds, shots=None).result()
        return [res.data(i)["probabilities"] for i in range(len(angles))]

    return run


def cpu_seconds_interleaved(fns: list, repeat: int = 15, calls: int = 10) -> list[float]:
    """Least CPU seconds per call (process_time: every thread's) of each function, timed in turn round after round.

    On a loaded machine wall time mostly measures waiting for a core (each pool fork-join waits for its
    slowest thread); CPU time is the work itself, so the shots overhead is also reported from it."""
    best = [float("inf")] * len(fns)
    for f in fns:
        f()
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t0 = time.process_time()
            for _ in range(calls):
                f()
            best[i] = min(best[i], (time.process_time() - t0) / calls)
    return best


def kernel_flops(batch: CircuitBatch) -> float:
    """FLOPs of one forward kernel call over the batch, counted from its program (see the docstring)."""
    from engine.sim.program import GATE2, PAIR1, PERM, RUN1, RZ
    from engine.sim.statevector import program_for

    t = batch.template
    p = program_for(t, probabilities_only=True)
    amps = 2 ** t.n_qubits * len(batch)
    flops = 12.0 * amps  # the prefix as a product state: two complex products per new amplitude
    skip = 0
    for row in p.ins:
        if skip:
            skip -= 1
            continue
        kind = row[0]
        if kind == PAIR1:
            flops += 28.0 * amps
            skip = 2
        elif kind == RUN1:
            codes = p.gates[row[3]:row[3] + row[4], 0]
            share = 0.5 ** bin(int(row[2])).count("1")  # the fraction of pairs its controls select
            flops += share * (6.0 if all(c == RZ for c in codes) else 14.0) * amps
        elif kind == PERM and row[2]:
            flops += 6.0 * amps
        elif kind == GATE2:
            flops += 30.0 * amps
    return flops


def flop_fraction(batch: CircuitBatch) -> tuple[float, float, str]:
    """(kernel FLOP/s, elementwise FLOP/s, its source), one thread, timed in turn (see the docstring)."""
    from numba import njit

    from engine.sim.statevector import _simulate_chunk, plan_for

    @njit(nogil=True, boundscheck=False)
    def axpy(a, x, y):  # pragma: no cover - compiled
        for i in range(y.shape[0]):
            y[i] = a[i] * x[i] + y[i]

    size = 2 ** batch.template.n_qubits * len(batch)
    rng = np.random.default_rng(0)
    a, x, y = (rng.random(size) + 1j * rng.random(size) for _ in range(3))
    a /= np.abs(a)
    tmp = np.empty_like(y)
    axpy(a, x, y)

    def numpy_axpy():
        np.multiply(a, x, out=tmp)
        np.add(tmp, y, out=y)

    t = batch.template
    plan = plan_for(t, probabilities_only=True)
    angles = np.ascontiguousarray(batch.angles())
    kernel, compiled, vectorized = best_rates_interleaved(
        [lambda: _simulate_chunk(t, plan, angles, None), lambda: axpy(a, x, y), numpy_axpy], 1)
    element, source = (compiled, "compiled loop") if compiled >= vectorized else (vectorized, "numpy")
    return kernel * kernel_flops(batch), element * 8 * size, source


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
    # exact and shots timed in turn, so that shots_overhead_pct compares runs moments apart
    out["ours_8q2l_cps"], out["ours_8q2l_shots_cps"] = best_rates_interleaved([ours_exact(b8), ours_shots(b8)], BATCH)
    exact_cpu, shots_cpu = cpu_seconds_interleaved([ours_exact(b8), ours_shots(b8)])
    out["shots_overhead_cpu_pct"] = 100.0 * (shots_cpu / exact_cpu - 1.0)
    out["ours_12q4l_cps"], out["ours_12q4l_shots_cps"] = best_rates_interleaved([ours_exact(b12), ours_shots(b12)], BATCH)

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

    peers_diff = {}
    for key, b in (("8q2l", b8), ("12q4l", b12)):
        run, out[f"jax_{key}_compile_s"] = _peers.jax_expectations(b.template, b.angles())
        out[f"jax_{key}_cps"] = best_rate(run, BATCH)
        peers_diff[f"jax_{key}"] = float(np.max(np.abs(run() - expectations_z(probabilities(b.template, b.angles())))))
    for name, build in (("qulacs", _peers.qulacs_expectations), ("lightning", _peers.lightning_expectations)):
        run = build(b8.template, b8.angles())
        out[f"{name}_8q2l_cps"] = best_rate(run, BATCH, repeat=3)
        peers_diff[name] = float(np.max(np.abs(run() - ours_z)))
    out["max_abs_diff_peers"] = max(peers_diff.values())
    out["shots_overhead_pct"] = 100.0 * (out["ours_8q2l_cps"] / out["ours_8q2l_shots_cps"] - 1.0)
    out["shots_overhead_12q4l_pct"] = 100.0 * (out["ours_12q4l_cps"] / out["ours_12q4l_shots_cps"] - 1.0)
    kernel_rate, element_rate, element_source = flop_fraction(b8)
    out["kernel_gflops"] = kernel_rate / 1e9
    out["elementwise_gflops"] = element_rate / 1e9
    out["elementwise_source"] = element_source
    out["kernel_flop_fraction"] = kernel_rate / element_rate
    out["peak_mb_2000x12q"] = peak_mb_2000_12q()

    def ratio(a, b):
        return None if not a or not b else a / b

    print(f"{'workload':<28}{'ours c/s':>12}{'cirq c/s':>12}{'aer c/s':>12}{'jax c/s':>12}"
          f"{'vs cirq':>9}{'vs aer':>8}{'vs jax':>8}")
    fmt = lambda v: f"{v:>12,.0f}" if v else f"{'n/a':>12}"  # noqa: E731
    fr = lambda v: f"{v:>7.1f}x" if v else f"{'n/a':>8}"  # noqa: E731
    print(f"{'8q x 2L exact, batch 200':<28}{fmt(out['ours_8q2l_cps'])}{fmt(out['cirq_8q2l_cps'])}"
          f"{fmt(out['aer_8q2l_cps'])}{fmt(out['jax_8q2l_cps'])} {fr(ratio(out['ours_8q2l_cps'], out['cirq_8q2l_cps']))}"
          f"{fr(ratio(out['ours_8q2l_cps'], out['aer_8q2l_cps']))}{fr(ratio(out['ours_8q2l_cps'], out['jax_8q2l_cps']))}")
    print(f"{'12q x 4L exact, batch 200':<28}{fmt(out['ours_12q4l_cps'])}{fmt(None)}{fmt(out['aer_12q4l_cps'])}"
          f"{fmt(out['jax_12q4l_cps'])} {fr(None)}{fr(ratio(out['ours_12q4l_cps'], out['aer_12q4l_cps']))}"
          f"{fr(ratio(out['ours_12q4l_cps'], out['jax_12q4l_cps']))}")
    print(f"{'8q x 2L 1000 shots':<28}{fmt(out['ours_8q2l_shots_cps'])}   (+{out['shots_overhead_pct']:.0f}% time over exact; "
          f"+{out['shots_overhead_cpu_pct']:.0f}% CPU time)")
    print(f"{'12q x 4L 1000 shots':<28}{fmt(out['ours_12q4l_shots_cps'])}   "
          f"(+{out['shots_overhead_12q4l_pct']:.0f}% time over exact)")
    print(f"8q x 2L: qulacs {out['qulacs_8q2l_cps']:,.0f} c/s ({ratio(out['ours_8q2l_cps'], out['qulacs_8q2l_cps']):.1f}x), "
          f"lightning {out['lightning_8q2l_cps']:,.0f} c/s ({ratio(out['ours_8q2l_cps'], out['lightning_8q2l_cps']):.1f}x)")
    print(f"kernel {out['kernel_gflops']:.2f} GFLOP/s = {out['kernel_flop_fraction']:.2f} of the elementwise "
          f"{out['elementwise_gflops']:.2f} GFLOP/s ({element_source}), one thread")
    print(f"max |<Z> ours - cirq| = {out['max_abs_diff_vs_cirq']:.2e}; peers {out['max_abs_diff_peers']:.1e}; "
          f"peak memory, 2000 x 12-qubit batch: {out['peak_mb_2000x12q']:.0f} MB")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
