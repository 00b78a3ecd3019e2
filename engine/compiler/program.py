"""A compiled template: native gate structure fixed at compile time, numbers bound per batch.

Binding is vectorized numpy over the batch, with no per-circuit work: slot angles -> factor angles
(one matmul) -> products of the parametric runs (2x2 algebra entry by entry on (B, runs) arrays) ->
closed-form synthesis per pulse class (arctan2 / angle) -> frames as running sums along each wire ->
native phases. Runs without parameters were synthesized at compile time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..circuits.template import CircuitBatch, Template
from .onequbit import PULSES, synthesize_parts
from .stats import CompilerStats
from .twoqubit import normalize_turns


def permutation_index(permutation: tuple[int, ...]) -> np.ndarray:
    """For each source basis index x, the physical index y: bit permutation[q] of y is bit q of x."""
    n = len(permutation)
    x = np.arange(2 ** n)
    y = np.zeros_like(x)
    for q, p in enumerate(permutation):
        y |= ((x >> q) & 1) << p
    return y


def undo_permutation(probs: np.ndarray, permutation: tuple[int, ...]) -> np.ndarray:
    """Probabilities (..., 2**n) measured on physical wires, re-indexed to the source's qubits."""
    if list(permutation) == sorted(permutation):
        return probs
    return np.asarray(probs)[..., permutation_index(permutation)]


class SlotMap:
    """A (P, E) map from slots to expressions held by its nonzero entries: `x @ m` is x @ dense(m).

    A circuit read as a template (`Template.from_circuit`) has a slot per angle, and its native form about two
    expressions per angle, each depending on one or two slots: dense, 8,000 gates made a (8,000, 16,000) table,
    1 GB a map and quadratic in the circuit. `__array_ufunc__ = None` makes numpy hand `x @ m` to `__rmatmul__`.
    """

    __array_ufunc__ = None

    def __init__(self, shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, vals: np.ndarray):
        order = np.argsort(cols, kind="stable")
        self.shape = shape
        self.rows, self.cols, self.vals = rows[order], cols[order], vals[order]
        self.targets, self.starts = np.unique(self.cols, return_index=True)  # each column's run of entries

    def __rmatmul__(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[0], self.shape[1]))
        if self.rows.size:
            out[:, self.targets] = np.add.reduceat(x[:, self.rows] * self.vals, self.starts, axis=1)
        return out

    def toarray(self) -> np.ndarray:
        dense = np.zeros(self.shape)
        np.add.at(dense, (self.rows, self.cols), self.vals)
        return dense


@dataclass
class Program:
    """Everything `bind` needs, as arrays (built by build.py)."""

    source: Template
    target: str
    native: Template
    permutation: tuple[int, ...]
    af_p: np.ndarray | SlotMap  # (P, F) affine factor angles from trainable slots
    af_x: np.ndarray  # (D, F) ... from input slots
    af_c: np.ndarray  # (F,)
    cond_core: np.ndarray  # (Fc,) parametric core index of each conditional factor
    cond_sign: np.ndarray  # (Fc,) bool: the flag is the sign flag (else the fold flag)
    kmats: np.ndarray  # (m + 1, Rp, 2, 2) fixed blocks of each parametric run
    pidx: np.ndarray  # (m, Rp) factor slot between fixed blocks j and j + 1 (padding: the identity slot)
    slot_axes: np.ndarray  # (m, Rp, 2, 2) n . sigma of those slots
    param_groups: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]  # (class, local ids, run ids, columns)
    fixed_gamma: np.ndarray  # (R,) frame shift of each fixed run (0 for parametric ones)
    fixed_pulses: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (run ids, columns, frame-free phases)
    wire_first: np.ndarray  # (R,) first run id on the run's wire (runs are wire-major)
    last_run: np.ndarray  # (n,) last run id of each wire
    at_p: np.ndarray | SlotMap  # (P, Cp) parametric core angles (turns)
    at_x: np.ndarray  # (D, Cp)
    at_c: np.ndarray  # (Cp,)
    core_angle: np.ndarray  # (Nc,) constant angles (cores in emission order)
    core_neg: np.ndarray  # (Nc,) constant sign flags
    core_param: np.ndarray  # (Nc,) parametric core index or -1
    angle_cols: np.ndarray  # (Nc,) column of each core's angle
    ms: np.ndarray  # (Nm,) core positions that are MS gates
    ms_cols: np.ndarray  # (Nm, 2) phase columns
    ms_pre: np.ndarray  # (Nm, 2) run before the gate on each wire (its outgoing frame applies)
    ms_base: np.ndarray  # (Nm, 2) phases before frames
    phase_cols: np.ndarray  # every phase column (normalized into [0, 1))


class CompiledTemplate:
    """A template compiled once for a target; `bind` turns (B, P) slots into (B, K') native angles."""

    def __init__(self, program: Program, stats: CompilerStats, verifier: Callable[..., None] | None = None):
        self._p = program
        self.stats = stats
        self._verifier = verifier

    @property
    def target(self) -> str:
        return self._p.target

    @property
    def source(self) -> Template:
        return self._p.source

    @property
    def native_template(self) -> Template:
        return self._p.native

    @property
    def permutation(self) -> tuple[int, ...]:
        """permutation[q] is the physical wire that holds source qubit q at measurement."""
        return self._p.permutation

    def undo_permutation(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities of the compiled circuits (..., 2**n), re-indexed to the source's qubits."""
        return undo_permutation(probs, self._p.permutation)

    def bind(self, params: np.ndarray, inputs: np.ndarray | None = None) -> tuple[Template, np.ndarray]:
        """(native template, angles (B, K')): the pair the simulator and the IonQ writer take."""
        t, angles, _ = self.bind_with_frames(params, inputs)
        return t, angles

    def batch(self, params: np.ndarray, inputs: np.ndarray | None = None) -> CircuitBatch:
        """The bound native circuits as a CircuitBatch (every native angle is a slot)."""
        t, angles = self.bind(params, inputs)
        return CircuitBatch(t, angles, np.zeros((angles.shape[0], 0)))

    def bind_with_frames(self, params: np.ndarray, inputs: np.ndarray | None = None
                         ) -> tuple[Template, np.ndarray, np.ndarray]:
        """Also the residual frames (B, n) in turns per physical wire, dropped before measurement."""
        angles, frames = bind_program(self._p, params, inputs)
        if self._verifier is not None:
            params, inputs = self._p.source.check_shapes(params, inputs)
            self._verifier(self, params, inputs, angles, frames)
        return self._p.native, angles, frames


def bind_program(p: Program, params: np.ndarray, inputs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(native angles (B, K'), residual frames (B, n)) for a batch of slot values."""
    params, inputs = p.source.check_shapes(params, inputs)
    b = params.shape[0]
    fa = params @ p.af_p
    if inputs.shape[1]:
        fa += inputs @ p.af_x
    fa += p.af_c
    n_aff, n_cond = p.af_c.shape[0], p.cond_core.shape[0]
    angle_all = np.empty((b, n_aff + n_cond + 1))
    angle_all[:, :n_aff] = fa
    angle_all[:, -1] = 0.0
    core_angle = np.broadcast_to(p.core_angle, (b, p.core_angle.shape[0]))
    core_neg = np.broadcast_to(p.core_neg, core_angle.shape)
    if p.at_c.shape[0]:
        t = params @ p.at_p
        if inputs.shape[1]:
            t += inputs @ p.at_x
        t += p.at_c
        ang, fold, neg = normalize_turns(p.target, t)
        flags = np.where(p.cond_sign, neg[:, p.cond_core], fold[:, p.cond_core])
        angle_all[:, n_aff:n_aff + n_cond] = np.pi * flags
        is_param = p.core_param >= 0
        core_angle = core_angle.copy()
        core_neg = core_neg.copy()
        core_angle[:, is_param] = ang[:, p.core_param[is_param]]
        core_neg[:, is_param] = neg[:, p.core_param[is_param]]
    # Parametric run products, entry by entry (batched 2x2 algebra as elementwise (B, Rp) arrays is
    # what numpy does fast): each slot is exp(-i a/2 n.sigma) = c I - i s (n.sigma), between fixed blocks.
    k = p.kmats
    r00, r01, r10, r11 = (np.broadcast_to(k[0, :, i, j], (b, k.shape[1])) for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    if p.pidx.shape[0]:
        half = 0.5 * angle_all[:, p.pidx]
        cos, sin = np.cos(half), -1j * np.sin(half)
    for j in range(p.pidx.shape[0]):
        c, s, ax = cos[:, j], sin[:, j], p.slot_axes[j]
        m00, m01, m10, m11 = c + s * ax[:, 0, 0], s * ax[:, 0, 1], s * ax[:, 1, 0], c + s * ax[:, 1, 1]
        t00, t01 = m00 * r00 + m01 * r10, m00 * r01 + m01 * r11
        t10, t11 = m10 * r00 + m11 * r10, m10 * r01 + m11 * r11
        kj = k[j + 1]
        r00, r01 = kj[:, 0, 0] * t00 + kj[:, 0, 1] * t10, kj[:, 0, 0] * t01 + kj[:, 0, 1] * t11
        r10, r11 = kj[:, 1, 0] * t00 + kj[:, 1, 1] * t10, kj[:, 1, 0] * t01 + kj[:, 1, 1] * t11
    gamma = np.repeat(p.fixed_gamma[None, :], b, axis=0)
    pulses = [(ids, cols, ph[None]) for ids, cols, ph in p.fixed_pulses]
    for cls, local, ids, cols in p.param_groups:
        g, ph = synthesize_parts(r00[:, local], r01[:, local], r10[:, local], r11[:, local], cls)
        gamma[:, ids] = g
        if PULSES[cls]:
            pulses.append((ids, cols, ph))
    total = np.cumsum(gamma, axis=1)
    f_out = total - np.where(p.wire_first > 0, total[:, np.maximum(p.wire_first - 1, 0)], 0.0)
    f_in = f_out - gamma
    out = np.empty((b, p.native.n_angles))
    for ids, cols, ph in pulses:
        out[:, cols] = ph - f_in[:, ids, None]
    out[:, p.angle_cols] = core_angle
    if p.ms.shape[0]:
        ms_phase = p.ms_base - f_out[:, p.ms_pre]
        ms_phase[:, :, 0] += 0.5 * core_neg[:, p.ms]
        out[:, p.ms_cols] = ms_phase
    ph = np.mod(out[:, p.phase_cols], 1.0)
    out[:, p.phase_cols] = np.where(ph >= 1.0, 0.0, ph)
    return out, f_out[:, p.last_run]
