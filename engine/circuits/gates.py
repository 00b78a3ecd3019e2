"""The gate set: which gates exist, their qubit arity, their parameter, and their exact matrices.

QIS rotations take radians; native gates (GPI, GPI2, MS, ZZ) take turns, exactly as in
../shared/ionq/API_NOTES.md section 2. Two-qubit matrices are big-endian: targets[0] is the
most significant factor, as in Cirq and IonQ's documentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TAU = 2.0 * np.pi


@dataclass(frozen=True)
class GateSpec:
    """One gate: arity, parameters, and (native gates) its matrix from params (..., n_params) to (..., d, d)."""

    name: str
    gateset: str  # "qis" or "native"
    n_targets: int
    n_params: int
    param_field: str | None  # JSON field holding the parameter(s)
    controllable: bool = False
    matrix: Callable[[np.ndarray], np.ndarray] | None = None


QIS_GATES: dict[str, GateSpec] = {
    **{n: GateSpec(n, "qis", 1, 0, None, True) for n in ("x", "y", "z", "h", "s", "si", "v", "vi", "t", "ti", "not")},
    **{n: GateSpec(n, "qis", 1, 1, "rotation", True) for n in ("rx", "ry", "rz")},
    "cnot": GateSpec("cnot", "qis", 1, 0, None, True),
    "swap": GateSpec("swap", "qis", 2, 0, None, False),
    **{n: GateSpec(n, "qis", 2, 1, "rotation", False) for n in ("xx", "yy", "zz")},
}

_I2 = np.eye(2, dtype=np.complex128)
_X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
_Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
_Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)
_H = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2)
_V = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=np.complex128)

FIXED_1Q: dict[str, np.ndarray] = {
    "x": _X,
    "not": _X,
    "cnot": _X,
    "y": _Y,
    "z": _Z,
    "h": _H,
    "s": np.diag([1, 1j]).astype(np.complex128),
    "si": np.diag([1, -1j]).astype(np.complex128),
    "t": np.diag([1, np.exp(1j * np.pi / 4)]).astype(np.complex128),
    "ti": np.diag([1, np.exp(-1j * np.pi / 4)]).astype(np.complex128),
    "v": _V,
    "vi": _V.conj().T,
}

SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)


def rx(theta: np.ndarray) -> np.ndarray:
    """exp(-i theta X / 2), vectorized: theta shape (...,) gives (..., 2, 2)."""
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    out = np.empty(np.shape(theta) + (2, 2), dtype=np.complex128)
    out[..., 0, 0] = c
    out[..., 0, 1] = -1j * s
    out[..., 1, 0] = -1j * s
    out[..., 1, 1] = c
    return out


def ry(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    out = np.empty(np.shape(theta) + (2, 2), dtype=np.complex128)
    out[..., 0, 0] = c
    out[..., 0, 1] = -s
    out[..., 1, 0] = s
    out[..., 1, 1] = c
    return out


def rz(theta: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(theta) + (2, 2), dtype=np.complex128)
    out[..., 0, 0] = np.exp(-0.5j * theta)
    out[..., 1, 1] = np.exp(0.5j * theta)
    return out


def gpi(phase: np.ndarray) -> np.ndarray:
    """GPI(phi) = [[0, e^{-i 2 pi phi}], [e^{i 2 pi phi}, 0]], phi in turns."""
    e = np.exp(1j * TAU * np.asarray(phase, dtype=np.float64))
    out = np.zeros(np.shape(phase) + (2, 2), dtype=np.complex128)
    out[..., 0, 1] = np.conj(e)
    out[..., 1, 0] = e
    return out


def gpi2(phase: np.ndarray) -> np.ndarray:
    """GPI2(phi) = 1/sqrt2 [[1, -i e^{-i 2 pi phi}], [-i e^{i 2 pi phi}, 1]], phi in turns."""
    e = np.exp(1j * TAU * np.asarray(phase, dtype=np.float64))
    out = np.empty(np.shape(phase) + (2, 2), dtype=np.complex128)
    r = 1 / np.sqrt(2)
    out[..., 0, 0] = r
    out[..., 0, 1] = -1j * np.conj(e) * r
    out[..., 1, 0] = -1j * e * r
    out[..., 1, 1] = r
    return out


def ms(phi0: np.ndarray, phi1: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """MS(phi0, phi1, theta) = exp(-i pi theta sigma(phi0) (x) sigma(phi1)), all in turns."""
    phi0, phi1, angle = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (phi0, phi1, angle)))
    c, s = np.cos(np.pi * angle), np.sin(np.pi * angle)
    out = np.zeros(phi0.shape + (4, 4), dtype=np.complex128)
    psum = np.exp(1j * TAU * (phi0 + phi1))
    pdiff = np.exp(1j * TAU * (phi0 - phi1))
    for k in range(4):
        out[..., k, k] = c
    out[..., 0, 3] = -1j * s * np.conj(psum)
    out[..., 1, 2] = -1j * s * np.conj(pdiff)
    out[..., 2, 1] = -1j * s * pdiff
    out[..., 3, 0] = -1j * s * psum
    return out


def zz_diag_turns(angle: np.ndarray) -> np.ndarray:
    """Diagonal of native ZZ(theta) = exp(-i pi theta Z(x)Z), theta in turns: shape (..., 4)."""
    a = np.asarray(angle, dtype=np.float64)
    m, p = np.exp(-1j * np.pi * a), np.exp(1j * np.pi * a)
    return np.stack([m, p, p, m], axis=-1)


def zz(angle: np.ndarray) -> np.ndarray:
    """Native ZZ(theta) = exp(-i pi theta Z(x)Z), theta in turns: shape (..., 4, 4)."""
    d = zz_diag_turns(angle)
    out = np.zeros(d.shape[:-1] + (4, 4), dtype=np.complex128)
    for k in range(4):
        out[..., k, k] = d[..., k]
    return out


# The native gates, defined here once with their matrices (API_NOTES section 2); everything else uses these.
NATIVE_GATES: dict[str, GateSpec] = {
    "gpi": GateSpec("gpi", "native", 1, 1, "phase", matrix=lambda p: gpi(p[..., 0])),
    "gpi2": GateSpec("gpi2", "native", 1, 1, "phase", matrix=lambda p: gpi2(p[..., 0])),
    "ms": GateSpec("ms", "native", 2, 3, "phases", matrix=lambda p: ms(p[..., 0], p[..., 1], p[..., 2])),  # (phi0, phi1, angle)
    "zz": GateSpec("zz", "native", 2, 1, "angle", matrix=lambda p: zz(p[..., 0])),
}


def spec(gateset: str, name: str) -> GateSpec:
    table = QIS_GATES if gateset == "qis" else NATIVE_GATES
    return table[name]


def native_matrix(name: str, params: np.ndarray) -> np.ndarray:
    """The (..., d, d) matrix of a native gate; params has shape (..., n_params)."""
    m = NATIVE_GATES[name].matrix
    assert m is not None
    return m(np.asarray(params, dtype=np.float64))


def two_qubit_rotation(name: str, theta: np.ndarray) -> np.ndarray:
    """QIS xx / yy / zz: exp(-i theta/2 P(x)P), theta in radians, shape (..., 4, 4)."""
    theta = np.asarray(theta, dtype=np.float64)
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    out = np.zeros(theta.shape + (4, 4), dtype=np.complex128)
    if name == "zz":
        d = zz_diag_turns(theta / TAU)
        for k in range(4):
            out[..., k, k] = d[..., k]
        return out
    for k in range(4):
        out[..., k, k] = c
    # P(x)P for X is the anti-diagonal of ones; for Y it is [-1, 1, 1, -1] on the anti-diagonal.
    sign = (1, 1, 1, 1) if name == "xx" else (-1, 1, 1, -1)
    for k in range(4):
        out[..., k, 3 - k] = -1j * s * sign[k]
    return out


def one_qubit_matrix(gateset: str, name: str, params: np.ndarray) -> np.ndarray:
    """The (..., 2, 2) matrix of a one-qubit gate; params has shape (..., n_params)."""
    if gateset == "native":
        if NATIVE_GATES[name].n_targets != 1:
            raise KeyError(name)
        return native_matrix(name, params)
    if name == "rx":
        return rx(params[..., 0])
    if name == "ry":
        return ry(params[..., 0])
    if name == "rz":
        return rz(params[..., 0])
    return np.broadcast_to(FIXED_1Q[name], params.shape[:-1] + (2, 2))


def two_qubit_matrix(gateset: str, name: str, params: np.ndarray) -> np.ndarray:
    """The (..., 4, 4) big-endian matrix of a two-target gate."""
    if gateset == "native":
        if NATIVE_GATES[name].n_targets != 2:
            raise KeyError(name)
        return native_matrix(name, params)
    if name == "swap":
        return np.broadcast_to(SWAP, params.shape[:-1] + (4, 4))
    return two_qubit_rotation(name, params[..., 0])
