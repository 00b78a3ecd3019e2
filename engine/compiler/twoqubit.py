"""Lowering qis gates to factors and cores, and mapping a core to a target's native entangler.

Every controlled one-qubit gate is one core: write U = e^{i alpha} R_n(theta) (any U is a rotation
times a phase); then C-U = P_c(alpha) . R_n,t(theta/2) . exp(+i theta/4 Z_c (x) n_t), all commuting.
CNOT is the case U = X (one MS or ZZ); CZ, CRZ, controlled phases are one core each. More controls:
controlled.py (special angles recognised first, then the cheapest construction; Toffoli: five cores).

A core exp(-i pi t A (x) B) becomes W^dagger . N . W per wire, with W A W^dagger a native axis:
- Forte: N = ZZ, W maps A to z (unique up to frames, so it costs nothing to fix it);
- Aria: N = MS(phi_a, phi_b), W maps A into the XY plane. W = J K_A^dagger with K_A Z K_A^dagger = A
  and any J with |J00| = 1/sqrt2; the compiler chooses J to cancel pulses of the neighbouring runs.
The angle is normalized in the native frame: MS needs 0 <= t <= 0.25 (a sign goes into phi_0 + 0.5;
|t| > 0.25 folds by 0.5 with a Pauli sigma(phi_a) (x) sigma(phi_b)); ZZ needs 0 <= t <= 0.25 (folding
by 0.5 leaves Z (x) Z, i.e. frames; a sign is a GPI sandwich X . ZZ(|t|) . X on wire a). A
parametric angle is normalized at bind time, row by row; a row whose angle is a multiple of 1/2 gets
angle 0 (the gate is idle there: a fixed gate structure cannot drop it for one row only).
"""

from __future__ import annotations

import cmath
import numpy as np

from ..circuits.gates import FIXED_1Q, gpi, gpi2
from ..circuits.template import Op
from .abstract import Affine, Core, Fixed, rot
from .controlled import Event, Local, plan
from .onequbit import Axis, frame_from, frame_to, phase_axis_angle

TARGETS = ("aria", "forte")
MAX_CONTROLS = 4
X_AXIS: Axis = (1.0, 0.0, 0.0)
Y_AXIS: Axis = (0.0, 1.0, 0.0)
Z_AXIS: Axis = (0.0, 0.0, 1.0)
ROTATION_AXES = {"rx": X_AXIS, "ry": Y_AXIS, "rz": Z_AXIS}
PAIR_AXES = {"xx": X_AXIS, "yy": Y_AXIS, "zz": Z_AXIS}



def local_of(name: str, angle: Affine | None) -> Local:
    """A controllable qis gate as e^{i alpha} R_n(theta); `angle` is its rotation (None for fixed gates)."""
    if name in ROTATION_AXES:
        assert angle is not None
        return Local(0.0, ROTATION_AXES[name], angle)
    alpha, n, theta = phase_axis_angle(FIXED_1Q[name])
    return Local(alpha, n, Affine((), theta))


def _table(phases: tuple[float, ...], kinds: str) -> list[np.ndarray]:
    return [(gpi2 if k == "2" else gpi)(np.array(p)) for p, k in zip(phases, kinds)]


# The textbook CNOT pulses of API_NOTES 2.1 (cirq-ionq's sequences), control c, target t.
_ARIA_CNOT = _table((0.25, 0.5, 0.5, -0.25), "2222")
_FORTE_CNOT = _table((0.0, -0.125, 0.5, 0.75, 0.125, 0.5, 1.25, 0.5, 0.5), "212212212")


_X = local_of("x", None)


def naive_cnot(c: int, t: int, target: str) -> list[Event]:
    """The textbook CNOT, pulse by pulse (used by the gate-by-gate translation)."""
    events: list[Event]
    if target == "aria":
        m = _ARIA_CNOT
        events = [("f", c, Fixed(m[0])), ("c", Core(c, t, X_AXIS, X_AXIS, Affine((), 0.25))),
                  ("f", t, Fixed(m[1])), ("f", c, Fixed(m[2])), ("f", c, Fixed(m[3]))]
        return events
    m = _FORTE_CNOT
    events = [("f", t, Fixed(x)) for x in m[:3]]
    events.append(("c", Core(c, t, Z_AXIS, Z_AXIS, Affine((), 0.25))))
    events += [("f", c, Fixed(x)) for x in m[3:6]]
    events += [("f", t, Fixed(x)) for x in m[6:]]
    return events


def lower_op(op: Op, angle: Affine | None, target: str, optimize: bool, keep_swaps: bool = False) -> list[Event]:
    """One validated qis op as events in time order. `angle` is its parameter (None for fixed gates).

    A SWAP relabels wires (no gate) unless `keep_swaps`: then it is three CNOTs on its own pair, for a backend
    whose coupling map a relabelling would break."""
    if op.name == "swap":
        a, b = op.targets
        if keep_swaps and optimize:
            return plan((a,), b, _X) + plan((b,), a, _X) + plan((a,), b, _X)
        if optimize:
            return [("swap", a, b)]
        return naive_cnot(a, b, target) + naive_cnot(b, a, target) + naive_cnot(a, b, target)
    if op.name in PAIR_AXES:
        assert angle is not None, op.name
        n = PAIR_AXES[op.name]
        return [("c", Core(op.targets[0], op.targets[1], n, n, angle.scale(1 / (2 * np.pi))))]
    t = op.targets[0]
    if not op.controls:
        if op.name in ROTATION_AXES:
            assert angle is not None, op.name
            return [("f", t, rot(ROTATION_AXES[op.name], angle))]
        return [("f", t, Fixed(FIXED_1Q[op.name]))]
    if not optimize and op.name == "cnot" and len(op.controls) == 1:
        return naive_cnot(op.controls[0], t, target)
    return plan(op.controls, t, local_of(op.name, angle))


def normalize_turns(target: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angle in [0, 0.25], fold flag, sign flag) for native angles t (any shape); see module docstring."""
    t = np.asarray(t, dtype=np.float64)
    if target == "aria":
        t1 = t - np.floor(t + 0.5)
        fold = np.abs(t1) > 0.25
        t2 = t1 - 0.5 * np.sign(t1) * fold
        return np.abs(t2), fold, t2 < 0
    t1 = 0.25 - np.mod(0.25 - t, 0.5)
    fold = np.mod(np.rint((t - t1) / 0.5), 2) == 1
    return np.abs(t1), fold, t1 < 0


def forte_basis(axis: Axis) -> np.ndarray:
    """W with W (axis . sigma) W^dagger = Z."""
    return frame_from(axis)


def aria_default(axis: Axis) -> np.ndarray:
    """The first choice of J (|J00| = 1/sqrt2): W = I when the axis is already in the XY plane, else GPI2(0)."""
    return frame_to(axis) if abs(axis[2]) < 1e-9 else _GPI2_0


_GPI2_0 = gpi2(np.array(0.0))
_GPI2_0.setflags(write=False)


def aria_basis(axis: Axis, j: np.ndarray) -> tuple[np.ndarray, float]:
    """(W, phi): W = J K^dagger maps the axis to sigma(phi), phi in turns."""
    w = j @ frame_from(axis)
    # J Z J^dagger = sigma(phi): its lower-left entry, c a* - d b*, is e^{i 2 pi phi}.
    a, b, c, d = complex(j[0, 0]), complex(j[0, 1]), complex(j[1, 0]), complex(j[1, 1])
    return w, cmath.phase(c * a.conjugate() - d * b.conjugate()) / (2 * np.pi)

