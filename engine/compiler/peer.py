"""The peer our compiler is measured against: cirq-ionq compiling the same qis circuit to the same native gates.

`cirq.optimize_for_target_gateset` with cirq_ionq's `AriaNativeGateset` or `ForteNativeGateset` (the matching
target), counted the way our `CompilerStats` counts: one-qubit pulses are GPI and GPI2 gates, two-qubit gates
are MS and ZZ (cirq's global phase operations cost nothing and are not counted).

cirq's result depends on how a controlled gate is handed to it, so the peer gets its best of two encodings,
one count at a time (`PeerCounts.best`):
- "gates": cirq's own gate classes (`cirq.rx(theta).controlled(k)`, `cirq.X.controlled(k)`), as
  `engine.circuits.cirq_interop.to_cirq` writes them;
- "matrix": every controlled gate as `cirq.MatrixGate(U).controlled(k)` with U's entries rounded to 12
  decimals, so that cirq sees an exact identity or -I where the angle is special (rx(2 pi) becomes a CZ on
  the controls there, which cirq's gate classes do not find).
cirq is imported here only, inside the functions; bench/compiler.py and tests/test_compiler_vs_cirq.py use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..circuits.gates import one_qubit_matrix
from ..circuits.ir import Circuit

ENCODINGS = ("gates", "matrix")


@dataclass(frozen=True)
class PeerCounts:
    """cirq-ionq's output for one circuit and target: pulses, and the wall time of its compile."""

    n1q: int
    n2q: int
    seconds: float

    @staticmethod
    def best(counts: list["PeerCounts"]) -> "PeerCounts":
        """The peer at its best: the fewest one-qubit and the fewest two-qubit gates, each over the encodings
        (the time is that of the first, cirq's own gate classes)."""
        return PeerCounts(min(c.n1q for c in counts), min(c.n2q for c in counts), counts[0].seconds)


def _encode(c: Circuit, encoding: str) -> Any:
    import cirq

    from ..circuits.cirq_interop import to_cirq

    if encoding == "gates":
        return to_cirq(c)
    q = cirq.LineQubit.range(c.n_qubits)
    ops = []
    for g in c.gates:
        if g.controls:
            name = "x" if g.name in ("cnot", "not") else g.name
            u = np.round(one_qubit_matrix("qis", name, np.array(g.params, dtype=np.float64)), 12) + 0.0
            ops.append(cirq.MatrixGate(u).controlled(len(g.controls)).on(*(q[i] for i in g.controls), q[g.targets[0]]))
        else:
            ops.extend(to_cirq(Circuit(c.n_qubits, [g])).all_operations())
    return cirq.Circuit(ops)


def cirq_ionq_counts(c: Circuit, target: str, encoding: str = "gates") -> PeerCounts:
    """cirq-ionq's native compile of a qis circuit for "aria" or "forte", in one encoding."""
    import cirq
    import cirq_ionq

    gateset = cirq_ionq.AriaNativeGateset() if target == "aria" else cirq_ionq.ForteNativeGateset()
    circuit = _encode(c, encoding)
    t0 = time.perf_counter()
    out = cirq.optimize_for_target_gateset(circuit, gateset=gateset)
    dt = time.perf_counter() - t0
    ops = list(out.all_operations())
    one = sum(isinstance(op.gate, (cirq_ionq.GPIGate, cirq_ionq.GPI2Gate)) for op in ops)
    two = sum(isinstance(op.gate, (cirq_ionq.MSGate, cirq_ionq.ZZGate)) for op in ops)
    return PeerCounts(one, two, dt)


def cirq_ionq_best(c: Circuit, target: str, encodings: tuple[str, ...] = ENCODINGS) -> PeerCounts:
    """The peer at its best over `encodings` (a circuit without controlled gates has one encoding)."""
    if not any(g.controls for g in c.gates):
        return cirq_ionq_counts(c, target)
    return PeerCounts.best([cirq_ionq_counts(c, target, e) for e in encodings])
