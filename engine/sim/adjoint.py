"""Exact gradients of <Z_i> on the local simulator by the adjoint method.

One forward pass gives the final states; one backward pass un-computes them gate by gate next to
lambda = H psi (H = sum_i c_i Z_i, c the cotangent: dL/dz from the trainer) and accumulates each
trainable angle's derivative on the way (see kernels.py). The cost is about three forward
passes whatever the number of parameters, against 2P + 1 circuits for parameter shift.

Angles are affine in the slots (`const + W theta + V x`): the kernels differentiate by angle, and
a trainable slot's derivative is sum_k W[j, k] dL/d angle_k. Only angles fed by a trainable slot
are differentiated; input and constant angles cost nothing, and the walk back stops at the first
instruction holding a trainable gate. Rows run in chunks (two states each) as in `probabilities`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

import numpy as np

from ..circuits.template import Template
from .measure import z_signs
from .program import GATE2, RUN1, Program, build_program
from .statevector import DEFAULT_CHUNK_BYTES, _check, _run_jobs, _workers, chunk_rows, plan_for

Cotangent = Callable[[np.ndarray], np.ndarray]
"""(B, n) expectations <Z_i> -> (B, n) dL/dz (the trainer's loss derivative)."""


@dataclass(frozen=True)
class AdjointResult:
    z: np.ndarray  # (B, n): <Z_i> per row at the given parameters
    grad: np.ndarray  # (B, P): d (sum_i c_i <Z_i>) / d theta per row


@dataclass(frozen=True)
class _Compiled:
    program: Program
    cols: np.ndarray  # (K_t,) the angle columns fed by a trainable slot
    stop_at: int  # first instruction with a trainable gate; -1 when the prefix has one


_cache: OrderedDict[str, _Compiled] = OrderedDict()
_cache_lock = Lock()


def _compiled(t: Template) -> _Compiled:
    key = t.structure_hash
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    trainable = np.any(t.weights != 0.0, axis=0)
    program = build_program(t, plan_for(t, probabilities_only=True), trainable, pair_runs=True)
    needed = [i for i, r in enumerate(program.ins) if r[0] in (RUN1, GATE2) and r[5]]
    stop_at = -1 if program.trainable_prefix else (min(needed) if needed else len(program.ins))
    c = _Compiled(program, np.flatnonzero(trainable), stop_at)
    with _cache_lock:
        _cache[key] = c
        while len(_cache) > 64:
            _cache.popitem(last=False)
    return c


# Rows x amplitudes from which the rows are split between threads. A split costs ~0.1-0.3 ms here (a pool
# thread's wake-up, two fork-joins). Two threads against one, interleaved, best / median: 8 qubits x 3 layers,
# 64 rows, 3.10 / 3.59 against 4.42 / 5.95 ms; 20 rows (5,120), 1.11 / 1.45 against 1.11 / 1.61 ms. 6 qubits x
# 2 layers, 32 rows (2,048), split by hand: 0.64 against 0.54 ms, so below this it stays on one thread.
PARALLEL_MIN_AMPLITUDES = 4096


class _Chunk:
    """Forward and backward of one chunk of rows, holding its states in between."""

    def __init__(self, t: Template, c: _Compiled, angles: np.ndarray):
        from . import kernels as pk

        self.pk, self.c, self.angles = pk, c, np.ascontiguousarray(angles)
        p = c.program
        b, size = angles.shape[0], 2 ** p.n_qubits
        self.psi = np.empty((size, b), dtype=np.complex128)
        self.tmp = np.empty_like(self.psi)
        self.mats = np.empty((2, 2, 2, b), dtype=np.complex128)
        self.m4 = np.empty((4, 4, b), dtype=np.complex128)
        self.tmp4 = np.empty((4, 4), dtype=np.complex128)
        self.final = pk.forward(p.n_qubits, p.ins, p.gates, p.prefix, p.fixed1, p.fixed2, p.perm_src, p.perm_phase,
                                self.angles, self.psi, self.tmp, self.mats, self.m4, self.tmp4, False)

    def z(self) -> np.ndarray:
        probs = self.final.real ** 2 + self.final.imag ** 2
        return probs.T @ z_signs(self.c.program.n_qubits)

    def angle_grad(self, cot: np.ndarray) -> np.ndarray:
        """(B, K) dL/d angle (only the trainable columns are meaningful)."""
        p, pk = self.c.program, self.pk
        b = self.angles.shape[0]
        dangle = np.zeros_like(self.angles)
        if self.c.stop_at >= len(p.ins):
            return dangle
        other = self.tmp if self.final is self.psi else self.psi
        lam = np.empty_like(self.psi)
        tmp_lam = np.empty_like(self.psi)
        r = np.empty((2, 2, b), dtype=np.complex128)
        r4 = np.empty((4, 4, b), dtype=np.complex128)
        us = np.empty((p.max_run, 4), dtype=np.complex128)
        pk.backward(p.n_qubits, p.ins, p.gates, p.prefix, p.fixed1, p.fixed2, p.perm_src, p.perm_phase,
                    self.angles, self.final, lam, other, tmp_lam, z_signs(p.n_qubits),
                    np.ascontiguousarray(cot, dtype=np.float64), self.c.stop_at, self.mats, r, us, self.m4, r4,
                    self.tmp4, dangle)
        return dangle


def value_and_grad(t: Template, params: np.ndarray, inputs: np.ndarray | None, cotangent: Cotangent,
                   chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> AdjointResult:
    """<Z_i> of every row and the gradient of sum_i c_i <Z_i> per row, c = cotangent(z).

    `cotangent` sees all rows' z at once (a loss may couple rows). Rows are independent, so they are split
    between the simulator's threads, forward and backward (one thread's numbers, to rounding).
    When the rows fit in memory each part keeps its states between its forward and backward passes; when
    they do not, z comes from a first forward pass and each chunk is simulated again before its backward
    pass, so memory stays at the chunks in flight (one chunk's two states in all).
    """
    c = _compiled(t)
    params, inputs = t.check_shapes(params, inputs)
    angles = _check(t, t.bind_angles(params, inputs))
    b = angles.shape[0]
    if b == 0:
        return AdjointResult(np.zeros((0, t.n_qubits)), np.zeros((0, t.n_trainable)))
    rows = chunk_rows(t.n_qubits, chunk_bytes // 2)
    workers = _workers() if b > 1 and b * 2 ** t.n_qubits >= PARALLEL_MIN_AMPLITUDES else 1
    keep = b <= rows
    step = -(-b // workers) if keep else max(1, rows // workers)
    starts = range(0, b, step)
    kept: dict[int, _Chunk] = {}
    z = np.empty((b, t.n_qubits))

    def forward(s: int) -> None:
        chunk = _Chunk(t, c, angles[s:s + step])
        z[s:s + step] = chunk.z()
        if keep:
            kept[s] = chunk

    _run_jobs(forward, starts)
    cot = np.asarray(cotangent(z), dtype=np.float64)
    if cot.shape != z.shape:
        raise ValueError(f"cotangent: expected shape {z.shape}, got {cot.shape}")
    grad = np.empty((b, t.n_trainable))
    w = t.weights[:, c.cols]

    def backward(s: int) -> None:
        chunk = kept.pop(s) if keep else _Chunk(t, c, angles[s:s + step])
        grad[s:s + step] = chunk.angle_grad(cot[s:s + step])[:, c.cols] @ w.T

    _run_jobs(backward, starts)
    return AdjointResult(z, grad)


def jacobian(t: Template, params: np.ndarray, inputs: np.ndarray | None = None,
             chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """(<Z_i> (B, n), d<Z_i>/d theta_j (P, B, n)): one backward pass per qubit's Z, rows stacked.

    The layout is parameter shift's (`engine.gradients.shift_jacobian`), so `chain_rule` applies.
    The trainer uses `value_and_grad` instead: one backward pass for the loss, not n.
    """
    params, inputs = t.check_shapes(params, inputs)
    b, n = params.shape[0], t.n_qubits
    eye = np.repeat(np.eye(n)[:, None, :], b, axis=1).reshape(n * b, n)  # row i*b + r: e_i
    res = value_and_grad(t, np.tile(params, (n, 1)), np.tile(inputs, (n, 1)), lambda z: eye, chunk_bytes)
    jac = res.grad.reshape(n, b, -1).transpose(2, 1, 0)  # (P, B, n)
    return res.z[:b], np.ascontiguousarray(jac)


__all__ = ["AdjointResult", "Cotangent", "jacobian", "value_and_grad"]
