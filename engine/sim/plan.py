"""A simulation plan for a template structure, built once and reused for every batch.

The plan turns the gate list into a few vectorized steps:
- the product-state prefix: each qubit's one-qubit gates before its first multi-qubit gate, applied to |0>
  and combined with an outer product (no full-state work at all);
- fused one-qubit runs: all gates on a qubit between two multi-qubit gates multiply into one (B, 2, 2);
- monomial blocks: consecutive parameter-free multi-qubit gates (CNOT chains, SWAP, CZ, ...) merge into one
  precomputed gather permutation with phases, as many blocks as PERM_TABLE_BYTES holds;
- everything else (parametrized two-qubit gates, non-monomial controlled gates) as a generic step.
The plan depends only on the gate structure (`Template.ops_hash`), never on the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..circuits.gates import FIXED_1Q, SWAP, spec
from ..circuits.template import Op, Template

if TYPE_CHECKING:
    from .program import Program


@dataclass
class Prefix:
    runs: list[list[int]]  # per qubit: op indices applied to |0>


@dataclass
class Fused1Q:
    qubit: int
    ops: list[int]


@dataclass
class Monomial:
    src: np.ndarray  # gather indices: new[:, i] = old[:, src[i]] * phase[i]
    phase: np.ndarray | None  # None when all phases are 1
    qubits: set[int] = field(default_factory=set)


@dataclass
class Generic:
    op: int


Step = Fused1Q | Monomial | Generic


@dataclass
class Plan:
    n_qubits: int
    prefix: Prefix
    steps: list[Step]
    program: "Program | None" = None  # the plan as arrays for the kernels, built on first use

    @cached_property
    def table_bytes(self) -> int:
        """What its monomial blocks hold, with the program's copy of them: what caching it costs."""
        blocks = sum(1 for step in self.steps if isinstance(step, Monomial))
        return 2 * blocks * PERM_ENTRY_BYTES * 2 ** self.n_qubits


def _local_matrix(gateset: str, op: Op) -> np.ndarray | None:
    """The fixed matrix of a parameter-free op over (controls..., targets...) big-endian, or None if parametric."""
    s = spec(gateset, op.name)
    if s.n_params:
        return None
    if op.name == "swap":
        base = SWAP
    else:
        base = FIXED_1Q[op.name]
    nc = len(op.controls)
    if nc == 0:
        return base
    dim = 2 ** (nc + len(op.targets))
    m = np.eye(dim, dtype=np.complex128)
    k = base.shape[0]
    m[dim - k:, dim - k:] = base
    return m


def _is_monomial(m: np.ndarray) -> bool:
    return bool(np.all(np.count_nonzero(np.abs(m) > 1e-15, axis=0) == 1))


def monomial_action(n: int, qubits: tuple[int, ...], m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a monomial local matrix on `qubits` (big-endian), the (dest, phase) of every global basis index."""
    idx = np.arange(2 ** n)
    k = len(qubits)
    local = np.zeros_like(idx)
    for pos, q in enumerate(qubits):
        local |= ((idx >> q) & 1) << (k - 1 - pos)
    nz = np.abs(m) > 1e-15
    out_local = np.argmax(nz, axis=0)  # for each input column, the output row
    phase_local = m[out_local, np.arange(m.shape[1])]
    dest = idx.copy()
    for pos, q in enumerate(qubits):
        bit = (out_local[local] >> (k - 1 - pos)) & 1
        dest = (dest & ~(1 << q)) | (bit << q)
    return dest, phase_local[local]


_DIAGONAL = {"rz", "z", "s", "si", "t", "ti"}


def drop_dead_diagonals(t: Template, plan: Plan) -> Plan:
    """For probabilities only: drop diagonal gates that only monomial gates follow.

    A diagonal gate followed only by permutations-with-phases on the qubits it could reach leaves
    |amplitude|^2 unchanged, so it cannot change the distribution. Walking backwards, `live` is the
    set of qubits on which some later non-monomial operation acts (spread through monomial blocks).
    """
    if t.gateset != "qis":
        return plan
    live: set[int] = set()
    steps: list[Step] = []
    for step in reversed(plan.steps):
        if isinstance(step, Fused1Q):
            ops = list(step.ops)
            if step.qubit not in live:
                while ops and t.ops[ops[-1]].name in _DIAGONAL:
                    ops.pop()
            if not ops:
                continue
            if not all(t.ops[i].name in _DIAGONAL for i in ops):
                live.add(step.qubit)
            steps.append(Fused1Q(step.qubit, ops))
        elif isinstance(step, Monomial):
            if live & step.qubits:
                live |= step.qubits
            steps.append(step)
        else:
            live |= set(t.ops[step.op].qubits)
            steps.append(step)
    runs = []
    for q, run in enumerate(plan.prefix.runs):
        run = list(run)
        if q not in live:
            while run and t.ops[run[-1]].name in _DIAGONAL:
                run.pop()
        runs.append(run)
    return Plan(plan.n_qubits, Prefix(runs), steps[::-1])


# A monomial block is a gather table over the whole state: 24 bytes an amplitude (index and phase), 1.5 MB a block
# at 16 qubits. Past this much, a parameter-free gate that cannot join the current block is a generic step (a
# controlled one-qubit gate or a SWAP, in place): a 16-qubit circuit of 50,000 CNOTs between rotations asked for
# ~35 GB of tables (the process was killed) and took ~1 ms a gate to plan.
PERM_TABLE_BYTES = 64 * 2**20
PERM_ENTRY_BYTES = 24


def build_plan(t: Template) -> Plan:
    n = t.n_qubits
    ops = t.ops
    first_multi = [len(ops)] * n
    for i, op in enumerate(ops):
        if len(op.qubits) > 1:
            for q in op.qubits:
                first_multi[q] = min(first_multi[q], i)
    prefix_runs: list[list[int]] = [[] for _ in range(n)]
    pending: list[list[int]] = [[] for _ in range(n)]
    steps: list[Step] = []
    block: Monomial | None = None
    block_pos = -1
    blocks, max_blocks = 0, max(1, PERM_TABLE_BYTES // (PERM_ENTRY_BYTES * 2 ** n))

    def flush(q: int, before: int | None = None) -> None:
        if pending[q]:
            step = Fused1Q(q, pending[q])
            if before is None:
                steps.append(step)
            else:
                steps.insert(before, step)
            pending[q] = []

    for i, op in enumerate(ops):
        qs = op.qubits
        if len(qs) == 1:
            q = qs[0]
            if i < first_multi[q]:
                prefix_runs[q].append(i)
            else:
                pending[q].append(i)
            continue
        m = _local_matrix(t.gateset, op)
        can_extend = block is not None and steps and steps[-1] is block and all(
            not pending[q] or q not in block.qubits for q in qs)
        if m is not None and _is_monomial(m) and (can_extend or blocks < max_blocks):
            dest, ph = monomial_action(n, qs, m)
            if can_extend:
                assert block is not None  # can_extend says so
                for q in qs:
                    if pending[q]:
                        flush(q, before=block_pos)
                        block_pos += 1
                # compose: current block maps old->mid via src; new op maps mid->new.
                src_new = np.empty_like(dest)
                src_new[dest] = np.arange(dest.size)
                ph_new = np.empty(dest.size, dtype=np.complex128)
                ph_new[dest] = ph
                block.src = block.src[src_new]
                old_ph = block.phase if block.phase is not None else np.ones(dest.size, dtype=np.complex128)
                comb = old_ph[src_new] * ph_new
                block.phase = None if np.allclose(comb, 1.0, atol=0, rtol=0) else comb
                block.qubits |= set(qs)
                continue
            for q in qs:
                flush(q)
            src = np.empty_like(dest)
            src[dest] = np.arange(dest.size)
            phase = np.empty(dest.size, dtype=np.complex128)
            phase[dest] = ph
            block = Monomial(src, None if np.all(phase == 1.0) else phase, set(qs))
            blocks += 1
            steps.append(block)
            block_pos = len(steps) - 1
            continue
        for q in qs:
            flush(q)
        steps.append(Generic(i))
    for q in range(n):
        flush(q)
    return Plan(n, Prefix(prefix_runs), steps)
