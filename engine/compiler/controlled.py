"""Multi-controlled one-qubit gates C^k-U as cores and factors: cheap cases first, then the cheapest construction.

A core exp(-i pi t A (x) B) is one MS or ZZ whatever t is, so a controlled-V costs one two-qubit gate for any V.

Before decomposing, a constant U (a fixed gate, a bound angle, or a template angle that is a constant) is
classified on its entries with tolerance `ATOL` (1e-10: the operation moves by at most that much, so the
process fidelity stays within 1e-18 of the exact one, far inside the 1e-12 the issue asks for):
- U = I (rx(0), rx(4 pi), ...): the gate vanishes;
- U = e^{i b} I (rx(2 pi) = -I, ...): it is the phase diag(1, e^{i b}) on the last control, controlled by the
  others: with one control a frame update (no pulse at all), with k controls C^{k-1}-P(b), one control fewer.
A diagonal U (rz, z, s, t, controlled phases) needs nothing special: its axis is z, so its cores are Z (x) Z on
the target (a bare ZZ on Forte), and it costs the same entanglers as any other U; with two controls five is the
minimum even for a diagonal (CCZ is locally a Toffoli, which needs five two-qubit gates: Yu et al. 2013).

Otherwise every construction below is exact for any U (constant or parametric) and the one with the fewest
cores for k is kept (`choose`); with k controls they cost:

| k | recursive, Barenco et al. 1995 lemma 7.5 | Gray code, lemma 7.1 | kept                           |
|---|------------------------------------------|----------------------|--------------------------------|
| 1 | 1                                        | 1                    | one core (CNOT, CZ, C-RX: 1)   |
| 2 | 5                                        | 5                    | recursive (Toffoli: 5, optimal)|
| 3 | 2 + 2*5 + 5 = 17                         | 7 + 6 = 13           | Gray code: 13                  |
| 4 | 2 + 2*13 + 13 = 41                       | 15 + 14 = 29         | Gray code: 29                  |

- recursive (lemma 7.5): C^k U = C-V (last control) . C^{k-1}X (onto the last control) . C-V^dagger .
  C^{k-1}X . C^{k-1}-V, with V^2 = U; the inner C^{k-1} gates use the cheapest construction in turn.
- Gray code (lemma 7.1): for every non-empty subset S of the controls, in Gray-code order, one C-V^{+-1}
  (V^{2^{k-1}} = U, sign (-1)^{|S|-1}) controlled by the parity of S, which the highest control of S holds at
  that moment; moving from one subset to the next costs one CNOT between controls (2^k - 2 of them), and
  the controls end as they began. It works because sum_S (-1)^{|S|-1} parity_S(x) = 2^{k-1} x_1 ... x_k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .abstract import Affine, Core, Factor, Fixed, rot
from .onequbit import Axis, rotation

Z_AXIS: Axis = (0.0, 0.0, 1.0)
X_AXIS: Axis = (1.0, 0.0, 0.0)
ATOL = 1e-10

FactorEvent = tuple[str, int, Factor]  # ("f", wire, factor)
CoreEvent = tuple[str, Core]  # ("c", core)
SwapEvent = tuple[str, int, int]  # ("swap", a, b)
Event = FactorEvent | CoreEvent | SwapEvent


@dataclass(frozen=True)
class Local:
    """e^{i alpha} R_n(theta): a one-qubit gate as phase, axis and (possibly parametric) angle."""

    alpha: float
    axis: Axis
    theta: Affine

    def power(self, p: float) -> "Local":
        """U^p on the same axis (V = U^(1/2) has V^2 = U; p = -1/2 gives V^dagger)."""
        return Local(p * self.alpha, self.axis, self.theta.scale(p))

    def matrix(self) -> np.ndarray | None:
        """The 2x2 matrix when the angle is a constant, else None."""
        if not self.theta.is_const:
            return None
        m: np.ndarray = complex(np.cos(self.alpha), np.sin(self.alpha)) * rotation(self.axis, self.theta.const)
        return m


X_LOCAL = Local(np.pi / 2, X_AXIS, Affine((), np.pi))  # X = i RX(pi)


def identity_phase(u: np.ndarray) -> float | None:
    """b when u = e^{i b} I within ATOL (b in (-pi, pi], 0 for the identity); None otherwise."""
    if abs(u[0, 1]) > ATOL or abs(u[1, 0]) > ATOL or abs(u[0, 0] - u[1, 1]) > ATOL:
        return None
    b = float(np.angle(u[0, 0]))
    return 0.0 if abs(b) < ATOL else b


def one_control(c: int, t: int, u: Local) -> list[Event]:
    """C-U with one core: exp(-i pi t Z (x) n) with t = -theta/(4 pi), then R_n(theta/2) and the phase."""
    return [
        ("c", Core(c, t, Z_AXIS, u.axis, u.theta.scale(-1 / (4 * np.pi)))),
        ("f", t, rot(u.axis, u.theta.scale(0.5))),
        ("f", c, Fixed(np.diag([1, np.exp(1j * u.alpha)]).astype(np.complex128))),
    ]


def recursive(controls: tuple[int, ...], t: int, u: Local) -> list[Event]:
    """Lemma 7.5 (see the module docstring): 2 + 2 C^{k-1}X + one C^{k-1}-V."""
    rest, last = controls[:-1], controls[-1]
    v, vd = u.power(0.5), u.power(-0.5)
    return (plan((last,), t, v) + plan(rest, last, X_LOCAL) + plan((last,), t, vd) + plan(rest, last, X_LOCAL)
            + plan(rest, t, v))


def gray_code(controls: tuple[int, ...], t: int, u: Local) -> list[Event]:
    """Lemma 7.1 (see the module docstring): 2^k - 1 controlled V^{+-1} and 2^k - 2 CNOTs between controls."""
    k = len(controls)
    v, vd = u.power(2.0 ** (1 - k)), u.power(-(2.0 ** (1 - k)))
    held = [1 << i for i in range(k)]  # the subset of controls whose parity each control wire holds
    events: list[Event] = []
    for i in range(1, 2 ** k):
        g = i ^ (i >> 1)
        w = g.bit_length() - 1
        delta = held[w] ^ g
        if delta:
            b = delta.bit_length() - 1
            assert delta == 1 << b and held[b] == delta, "Gray code steps flip one bit, from a pristine wire"
            events += one_control(controls[b], controls[w], X_LOCAL)
            held[w] ^= delta
        events += one_control(controls[w], t, v if bin(g).count("1") % 2 else vd)
    return events


def recursive_cores(k: int) -> int:
    """Cores of lemma 7.5 for a U that is not a multiple of the identity: 2 + 3 times the best for k - 1."""
    return 1 if k == 1 else 2 + 3 * best_cores(k - 1)


def gray_code_cores(k: int) -> int:
    """Cores of lemma 7.1: 2^k - 1 controlled V^{+-1} and 2^k - 2 CNOTs."""
    return (1 << (k + 1)) - 3


@dataclass(frozen=True)
class Construction:
    """A way to build C^k-U, and how many cores it takes with k controls (exact for U not a multiple of I:
    then no V in it is a multiple of I either, so none of its cores can vanish)."""

    name: str
    build: Callable[[tuple[int, ...], int, Local], list[Event]]
    cores: Callable[[int], int]


CONSTRUCTIONS = (Construction("recursive", recursive, recursive_cores),
                 Construction("gray code", gray_code, gray_code_cores))


def choose(k: int) -> Construction:
    """The construction with the fewest cores for k controls; ties go to the first listed (recursive)."""
    return min(CONSTRUCTIONS, key=lambda c: c.cores(k))


def best_cores(k: int) -> int:
    return choose(k).cores(k)


def core_count(events: list[Event]) -> int:
    """Cores among the events that survive simplification (a constant multiple of 1/2 turn is no gate)."""
    n = 0
    for ev in events:
        if ev[0] == "c":
            core = ev[1]
            assert isinstance(core, Core)
            if not core.turns.is_const or abs(2 * core.turns.const - round(2 * core.turns.const)) > 1e-12:
                n += 1
    return n


def plan(controls: tuple[int, ...], t: int, u: Local) -> list[Event]:
    """C^k-U (k = len(controls) >= 0) as events in time order, with the fewest cores we know of."""
    if not controls:
        return [("f", t, rot(u.axis, u.theta))]  # e^{i alpha} is a global phase here
    m = u.matrix()
    if m is not None:
        b = identity_phase(m)
        if b == 0.0:
            return []
        if b is not None:
            *rest, last = controls
            if not rest:
                return [("f", last, Fixed(np.diag([1, np.exp(1j * b)]).astype(np.complex128)))]
            # diag(1, e^{ib}) = e^{ib/2} RZ(b) on the last control, controlled by the others
            return plan(tuple(rest), last, Local(b / 2, Z_AXIS, Affine((), b)))
    if len(controls) == 1:
        return one_control(controls[0], t, u)
    return choose(len(controls)).build(controls, t, u)
