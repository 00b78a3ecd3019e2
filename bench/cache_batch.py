"""Binding through the cache vs rebuilding circuits vs cirq, and the batch manager's overhead, in one run.

Workload: the 8-qubit, 2-layer model template (RY(pi x) encoding, RY+RZ per qubit per layer, CNOT
chain), batches of 200 fresh rows (so the bound-batch LRU misses, as in training).
- bind: SmartCircuitCache.bind (template hit, new params) -> (200, K) angles;
- rebuild: each circuit built from scratch as an IonQ JSON dict, the v3.4 way;
- cirq: cirq.resolve_parameters on a sympy-parametrized cirq.Circuit, once per row;
- also: a whole-batch LRU hit (a repeated validation pass) and a per-row LRU lookup, to show what
  each cache level costs and saves;
- manager overhead: CircuitBatchManager.execute_batch on the local backend vs calling the simulator
  directly (bind + probabilities), both exact, batch 200, medians of interleaved runs.
Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends import BackendLimits, ExecutionResult, LocalSimulatorBackend  # noqa: E402
from engine.batch import CircuitBatchManager  # noqa: E402
from engine.cache import SmartCircuitCache  # noqa: E402
from engine.circuits import CircuitBatch  # noqa: E402
from engine.sim import probabilities  # noqa: E402
from engine.circuits.library import ry_rz_ladder  # noqa: E402
from _timing import best_rate  # noqa: E402

N, LAYERS, BATCH = 8, 2, 200


model = ry_rz_ladder  # the issues' benchmark workload


def rebuild_json(p: np.ndarray, x: np.ndarray) -> dict:
    """One circuit from scratch as an IonQ JSON dict, as a v3.4 builder_func does."""
    gates = [{"gate": "ry", "target": q, "rotation": float(np.pi * x[q])} for q in range(N)]
    k = 0
    for _ in range(LAYERS):
        for q in range(N):
            gates.append({"gate": "ry", "target": q, "rotation": float(p[k])})
            gates.append({"gate": "rz", "target": q, "rotation": float(p[k + 1])})
            k += 2
        for q in range(N - 1):
            gates.append({"gate": "cnot", "control": q, "target": q + 1})
    return {"qubits": N, "circuit": gates}


def per_circuit_us(fn, rows: int, min_time: float = 0.3, repeat: int = 5) -> float:
    """Best of `repeat` runs of at least `min_time` each, in microseconds per circuit."""
    return 1e6 / best_rate(fn, rows, repeat=repeat, min_time=min_time)


def batches(t, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-np.pi, np.pi, (BATCH, t.n_trainable)), rng.random((BATCH, N))) for _ in range(count)]


def bench_binding(t) -> dict[str, float]:
    data = batches(t, 16)
    cache = SmartCircuitCache()
    cache.bind(t, *data[0])
    i = iter(range(10**9))

    def bind_fresh():
        p, x = data[next(i) % len(data)]
        cache.bind(t, p + next(i) * 1e-9, x)  # never the same bytes twice: a bound miss each time

    p0, x0 = data[0]
    out = {
        "bind_us_per_circuit": per_circuit_us(bind_fresh, BATCH),
        "bound_hit_us_per_circuit": per_circuit_us(lambda: cache.bind(t, p0, x0, remember=True), BATCH),
        "matmul_us_per_circuit": per_circuit_us(lambda: t.bind_angles(p0, x0), BATCH),
        "rebuild_us_per_circuit": per_circuit_us(lambda: [rebuild_json(p0[r], x0[r]) for r in range(BATCH)], BATCH,
                                                 repeat=3),
    }
    row_lru: dict = {}

    def per_row_lookup():
        for r in range(BATCH):
            row_lru.get(p0[r].tobytes() + x0[r].tobytes())

    out["per_row_lru_us_per_circuit"] = per_circuit_us(per_row_lookup, BATCH)
    return out


def bench_cirq(t) -> float:
    import cirq
    import sympy

    q = cirq.LineQubit.range(N)
    xs = sympy.symbols(f"x0:{N}")
    ps = sympy.symbols(f"p0:{t.n_trainable}")
    ops = [cirq.ry(sympy.pi * xs[i]).on(q[i]) for i in range(N)]
    k = 0
    for _ in range(LAYERS):
        for i in range(N):
            ops += [cirq.ry(ps[k]).on(q[i]), cirq.rz(ps[k + 1]).on(q[i])]
            k += 2
        ops += [cirq.CNOT(q[i], q[i + 1]) for i in range(N - 1)]
    circuit = cirq.Circuit(ops)
    p, x = batches(t, 1)[0]
    rows = 40  # cirq is slow: 40 rows per timed run

    def resolve():
        for r in range(rows):
            values = {**{s: float(v) for s, v in zip(ps, p[r])}, **{s: float(v) for s, v in zip(xs, x[r])}}
            cirq.resolve_parameters(circuit, cirq.ParamResolver(values))

    return per_circuit_us(resolve, rows, repeat=3)


async def bench_manager(t, reps: int, native: bool) -> dict[str, float]:
    """Median wall time of execute_batch vs the simulator called directly, on the same fresh batches."""
    config = SimpleNamespace(
        use_batch_api=True, use_native_gates=native, enable_smart_caching=True, adaptive_batch_sizing=False,
        connection_pool_size=1, max_concurrent_circuits=BATCH, shots_per_circuit=0, retry_failed_circuits=True,
        enable_circuit_compression=False, seed=0, quantum_target="simulator", native_target="aria")
    backend = LocalSimulatorBackend(seed=0)
    data = batches(t, 8, seed=1)
    cbs = [CircuitBatch(t, p, x) for p, x in data]
    manager_ms, direct_ms, backend_ms = [], [], []
    async with CircuitBatchManager(config, backend) as manager:
        for k in range(reps + 3):  # 3 warm-up rounds: plans, thread pool, compiler
            cb = cbs[k % len(cbs)]
            t0 = time.perf_counter()
            await manager.execute_batch(cb)
            t1 = time.perf_counter()
            probabilities(t, t.bind_angles(cb.params, cb.inputs))
            t2 = time.perf_counter()
            await backend.run(cb)
            t3 = time.perf_counter()
            if k >= 3:
                manager_ms.append((t1 - t0) * 1e3)
                direct_ms.append((t2 - t1) * 1e3)
                backend_ms.append((t3 - t2) * 1e3)
        report = manager.performance_report()
    m, d, b = statistics.median(manager_ms), statistics.median(direct_ms), statistics.median(backend_ms)
    return {"manager_ms": m, "direct_ms": d, "backend_ms": b, "overhead_pct": (m / d - 1) * 100,
            "overhead_vs_backend_pct": (m / b - 1) * 100, "report": report}


class _InstantBackend:
    """Returns precomputed probabilities at once: what remains is the manager's own work."""

    name = "local"
    limits = BackendLimits(max_circuits=10**6, max_gates=10**9, max_bytes=2**62)

    def __init__(self, n_qubits: int):
        self._probs = np.full((BATCH, 2 ** n_qubits), 2.0 ** -n_qubits)

    async def run(self, batch, *, shots=0, seed=None):
        return ExecutionResult(self._probs[:len(batch)], None, 0, {"execute": 0.0})

    async def close(self):
        return None


async def bench_manager_own(t, n: int = 2000) -> float:
    """Microseconds of the manager's own work per batch of 200 (grouping, cache, chunking, stats, events)."""
    config = SimpleNamespace(
        use_batch_api=True, use_native_gates=False, enable_smart_caching=True, adaptive_batch_sizing=False,
        connection_pool_size=1, max_concurrent_circuits=BATCH, shots_per_circuit=0, retry_failed_circuits=True,
        enable_circuit_compression=False, seed=0, quantum_target="simulator", native_target="aria")
    cbs = [CircuitBatch(t, p, x) for p, x in batches(t, 8, seed=2)]
    async with CircuitBatchManager(config, _InstantBackend(t.n_qubits)) as manager:
        for cb in cbs:
            await manager.execute_batch(cb)
        t0 = time.perf_counter()
        for k in range(n):
            await manager.execute_batch(cbs[k % len(cbs)])
        return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    ap.add_argument("--reps", type=int, default=60, help="manager runs (medians are reported)")
    ap.add_argument("--native", action="store_true", help="also time the manager with use_native_gates")
    args = ap.parse_args()
    t = model(N, LAYERS)
    res = bench_binding(t)
    res["cirq_resolve_us_per_circuit"] = bench_cirq(t)
    qis = asyncio.run(bench_manager(t, args.reps, native=False))
    res["bind_speedup_vs_rebuild"] = res["rebuild_us_per_circuit"] / res["bind_us_per_circuit"]
    res["manager_overhead_pct"] = qis["overhead_pct"]
    res["manager_overhead_vs_backend_pct"] = qis["overhead_vs_backend_pct"]
    res["manager_own_us_per_batch"] = asyncio.run(bench_manager_own(t))
    res["manager_own_pct"] = res["manager_own_us_per_batch"] / (qis["direct_ms"] * 1e3) * 100
    res["manager_ms"], res["direct_sim_ms"], res["backend_ms"] = qis["manager_ms"], qis["direct_ms"], qis["backend_ms"]

    print(f"{N} qubits, {LAYERS} layers, {t.n_angles} angles, batch {BATCH}")
    print(f"{'binding (us per circuit)':<44}{'us':>10}")
    for label, key in (("cache.bind, fresh rows (template hit)", "bind_us_per_circuit"),
                       ("cache.bind, whole-batch LRU hit", "bound_hit_us_per_circuit"),
                       ("per-row LRU lookup only (not used)", "per_row_lru_us_per_circuit"),
                       ("raw matmul (Template.bind_angles)", "matmul_us_per_circuit"),
                       ("rebuild as IonQ JSON dict", "rebuild_us_per_circuit"),
                       ("cirq.resolve_parameters", "cirq_resolve_us_per_circuit")):
        print(f"  {label:<42}{res[key]:>10.3f}")
    print(f"  bind vs rebuild: {res['bind_speedup_vs_rebuild']:,.0f}x faster; "
          f"vs cirq: {res['cirq_resolve_us_per_circuit'] / res['bind_us_per_circuit']:,.0f}x faster")
    print(f"manager, batch {BATCH}, exact, local backend (median of {args.reps}):")
    print(f"  execute_batch {qis['manager_ms']:.3f} ms | simulator direct {qis['direct_ms']:.3f} ms | "
          f"backend.run direct {qis['backend_ms']:.3f} ms")
    print(f"  overhead vs simulator {qis['overhead_pct']:+.1f}% | vs backend.run {qis['overhead_vs_backend_pct']:+.1f}%")
    print(f"  the manager's own work (instant backend): {res['manager_own_us_per_batch']:.1f} us per batch, "
          f"{res['manager_own_pct']:.1f}% of the simulator's time; the rest is the thread-to-loop hand-off")
    if args.native:
        nat = asyncio.run(bench_manager(t, args.reps, native=True))
        res["native_manager_ms"] = nat["manager_ms"]
        print(f"  use_native_gates: execute_batch {nat['manager_ms']:.3f} ms (runs the compiled native template)")
        print(nat["report"])
    else:
        print(qis["report"])
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in res.items()}))


if __name__ == "__main__":
    main()
