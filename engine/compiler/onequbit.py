"""One-qubit algebra for the compiler: Bloch axes, the pulse class of a run, and vectorized synthesis.

With virtual Z, left and right diagonal factors of a run are free (frame updates), so the pulses a
run needs depend only on |U00|: 1 -> none, 0 -> one GPI, 1/sqrt2 -> one GPI2, anything else -> two
GPI2 (U = RZ(phi+pi) GPI2(0) RZ(theta+pi) GPI2(0) RZ(lam), API_NOTES 2.1). Synthesis is frame-free:
a run U becomes RZ(2 pi gamma) . pulses(phases), gamma and phases in turns; an incoming frame f shifts
every phase by -f and the outgoing frame by +f (G(p) RZ(t) = RZ(t) G(p - t/2pi)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ..circuits.gates import TAU

TOL = 1e-9

# Pulse classes of a run, and the pulses each one costs.
DIAG, GPI, GPI2, GENERAL = range(4)
PULSES = (0, 1, 1, 2)
PULSE_NAMES = ((), ("gpi",), ("gpi2",), ("gpi2", "gpi2"))

Axis = tuple[float, float, float]


def axis_matrix(n: Sequence[float]) -> np.ndarray:
    """n . sigma."""
    x, y, z = (float(v) for v in n)
    return np.array([[z, complex(x, -y)], [complex(x, y), -z]], dtype=np.complex128)


def reduce_rotation_angle(angle: float, roots: int = 0) -> float:
    """`angle` modulo 4 pi 2**roots, exact for any finite float: the period of exp(-i angle/2 n . sigma) and of its
    2**roots-th root, so whoever takes that root of the reduced gate gets the same matrix as from the given one.

    Scaling radians to turns first rounds away the whole angle at 1e17 rad; math.fmod by the float 4 pi is off by
    (angle / 4 pi) times its rounding error (4 rad at 1e17). libm's sin and cos reduce their argument by pi to full
    precision, as `rotation` relies on, so the angle they give back is exact. An angle within half a period is kept.
    """
    m = 2.0 ** (roots + 1)
    if abs(angle) <= m * math.pi:
        return angle
    return m * math.atan2(math.sin(angle / m), math.cos(angle / m))


def rotation(n: Sequence[float], angle: float) -> np.ndarray:
    """exp(-i angle/2 n . sigma)."""
    x, y, z = (float(v) for v in n)
    c, s = math.cos(angle / 2), math.sin(angle / 2)
    return np.array([[complex(c, -s * z), complex(-s * y, -s * x)], [complex(s * y, -s * x), complex(c, s * z)]],
                    dtype=np.complex128)


def bloch(h: np.ndarray) -> np.ndarray:
    """The real 3-vector v of a traceless Hermitian 2x2 matrix h = v . sigma."""
    return np.array([(h[0, 1] + h[1, 0]).real / 2, (h[1, 0] - h[0, 1]).imag / 2, (h[0, 0] - h[1, 1]).real / 2])


def conj_axis(u: np.ndarray, n: Sequence[float]) -> np.ndarray:
    """The axis m with u (n . sigma) u^dagger = m . sigma."""
    return bloch(u @ axis_matrix(n) @ u.conj().T)


def parallel(u: Sequence[float], v: Sequence[float]) -> int:
    """+1 or -1 when the unit vectors are (anti)parallel (to 1e-12 rad), else 0."""
    if np.linalg.norm(np.cross(u, v)) > 1e-12:
        return 0
    return 1 if float(np.dot(u, v)) > 0 else -1


def phase_axis_angle(u: np.ndarray) -> tuple[float, Axis, float]:
    """(alpha, n, theta) with u = e^{i alpha} exp(-i theta/2 n . sigma); n = z when u is a phase."""
    det = u[0, 0] * u[1, 1] - u[0, 1] * u[1, 0]
    alpha = float(np.angle(det)) / 2
    v = u * np.exp(-1j * alpha)
    c = (v[0, 0] + v[1, 1]).real / 2
    sn = np.array([-(v[0, 1] + v[1, 0]).imag / 2, (v[1, 0] - v[0, 1]).real / 2, -(v[0, 0] - v[1, 1]).imag / 2])
    s = float(np.linalg.norm(sn))
    theta = 2 * float(np.arctan2(s, c))
    n: Axis = (float(sn[0] / s), float(sn[1] / s), float(sn[2] / s)) if s > 1e-12 else (0.0, 0.0, 1.0)
    return alpha, n, theta


@lru_cache(maxsize=4096)
def _frame_to(n: Axis) -> np.ndarray:
    theta = math.acos(min(1.0, max(-1.0, n[2])))
    phi = math.atan2(n[1], n[0])
    k = rotation((0, 0, 1), phi) @ rotation((0, 1, 0), theta)
    k.setflags(write=False)
    return k


@lru_cache(maxsize=4096)
def _frame_from(n: Axis) -> np.ndarray:
    k = _frame_to(n).conj().T.copy()
    k.setflags(write=False)
    return k


def frame_to(n: Sequence[float]) -> np.ndarray:
    """A unitary K with K Z K^dagger = n . sigma: RZ(phi) RY(theta) for n at polar theta, azimuth phi."""
    return _frame_to(tuple(float(v) for v in n))


def frame_from(n: Sequence[float]) -> np.ndarray:
    """K^dagger: maps n . sigma to Z."""
    return _frame_from(tuple(float(v) for v in n))


def monomial(u: np.ndarray) -> str | None:
    """'D' for diagonal, 'A' for anti-diagonal, None otherwise."""
    if abs(u[0, 1]) < TOL and abs(u[1, 0]) < TOL:
        return "D"
    if abs(u[0, 0]) < TOL and abs(u[1, 1]) < TOL:
        return "A"
    return None


def matrix_class(u: np.ndarray) -> int:
    """The pulse class of a fixed run."""
    m = monomial(u)
    if m is not None:
        return DIAG if m == "D" else GPI
    return GPI2 if abs(abs(u[0, 0]) - np.sqrt(0.5)) < TOL else GENERAL


class RunShape:
    """The pulse class of a run that holds for every parameter value, built factor by factor.

    Factors are fixed 2x2 matrices, or the kind of a parametric factor: "D" (diagonal for all values),
    "M" (identity or anti-diagonal, depending on the row) or "G" (anything). A run whose only
    non-monomial part is one fixed block keeps that block's |U00| class, since monomials on either
    side only permute or rephase entries; anything less structured needs the general form.
    Push in time order, or from the end with `front=True`; `copy` lets callers try alternatives.
    """

    __slots__ = ("general", "varying", "free", "nfree", "odd", "open")

    def __init__(self) -> None:
        self.general = self.varying = self.odd = False
        self.free: np.ndarray | None = None
        self.nfree = 0
        self.open: np.ndarray | None = None

    def copy(self) -> "RunShape":
        c = RunShape.__new__(RunShape)
        c.general, c.varying, c.odd, c.free, c.nfree, c.open = (
            self.general, self.varying, self.odd, self.free, self.nfree, self.open)
        return c

    def push(self, item: np.ndarray | str, front: bool = False) -> "RunShape":
        if isinstance(item, str):
            self._close()
            self.general |= item == "G"
            self.varying |= item == "M"
        elif self.open is None:
            self.open = item
        else:
            self.open = self.open @ item if front else item @ self.open
        return self

    def _close(self) -> None:
        if self.open is not None:
            shape = monomial(self.open)
            if shape is None:
                self.nfree += 1
                self.free = self.open
            elif shape == "A":
                self.odd = not self.odd
            self.open = None

    def result(self) -> int:
        st = self.copy()
        st._close()
        if st.general:
            return GENERAL
        if st.nfree == 0:
            return GENERAL if st.varying else (GPI if st.odd else DIAG)
        if st.nfree == 1 and st.free is not None and matrix_class(st.free) == GPI2:
            return GPI2
        return GENERAL


def run_class(items: Sequence[np.ndarray | str]) -> int:
    """The pulse class of a run given in time order (see `RunShape`)."""
    shape = RunShape()
    for it in items:
        shape.push(it)
    return shape.result()


def synthesize(u: np.ndarray, cls: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame-free synthesis of runs u (..., 2, 2) of one class.

    Returns (gamma, phases): u = e^{i a} RZ(2 pi gamma) . P_k ... P_1 with P_j of phase phases[..., j-1]
    (time order), all in turns. Correct for every row whose |U00| matches the class.
    """
    return synthesize_parts(u[..., 0, 0], u[..., 0, 1], u[..., 1, 0], u[..., 1, 1], cls)


def synthesize_parts(u00: np.ndarray, u01: np.ndarray, u10: np.ndarray, u11: np.ndarray,
                     cls: int) -> tuple[np.ndarray, np.ndarray]:
    """`synthesize` on the four entries of the runs, each of shape (...)."""
    if cls == DIAG:
        return (np.angle(u11) - np.angle(u00)) / TAU, np.empty(np.shape(u00) + (0,))
    if cls == GPI:
        phase = (np.angle(u10) - np.angle(u01)) / (2 * TAU)
        return np.zeros(np.shape(u00)), phase[..., None]
    if cls == GPI2:
        gamma = (np.angle(u11) - np.angle(u00)) / TAU
        phase = (np.angle(u10) - np.angle(u11)) / TAU + 0.25
        return gamma, phase[..., None]
    half = 0.5 * np.angle(u00 * u11 - u01 * u10)
    a00 = np.angle(u00) - half
    a10 = np.angle(u10) - half
    theta = 2 * np.arctan2(np.abs(u10), np.abs(u00))
    phi = a10 - a00
    lam = -a00 - a10
    phases = np.stack([-lam / TAU, -(theta + np.pi + lam) / TAU], axis=-1)
    return (phi + theta + lam) / TAU, phases
