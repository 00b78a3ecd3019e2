"""NativeGateCompiler: qis circuits and templates to IonQ native gates (Aria: GPI/GPI2/MS, Forte: GPI/GPI2/ZZ).

Pipeline (compile time, once per template structure):
1. lower each qis gate to one-qubit factors and two-qubit cores (twoqubit.py); SWAPs relabel wires;
2. fuse consecutive cores on one pair when the one-qubit gates between them commute through, and turn
   cores of angle 0 or 1/2 into nothing or Paulis (so inverse pairs cancel);
3. map each core to MS or ZZ; on Aria choose each basis change to cancel pulses of its neighbours;
4. every run of one-qubit factors between cores gets a pulse class (0, 1 or 2 pulses) valid for all
   parameter values; Z rotations never cost a pulse (virtual Z).
Binding then computes all the numbers vectorized (program.py). `optimize=False` is the gate-by-gate
translation (no fusion, textbook CNOTs, SWAP as three CNOTs): the baseline that `reduction_pct` and
the benchmark compare with. `verify_every_compile=True` checks every output with our simulator.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..circuits.gates import QIS_GATES
from ..circuits.ir import Circuit, Gate
from ..circuits.template import Op, Template
from ..circuits.validate import validate_gate
from .build import Build
from .errors import CompilationError, ConnectivityError, UnsupportedGateError
from .program import CompiledTemplate, Program, bind_program, undo_permutation
from .stats import CompilerStats, CompilerTotals, op_counts
from .twoqubit import MAX_CONTROLS, TARGETS
from .verify import verify

VERIFY_TOLERANCE = 1e-9


@dataclass
class CompileResult:
    """A compiled circuit: `circuit` is native; measure it, then undo `permutation` on the results.

    `frames` (turns, per physical wire) are the residual Z rotations dropped before measurement;
    verification needs them, execution does not.
    """

    circuit: Circuit
    permutation: tuple[int, ...]
    frames: np.ndarray
    stats: CompilerStats

    def undo_permutation(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities of the compiled circuit, re-indexed to the source's qubits."""
        return undo_permutation(probs, self.permutation)


def _check_ops(gateset: str, ops: Sequence[Op | Gate], target: str) -> None:
    """Refuse, naming gate, index and target, anything this compiler cannot lower."""
    if gateset != "qis":
        name = ops[0].name if ops else "-"
        raise UnsupportedGateError(name, 0, target, "the input is already a native circuit; the compiler takes qis circuits")
    for i, op in enumerate(ops):
        if op.name not in QIS_GATES:
            raise UnsupportedGateError(op.name, i, target, "not a qis gate")
        if len(op.controls) > MAX_CONTROLS:
            raise UnsupportedGateError(
                op.name, i, target, f"{len(op.controls)} controls; at most {MAX_CONTROLS} are decomposed")


def _coupling_set(pairs: Iterable[tuple[int, int]]) -> frozenset[frozenset[int]]:
    """Unordered pairs of distinct non-negative qubit indices; anything else is refused, naming the pair."""
    out = set()
    for pair in pairs:
        items = tuple(pair)
        if (len(items) != 2 or any(isinstance(q, bool) or not isinstance(q, int) or q < 0 for q in items)
                or items[0] == items[1]):
            raise ValueError(f"coupling: {pair!r} is not a pair of two different qubit indices")
        out.add(frozenset(items))
    return frozenset(out)


def _probe(op: Op) -> Gate:
    """A template op as a Gate, for the IR's validation (wiring and arity; angles live in the table)."""
    return Gate(op.name, op.targets, op.controls, tuple(0.0 for _ in range(QIS_GATES[op.name].n_params)))


class NativeGateCompiler:
    """Compiles qis circuits and parametrized templates to verified native circuits for one target."""

    def __init__(self, target: str = "aria", optimize: bool = True, verify_every_compile: bool = False,
                 coupling: Iterable[tuple[int, int]] | None = None):
        """`coupling`: the pairs of physical qubits the backend can entangle (either order), None for all of
        them; a two-qubit gate on another pair raises ConnectivityError naming the pair (nothing is routed)."""
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        self.target = target
        self.optimize = optimize
        self.verify_every_compile = verify_every_compile
        self.coupling = None if coupling is None else _coupling_set(coupling)
        self.totals = CompilerTotals()

    def compile_template(self, template: Template) -> CompiledTemplate:
        """Compile a template once; `bind` on the result fills in numbers for any batch."""
        start = time.perf_counter()
        program, counts = self._build(template)
        stats = self._stats(template, program, counts, time.perf_counter() - start)
        self.totals.add(stats)
        return CompiledTemplate(program, stats, _verify_rows if self.verify_every_compile else None)

    def compile(self, circuit: Circuit) -> CompileResult:
        """Compile one qis circuit: constant angles are folded, so runs get their exact minimal pulses."""
        start = time.perf_counter()
        _check_ops(circuit.gateset, circuit.gates, self.target)
        circuit.validate()
        ops = tuple(Op(g.name, g.targets, g.controls) for g in circuit.gates)
        row = np.array([p for g in circuit.gates for p in g.params], dtype=np.float64)
        k = row.shape[0]
        template = Template(circuit.n_qubits, ops, row, np.zeros((0, k)), np.zeros((0, k)), "qis", circuit.name)
        program, counts = self._build(template, validated=True)
        angles, frames = bind_program(program, np.zeros((1, 0)), None)
        out = program.native.circuit_from_angles(angles[0], circuit.name)
        stats = self._stats(template, program, counts, time.perf_counter() - start)
        self.totals.add(stats)
        result = CompileResult(out, program.permutation, frames[0], stats)
        if self.verify_every_compile:
            f = verify(circuit, out, program.permutation, frames[0])
            if f < 1 - VERIFY_TOLERANCE:
                raise CompilationError(f"compiled circuit has process fidelity {f:.12f} with its source ({self.target})")
        return result

    def _build(self, template: Template, validated: bool = False) -> tuple[Program, tuple[int, int] | None]:
        if not validated:
            _check_ops(template.gateset, template.ops, self.target)
            for i, op in enumerate(template.ops):
                validate_gate(_probe(op), i, template.n_qubits, "qis")
        b = self._reduced(template, keep_swaps=False)
        if self.coupling is not None:
            missing = b.missing_pair(self.coupling)
            if missing is not None and self.optimize and any(op.name == "swap" for op in template.ops):
                b = self._reduced(template, keep_swaps=True)  # relabelling moved a gate off the coupling map
                missing = b.missing_pair(self.coupling)
            if missing is not None:
                index, pair = missing
                raise ConnectivityError(template.ops[index].name, index, self.target, pair)
        b.map_cores()
        program = b.program(template.label)
        if self.optimize:
            naive = Build(template, self.target, False)
            naive.lower()
            naive.reduce()
            naive.map_cores()
            counts = naive.pulse_counts()
        else:
            counts = None
        return program, counts

    def _reduced(self, template: Template, keep_swaps: bool) -> Build:
        b = Build(template, self.target, self.optimize, keep_swaps)
        b.lower()
        b.reduce()
        return b

    def _stats(self, template: Template, program: Program, naive: tuple[int, int] | None, seconds: float) -> CompilerStats:
        n = template.n_qubits
        n1_in, n2_in, d_in = op_counts((op.qubits for op in template.ops), n)
        n1_out, n2_out, d_out = op_counts((op.qubits for op in program.native.ops), n)
        naive_out = sum(naive) if naive is not None else n1_out + n2_out
        return CompilerStats(
            target=self.target, gates_in=len(template.ops), n1q_in=n1_in, n2q_in=n2_in, depth_in=d_in,
            gates_out=n1_out + n2_out, n1q_out=n1_out, n2q_out=n2_out, depth_out=d_out,
            naive_gates_out=naive_out, compile_time_ms=seconds * 1e3,
        )


def _verify_rows(compiled: CompiledTemplate, params: np.ndarray, inputs: np.ndarray, angles: np.ndarray,
                 frames: np.ndarray) -> None:
    """The debug switch for templates: every bound row must equal its source circuit."""
    src = compiled.source.bind(params, inputs)
    for r, source in enumerate(src):
        native = compiled.native_template.circuit_from_angles(angles[r])
        f = verify(source, native, compiled.permutation, frames[r])
        if f < 1 - VERIFY_TOLERANCE:
            raise CompilationError(
                f"bound row {r} has process fidelity {f:.12f} with its source ({compiled.target})")
