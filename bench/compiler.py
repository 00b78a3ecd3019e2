"""Native gate compilation: ours vs cirq-ionq vs a naive gate-by-gate translation, in one process run.

Suite: the model template (RY(pi x) encoding, L layers of RY, RZ and a CNOT chain) at depths 1-6 on
4-12 qubits, bound at random parameters; GHZ; QFT on 4-8 qubits; 100 random qis circuits (every gate,
at most one control); 40 random circuits of multi-controlled gates (1 to 4 controls, every controllable
gate, angles mostly special: 0, +-pi, +-2pi, +-4pi, pi/2) among one-qubit gates. Each is compiled for Aria
and Forte by
- ours: NativeGateCompiler(target).compile, every output verified (process fidelity with the source);
- cirq: cirq.optimize_for_target_gateset with cirq_ionq's AriaNativeGateset / ForteNativeGateset, at its best
  of two encodings of the controlled gates (engine.compiler.peer: cirq's gate classes, and MatrixGate of the
  rounded unitary, which lets cirq see rx(2 pi) as -I): the fewest 1q and the fewest 2q gates, each over the
  two; its compile time is that of its own gate classes;
- naive: NativeGateCompiler(target, optimize=False): each gate on its own, API_NOTES' textbook CNOTs.
Also times binding 200 rows of the 8-qubit, 2-layer model template. Prints a table; with --json the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.circuits import Circuit  # noqa: E402
from engine.compiler import NativeGateCompiler, verify  # noqa: E402
from engine.compiler.peer import cirq_ionq_best  # noqa: E402
from engine.circuits.library import ry_rz_ladder  # noqa: E402

TARGETS = ("aria", "forte")
FIXED = ["x", "y", "z", "h", "s", "si", "v", "vi", "t", "ti"]
ROT = ["rx", "ry", "rz"]


model = ry_rz_ladder  # the issues' benchmark workload


def bound_model(n: int, layers: int, rng: np.random.Generator) -> Circuit:
    t = model(n, layers)
    c = t.bind(rng.uniform(-np.pi, np.pi, t.n_trainable), rng.uniform(-1, 1, t.n_inputs))[0]
    c.name = f"model n={n} L={layers}"
    return c


def ghz(n: int) -> Circuit:
    c = Circuit(n, name=f"ghz n={n}").add("h", 0)
    for q in range(n - 1):
        c.add("cnot", q + 1, controls=(q,))
    return c


def qft(n: int) -> Circuit:
    """Controlled phase(l) = RZ_c(l/2) . C-RZ(l), up to global phase."""
    c = Circuit(n, name=f"qft n={n}")
    for j in range(n):
        c.add("h", j)
        for k in range(j + 1, n):
            lam = np.pi / 2 ** (k - j)
            c.add("rz", j, controls=(k,), params=(lam,))
            c.add("rz", k, params=(lam / 2,))
    for i in range(n // 2):
        c.add("swap", i, n - 1 - i)
    return c


def random_circuit(rng: np.random.Generator, k: int) -> Circuit:
    n = int(rng.integers(1, 7))
    c = Circuit(n, name=f"random {k} n={n}")
    for _ in range(int(rng.integers(5, 31))):
        kind = rng.random()
        if n == 1 or kind < 0.45:
            name = str(rng.choice(FIXED + ROT))
            c.add(name, int(rng.integers(n)), params=(rng.uniform(-7, 7),) if name in ROT else ())
            continue
        a, b = (int(x) for x in rng.choice(n, 2, replace=False))
        if kind < 0.65:
            c.add("cnot", b, controls=(a,))
        elif kind < 0.8:
            name = str(rng.choice(FIXED + ROT))
            c.add(name, b, controls=(a,), params=(rng.uniform(-7, 7),) if name in ROT else ())
        elif kind < 0.9:
            c.add(str(rng.choice(["xx", "yy", "zz"])), a, b, params=(rng.uniform(-7, 7),))
        else:
            c.add("swap", a, b)
    return c


CONTROLLABLE = FIXED + ROT + ["not", "cnot"]
SPECIAL = [0.0, np.pi, -np.pi, 2 * np.pi, -2 * np.pi, 4 * np.pi, -4 * np.pi, np.pi / 2]


def random_controlled(rng: np.random.Generator, k: int) -> Circuit:
    """Multi-controlled gates at mostly special angles, with one-qubit gates around them."""
    n = int(rng.integers(3, 6))
    c = Circuit(n, name=f"controlled {k} n={n}")
    for _ in range(int(rng.integers(1, 4))):
        wires = [int(q) for q in rng.permutation(n)]
        for q in wires[:int(rng.integers(0, 3))]:
            name = str(rng.choice(FIXED + ROT))
            c.add(name, q, params=(float(rng.uniform(-7, 7)),) if name in ROT else ())
        name = str(rng.choice(CONTROLLABLE))
        m = int(rng.integers(1, min(4, n - 1) + 1))
        angle = float(rng.choice(SPECIAL)) if rng.random() < 0.8 else float(rng.uniform(-4 * np.pi, 4 * np.pi))
        c.add(name, wires[m], controls=tuple(wires[:m]), params=(angle,) if name in ROT else ())
    return c


def suite(seed: int = 0) -> list[tuple[str, Circuit]]:
    rng = np.random.default_rng(seed)
    out = [("model", bound_model(n, L, rng)) for n in (4, 6, 8, 10, 12) for L in range(1, 7)]
    out += [("ghz", ghz(n)) for n in (4, 8, 12)]
    out += [("qft", qft(n)) for n in range(4, 9)]
    out += [("random", random_circuit(rng, k)) for k in range(100)]
    out += [("controlled", random_controlled(rng, k)) for k in range(40)]
    return out


def cirq_compile(c: Circuit, target: str) -> tuple[int, int, float]:
    """(1q gates, 2q gates, seconds) of cirq-ionq's native compilation, at its best (see the docstring)."""
    best = cirq_ionq_best(c, target)
    return best.n1q, best.n2q, best.seconds


def bind_ms(rows: int = 200, repeat: int = 50) -> dict[str, float]:
    """Best and median wall time of binding `rows` rows of the 8-qubit, 2-layer model template."""
    rng = np.random.default_rng(1)
    t = model(8, 2)
    params, inputs = rng.uniform(-np.pi, np.pi, (rows, t.n_trainable)), rng.uniform(-1, 1, (rows, 8))
    out = {}
    for target in TARGETS:
        ct = NativeGateCompiler(target).compile_template(t)
        ct.bind(params, inputs)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            ct.bind(params, inputs)
            times.append(time.perf_counter() - t0)
        out[f"{target}_best"] = 1e3 * min(times)
        out[f"{target}_median"] = 1e3 * float(np.median(times))
    return out


def _fidelity(item) -> float:
    source, result = item
    return verify(source, result.circuit, result.permutation, result.frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    circuits = suite(args.seed)
    warm = Circuit(2).add("h", 0).add("cnot", 1, controls=(0,))
    for target in TARGETS:  # imports and first-call costs out of the timings
        cirq_compile(warm, target)
        NativeGateCompiler(target).compile(warm)

    rows = []
    tot = {k: 0 for k in ("ours_1q", "cirq_1q", "naive_1q", "ours_2q", "cirq_2q", "naive_2q", "more_1q", "more_2q")}
    model_ours = model_naive = 0
    t_ours = t_cirq = 0.0
    checks = []
    print(f"{'circuit':<22}{'target':<7}{'ours 1q/2q':>12}{'cirq 1q/2q':>12}{'naive 1q/2q':>13}"
          f"{'ours ms':>9}{'cirq ms':>9}")
    for kind, c in circuits:
        for target in TARGETS:
            comp = NativeGateCompiler(target)
            t0 = time.perf_counter()
            r = comp.compile(c)
            dt = time.perf_counter() - t0
            o1, o2 = r.stats.n1q_out, r.stats.n2q_out
            nv = NativeGateCompiler(target, optimize=False).compile(c)
            n1, n2 = nv.stats.n1q_out, nv.stats.n2q_out
            c1, c2, dc = cirq_compile(c, target)
            t_ours += dt
            t_cirq += dc
            for key, v in (("ours_1q", o1), ("cirq_1q", c1), ("naive_1q", n1), ("ours_2q", o2), ("cirq_2q", c2),
                           ("naive_2q", n2)):
                tot[key] += v
            tot["more_1q"] += o1 > c1
            tot["more_2q"] += o2 > c2
            if kind == "model":
                model_ours += o1
                model_naive += n1
            if kind not in ("random", "controlled"):
                print(f"{c.name:<22}{target:<7}{f'{o1}/{o2}':>12}{f'{c1}/{c2}':>12}{f'{n1}/{n2}':>13}"
                      f"{1e3 * dt:>9.2f}{1e3 * dc:>9.2f}")
            rows.append((kind, target, o1, o2, c1, c2, n1, n2, dt, dc))
            checks.append((c, r))
    for kind, label in (("random", "100 random (total)"), ("controlled", "40 controlled (total)")):
        for target in TARGETS:
            sel = [r for r in rows if r[0] == kind and r[1] == target]
            s = [sum(r[i] for r in sel) for i in range(2, 8)]
            more = sum(r[2] > r[4] or r[3] > r[5] for r in sel)
            print(f"{label:<22}{target:<7}{f'{s[0]}/{s[1]}':>12}{f'{s[2]}/{s[3]}':>12}"
                  f"{f'{s[4]}/{s[5]}':>13}{1e3 * sum(r[8] for r in sel):>9.1f}{1e3 * sum(r[9] for r in sel):>9.1f}"
                  f"   more pulses than cirq: {more}")
    bind = bind_ms()
    # Verification after the timings, on every core: 12-qubit process fidelities are the slow part.
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        fids = list(pool.map(_fidelity, checks, chunksize=4))
    worst = min(fids)
    speedup = t_cirq / t_ours
    model_red = 100.0 * (1 - model_ours / model_naive)
    all_verified = worst >= 1 - 1e-9
    print()
    print(f"totals (both targets): 1q ours {tot['ours_1q']}, cirq {tot['cirq_1q']}, naive {tot['naive_1q']}; "
          f"2q ours {tot['ours_2q']}, cirq {tot['cirq_2q']}, naive {tot['naive_2q']}")
    print(f"circuits where ours has more 1q pulses than cirq: {tot['more_1q']}; more 2q gates: {tot['more_2q']}")
    print(f"model template: {model_red:.1f}% fewer 1q pulses than naive")
    print(f"compile time: ours {1e3 * t_ours:.1f} ms, cirq {1e3 * t_cirq:.1f} ms, speedup x{speedup:.1f}")
    print(f"bind 200 rows of the 8-qubit 2-layer template: aria {bind['aria_best']:.2f} ms best "
          f"({bind['aria_median']:.2f} median), forte {bind['forte_best']:.2f} ms best ({bind['forte_median']:.2f} median)")
    print(f"all {len(fids)} compiled circuits verified (1 - process fidelity <= 1e-9): {all_verified} "
          f"(worst {1 - worst:.1e})")
    if args.json:
        print(json.dumps({
            "ours_1q": tot["ours_1q"], "cirq_1q": tot["cirq_1q"], "naive_1q": tot["naive_1q"],
            "ours_2q": tot["ours_2q"], "cirq_2q": tot["cirq_2q"], "naive_2q": tot["naive_2q"],
            "circuits_where_ours_has_more_pulses": tot["more_1q"],
            "circuits_where_ours_has_more_2q": tot["more_2q"],
            "compile_speedup_vs_cirq": round(speedup, 2),
            "model_1q_reduction_vs_naive_pct": round(model_red, 2),
            "bind_200_ms_best": round(max(bind["aria_best"], bind["forte_best"]), 3),
            "all_verified": all_verified,
        }))


if __name__ == "__main__":
    main()
