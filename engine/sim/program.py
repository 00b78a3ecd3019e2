"""A simulation plan flattened into integer and complex arrays that one compiled function can run.

The plan (plan.py) decides what to fuse; this module writes it down as a straight-line program
for `kernels`, so that a whole circuit, forward and (for the adjoint method) backward,
runs in one or two calls into compiled code, with every gate matrix built there from the angles.
At 20 rows of 8 qubits a numpy call per gate costs more than the arithmetic.

Instructions (rows of `Program.ins`, `INS_WIDTH` columns):
- RUN1 (q, cmask, first gate, gate count, trainable): the product of a run of one-qubit gates on
  qubit q, applied where every bit of `cmask` (the controls) is 1;
- PAIR1 (qa, qb, first run, 2): two RUN1 rows without controls applied in one pass (forward only);
- PERM (perm index, has phase): a monomial block, new[i] = old[src[i]] * phase[i];
- GATE2 (qa, qb, gate, trainable): a two-qubit gate, qa the most significant (big-endian) factor.
The prefix (every qubit's one-qubit gates before its first multi-qubit gate) is one run per qubit,
applied to |0...0> as a product state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..circuits.gates import FIXED_1Q, SWAP, spec
from ..circuits.template import Op, Template
from .plan import Fused1Q, Generic, Monomial, Plan

INS_WIDTH = 6
RUN1, PAIR1, PERM, GATE2 = 1, 2, 3, 4

# gate codes: one-qubit below 10, two-qubit from 10
FIXED1, RX, RY, RZ, GPI, GPI2 = 0, 1, 2, 3, 4, 5
FIXED2, XX, YY, ZZ, MS, ZZ_TURNS = 10, 11, 12, 13, 14, 15
_QIS_CODES = {"rx": RX, "ry": RY, "rz": RZ, "xx": XX, "yy": YY, "zz": ZZ}
_NATIVE_CODES = {"gpi": GPI, "gpi2": GPI2, "ms": MS, "zz": ZZ_TURNS}
GATE_WIDTH = 4  # code, first angle column (-1: none), fixed matrix index, trainable (any of its columns)


@dataclass(frozen=True)
class Program:
    """Arrays for the compiled kernels; built once per (structure, trainable columns, use)."""

    n_qubits: int
    ins: np.ndarray  # (I, INS_WIDTH) int64
    gates: np.ndarray  # (G, GATE_WIDTH) int64
    prefix: np.ndarray  # (n, 2) int64: first gate and count of each qubit's prefix run
    fixed1: np.ndarray  # (F1, 2, 2) complex128
    fixed2: np.ndarray  # (F2, 4, 4) complex128
    perm_src: np.ndarray  # (N_perm, 2**n) int64
    perm_phase: np.ndarray  # (N_perm, 2**n) complex128
    max_run: int  # the longest run, for the kernels' scratch space
    trainable_prefix: bool  # some prefix gate needs a derivative


def _code(t: Template, op: Op) -> int:
    s = spec(t.gateset, op.name)
    if s.n_params == 0:
        return FIXED1 if s.n_targets == 1 else FIXED2
    return (_NATIVE_CODES if t.gateset == "native" else _QIS_CODES)[op.name]


class _Builder:
    def __init__(self, t: Template, trainable_cols: np.ndarray):
        self.t = t
        self.trainable = trainable_cols
        self.gates: list[list[int]] = []
        self.fixed1: list[np.ndarray] = []
        self.fixed2: list[np.ndarray] = []
        self._fixed_index: dict[tuple[int, str], int] = {}

    def fixed(self, width: int, name: str) -> int:
        key = (width, name)
        if key not in self._fixed_index:
            table = self.fixed1 if width == 1 else self.fixed2
            self._fixed_index[key] = len(table)
            table.append(FIXED_1Q[name] if width == 1 else SWAP)
        return self._fixed_index[key]

    def gate(self, i: int) -> tuple[int, bool]:
        """Append op i's gate row; returns its index and whether it needs a derivative."""
        op = self.t.ops[i]
        code = _code(self.t, op)
        n_params = spec(self.t.gateset, op.name).n_params
        col = self.t.param_offsets[i] if n_params else -1
        fixed = self.fixed(1 if code < 10 else 2, op.name) if code in (FIXED1, FIXED2) else -1
        needs = bool(n_params and self.trainable[col:col + n_params].any())
        self.gates.append([code, col, fixed, int(needs)])
        return len(self.gates) - 1, needs

    def run(self, ops: list[int]) -> tuple[int, int, bool]:
        first, any_needed = len(self.gates), False
        for i in ops:
            any_needed |= self.gate(i)[1]
        return first, len(ops), any_needed


def build_program(t: Template, plan: Plan, trainable_cols: np.ndarray, pair_runs: bool) -> Program:
    """The plan as arrays. `trainable_cols` (K,) bool marks angle columns whose derivative is wanted.

    pair_runs: merge consecutive control-free runs on two qubits into PAIR1 rows (forward use only:
    the backward pass needs each run on its own).
    """
    n = plan.n_qubits
    b = _Builder(t, np.asarray(trainable_cols, dtype=bool))
    prefix = np.zeros((n, 2), dtype=np.int64)
    trainable_prefix = False
    for q, run in enumerate(plan.prefix.runs):
        first, count, needs = b.run(list(run))
        prefix[q] = first, count
        trainable_prefix |= needs
    ins: list[list[int]] = []
    srcs: list[np.ndarray] = []
    phases: list[np.ndarray] = []
    for step in plan.steps:
        if isinstance(step, Fused1Q):
            first, count, needs = b.run(list(step.ops))
            ins.append([RUN1, step.qubit, 0, first, count, int(needs)])
        elif isinstance(step, Monomial):
            ins.append([PERM, len(srcs), int(step.phase is not None), 0, 0, 0])
            srcs.append(step.src.astype(np.int64))
            phases.append(np.ones(2 ** n, dtype=np.complex128) if step.phase is None else step.phase)
        elif isinstance(step, Generic):
            op = t.ops[step.op]
            g, needs = b.gate(step.op)
            if op.controls:
                cmask = sum(1 << c for c in op.controls)
                ins.append([RUN1, op.targets[0], cmask, g, 1, int(needs)])
            else:
                ins.append([GATE2, op.targets[0], op.targets[1], g, 0, int(needs)])
    if pair_runs:
        ins = _pair(ins)
    runs = [int(r[1]) for r in prefix] + [r[4] for r in ins if r[0] == RUN1]
    return Program(
        n_qubits=n,
        ins=np.array(ins, dtype=np.int64).reshape(-1, INS_WIDTH),
        gates=np.array(b.gates, dtype=np.int64).reshape(-1, GATE_WIDTH),
        prefix=prefix,
        fixed1=np.array(b.fixed1 or [np.eye(2)], dtype=np.complex128).reshape(-1, 2, 2),
        fixed2=np.array(b.fixed2 or [np.eye(4)], dtype=np.complex128).reshape(-1, 4, 4),
        perm_src=np.array(srcs, dtype=np.int64).reshape(-1, 2 ** n),
        perm_phase=np.array(phases, dtype=np.complex128).reshape(-1, 2 ** n),
        max_run=max(runs + [1]),
        trainable_prefix=trainable_prefix,
    )


def _pair(ins: list[list[int]]) -> list[list[int]]:
    """Adjacent control-free RUN1 rows on different qubits become one PAIR1 (runs on distinct qubits commute).

    A PAIR1 row keeps its two runs as the RUN1 rows right after it, which the kernel skips.
    """
    out: list[list[int]] = []
    i = 0
    while i < len(ins):
        r = ins[i]
        nxt = ins[i + 1] if i + 1 < len(ins) else None
        if (r[0] == RUN1 and r[2] == 0 and nxt is not None and nxt[0] == RUN1 and nxt[2] == 0
                and nxt[1] != r[1]):
            out.append([PAIR1, r[1], nxt[1], 0, 2, 0])
            out.extend([r, nxt])
            i += 2
            continue
        out.append(r)
        i += 1
    return out
