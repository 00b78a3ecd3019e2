"""Readout-error mitigation on probabilities: per-qubit confusion matrices, inverted as a tensor product.

Readout errors on trapped ions are close to independent per qubit, so the 2**n x 2**n confusion
matrix is the tensor product of n 2x2 ones, A_q = [[1 - p01, p10], [p01, 1 - p10]] (column = prepared
bit, row = read bit; p01 = P(read 1 | prepared 0), p10 = P(read 0 | prepared 1)). Its inverse is the
tensor product of the 2x2 inverses, applied axis by axis in O(n 2**n) per row, never building the big
matrix. The inverse can leave small negative entries (shot noise), so every row is projected back onto
the probability simplex: the closest probability vector in Euclidean distance (Duchi et al. 2008).

The per-qubit figures come from two calibration circuits (every qubit prepared in 0, and every qubit
flipped to 1: one pass reads every qubit's two error rates at once), or from a characterization's
SPAM fidelity (a symmetric p01 = p10 = 1 - spam). Keys are little-endian: qubit i is bit 2**i.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .backends.base import Backend, ExecutionResult
from .circuits.template import CircuitBatch, Template, TemplateBuilder
from .sim.measure import n_qubits_of

FloatArray = NDArray[np.float64]


class MitigationError(ValueError):
    """A calibration that cannot be used (wrong size, or an error rate that makes A singular)."""


@dataclass(frozen=True)
class ReadoutCalibration:
    """Per-qubit readout error rates and where they come from."""

    p01: tuple[float, ...]  # P(read 1 | prepared 0), per qubit
    p10: tuple[float, ...]  # P(read 0 | prepared 1), per qubit
    source: str  # "calibration circuits (N shots)" or "characterization <id>: spam median ..."

    def __post_init__(self) -> None:
        if len(self.p01) != len(self.p10) or not self.p01:
            raise MitigationError(f"p01 and p10 need one rate per qubit, got {len(self.p01)} and {len(self.p10)}")
        for q, (a, b) in enumerate(zip(self.p01, self.p10)):
            if not (0.0 <= a < 1.0 and 0.0 <= b < 1.0) or a + b >= 1.0:
                raise MitigationError(f"qubit {q}: readout error rates p01={a:.4g}, p10={b:.4g} leave no signal "
                                      "(need p01 + p10 < 1)")

    @property
    def n_qubits(self) -> int:
        return len(self.p01)

    def inverse_matrices(self) -> FloatArray:
        """(n, 2, 2): the inverse of each qubit's confusion matrix."""
        a = np.asarray(self.p01, dtype=np.float64)
        b = np.asarray(self.p10, dtype=np.float64)
        det = 1.0 - a - b
        inv = np.empty((self.n_qubits, 2, 2))
        inv[:, 0, 0] = (1.0 - b) / det
        inv[:, 0, 1] = -b / det
        inv[:, 1, 0] = -a / det
        inv[:, 1, 1] = (1.0 - a) / det
        return inv


def calibration_template(n_qubits: int) -> Template:
    """The two calibration circuits as one template: RX(pi * x) on every qubit, x = 0 or 1."""
    b = TemplateBuilder(n_qubits, n_inputs=1)
    for q in range(n_qubits):
        b.gate("rx", q, angles=(b.input(0, np.pi),))
    return b.build()


def calibration_batch(n_qubits: int) -> CircuitBatch:
    """Row 0 prepares |0...0>, row 1 prepares |1...1>."""
    t = calibration_template(n_qubits)
    return CircuitBatch(t, np.zeros((2, t.n_trainable)), np.array([[0.0], [1.0]]))


def _marginal_one(probs: FloatArray) -> FloatArray:
    """(B, n): P(qubit q reads 1) for every row."""
    n = n_qubits_of(probs)
    keys = np.arange(probs.shape[1])
    bits = (keys[:, None] >> np.arange(n)[None, :]) & 1
    return np.asarray(probs @ bits, dtype=np.float64)


def calibrate(probs: FloatArray, shots: int) -> ReadoutCalibration:
    """Per-qubit rates from the measured distributions of `calibration_batch` (rows |0..0>, |1..1>)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != 2:
        raise MitigationError(f"calibration needs the 2 rows of calibration_batch, got shape {probs.shape}")
    ones = _marginal_one(probs)
    return ReadoutCalibration(tuple(float(v) for v in ones[0]), tuple(float(1.0 - v) for v in ones[1]),
                              f"calibration circuits ({shots} shots each)")


def from_spam_fidelity(spam: float, n_qubits: int, source: str) -> ReadoutCalibration:
    """A symmetric calibration from a SPAM fidelity (a characterization's `fidelity.spam.median`)."""
    if not 0.5 < spam <= 1.0:
        raise MitigationError(f"fidelity.spam.median must be in (0.5, 1] (at 0.5 a reading says nothing), got {spam}")
    e = 1.0 - spam
    return ReadoutCalibration((e,) * n_qubits, (e,) * n_qubits, source)


def project_to_simplex(rows: FloatArray) -> FloatArray:
    """The closest probability vector (Euclidean) to each row: sort, find the threshold, clip."""
    v = np.asarray(rows, dtype=np.float64)
    u = -np.sort(-v, axis=1)
    css = np.cumsum(u, axis=1) - 1.0
    k = np.arange(1, v.shape[1] + 1, dtype=np.float64)
    cond = u - css / k > 0
    rho = v.shape[1] - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = css[np.arange(v.shape[0]), rho] / (rho + 1.0)
    return np.asarray(np.maximum(v - theta[:, None], 0.0), dtype=np.float64)


def mitigate(probs: FloatArray, calibration: ReadoutCalibration) -> FloatArray:
    """Readout-mitigated distributions (B, 2**n): the tensored inverse, then back onto the simplex."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise MitigationError(f"probabilities must be (B, 2**n), got shape {probs.shape}")
    n = n_qubits_of(probs)
    if n != calibration.n_qubits:
        raise MitigationError(f"the calibration covers {calibration.n_qubits} qubits, the results {n}")
    inv = calibration.inverse_matrices()
    # Little-endian key k: in C order the axes of (B, 2, ..., 2) are bits n-1 .. 0, so qubit q is axis n - q.
    cube = probs.reshape((probs.shape[0],) + (2,) * n)
    for q in range(n):
        cube = np.moveaxis(np.tensordot(inv[q], cube, axes=([1], [n - q])), 0, n - q)
    return project_to_simplex(cube.reshape(probs.shape))


class ReadoutMitigatedBackend:
    """Any Backend with readout-error mitigation applied to its probabilities.

    The calibration is measured once per qubit count with `calibration_batch` on the same backend (same
    shots), unless one is given (e.g. from a characterization's SPAM figure). Counts stay what was
    measured; only the probabilities are mitigated, so a report can always show the raw data.
    """

    def __init__(self, inner: Backend, *, calibration: ReadoutCalibration | None = None,
                 calibration_shots: int = 10_000):
        if calibration_shots < 1:
            raise MitigationError(f"calibration_shots must be >= 1, got {calibration_shots}")
        self.inner = inner
        self.name = f"{inner.name}+readout-mitigation"
        self.limits = inner.limits
        self.calibration_shots = calibration_shots
        self._given = calibration
        self.calibrations: dict[int, ReadoutCalibration] = {}

    def __getattr__(self, name: str) -> object:
        """Everything else (client, on_job_update, cancel_all, in_flight...) is the inner backend's."""
        return getattr(self.inner, name)

    async def calibration_for(self, n_qubits: int, seed: int | None = None) -> ReadoutCalibration:
        if n_qubits not in self.calibrations:
            if self._given is not None:
                if self._given.n_qubits < n_qubits:
                    raise MitigationError(f"the calibration covers {self._given.n_qubits} qubits, "
                                          f"the circuits {n_qubits}")
                given = self._given
                self.calibrations[n_qubits] = ReadoutCalibration(given.p01[:n_qubits], given.p10[:n_qubits],
                                                                 given.source)
            else:
                res = await self.inner.run(calibration_batch(n_qubits), shots=self.calibration_shots, seed=seed)
                self.calibrations[n_qubits] = calibrate(res.probabilities, self.calibration_shots)
        return self.calibrations[n_qubits]

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        cal = await self.calibration_for(batch.template.n_qubits, seed)
        res = await self.inner.run(batch, shots=shots, seed=seed)
        mitigated = await asyncio.to_thread(mitigate, res.probabilities, cal)
        return ExecutionResult(mitigated, res.counts, res.shots, res.timings, res.job_ids)

    async def close(self) -> None:
        await self.inner.close()
