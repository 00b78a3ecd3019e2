"""Compiler statistics, counted from the circuits themselves (never assumed).

`reduction_pct` compares the optimized output with the gate-by-gate translation of the same source
(`NativeGateCompiler(optimize=False)`: each gate on its own, the textbook CNOTs of API_NOTES 2.1), so
it says what the optimizer saved, in the same unit (native gates) on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from threading import Lock


def op_counts(qubit_tuples: Iterable[tuple[int, ...]], n_qubits: int) -> tuple[int, int, int]:
    """(one-qubit ops, multi-qubit ops, depth) of a gate list given as the qubits of each gate."""
    level = [0] * n_qubits
    one = multi = 0
    for qs in qubit_tuples:
        if len(qs) == 1:
            one += 1
        else:
            multi += 1
        d = max(level[q] for q in qs) + 1
        for q in qs:
            level[q] = d
    return one, multi, max(level, default=0)


@dataclass(frozen=True)
class CompilerStats:
    """One compile: source (qis) and output (native) counts, and the wall time it took."""

    target: str
    gates_in: int
    n1q_in: int
    n2q_in: int
    depth_in: int
    gates_out: int
    n1q_out: int
    n2q_out: int
    depth_out: int
    naive_gates_out: int
    compile_time_ms: float

    @property
    def reduction_pct(self) -> float:
        """Native gates saved against the gate-by-gate translation, in percent."""
        if self.naive_gates_out == 0:
            return 0.0
        return 100.0 * (1.0 - self.gates_out / self.naive_gates_out)


@dataclass
class CompilerTotals:
    """Running totals over every compile of one compiler (thread-safe updates)."""

    compiles: int = 0
    gates_in: int = 0
    gates_out: int = 0
    n1q_out: int = 0
    n2q_out: int = 0
    naive_gates_out: int = 0
    compile_time_ms: float = 0.0

    def __post_init__(self) -> None:
        self._lock = Lock()

    def add(self, s: CompilerStats) -> None:
        with self._lock:
            self.compiles += 1
            self.gates_in += s.gates_in
            self.gates_out += s.gates_out
            self.n1q_out += s.n1q_out
            self.n2q_out += s.n2q_out
            self.naive_gates_out += s.naive_gates_out
            self.compile_time_ms += s.compile_time_ms

    @property
    def reduction_pct(self) -> float:
        if self.naive_gates_out == 0:
            return 0.0
        return 100.0 * (1.0 - self.gates_out / self.naive_gates_out)

    @property
    def avg_compile_time_ms(self) -> float:
        return self.compile_time_ms / self.compiles if self.compiles else 0.0
