"""The compiler's intermediate form, between qis gates and native pulses.

A circuit is one-qubit *factors* on wires and two-qubit *cores* exp(-i pi t A (x) B), where A and B
are Pauli axes (unit 3-vectors) and t is in turns. Every qis gate lowers to this form exactly (see
twoqubit.py); fusion works on it; each target then maps a core to MS or ZZ with a basis change W.
Angles are `Affine` in the source template's slots (trainable, then input), so a parametrized template
compiles once, and angles that cancel symbolically (rx(t) rx(-t)) cancel at compile time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .onequbit import Axis, axis_matrix, rotation


@dataclass(frozen=True)
class Affine:
    """const + sum(coef * slot) over the source template's slots: trainable j is j, input i is P + i."""

    terms: tuple[tuple[int, float], ...] = ()
    const: float = 0.0

    @property
    def is_const(self) -> bool:
        return not self.terms

    def __add__(self, other: "Affine") -> "Affine":
        acc = dict(self.terms)
        for k, c in other.terms:
            acc[k] = acc.get(k, 0.0) + c
        return Affine(tuple((k, c) for k, c in sorted(acc.items()) if abs(c) > 1e-15), self.const + other.const)

    def scale(self, s: float) -> "Affine":
        return Affine(tuple((k, c * s) for k, c in self.terms), self.const * s)


@dataclass(frozen=True)
class Fixed:
    """A constant 2x2 unitary."""

    m: np.ndarray


@dataclass(frozen=True)
class Rot:
    """exp(-i a/2 n . sigma) with a parametric angle a (radians)."""

    axis: Axis
    angle: Affine


@dataclass(frozen=True)
class Cond:
    """exp(-i pi s/2 n . sigma) where s in {0, 1} is a flag of a parametric core, known only at bind time."""

    axis: Axis
    core: int
    flag: str  # "fold" or "sign"


Factor = Fixed | Rot | Cond


@dataclass
class Core:
    """exp(-i pi t A (x) B) on wires (a, b)."""

    a: int
    b: int
    axis_a: Axis
    axis_b: Axis
    turns: Affine


def rot(axis: Axis, angle: Affine) -> Factor:
    """A rotation factor, folded to a fixed matrix when its angle is constant."""
    if angle.is_const:
        return Fixed(rotation(axis, angle.const))
    return Rot(axis, angle)


def pauli(axis: Axis) -> Fixed:
    return Fixed(axis_matrix(axis))


def append_factor(seq: list[Factor], f: Factor, fuse: bool) -> None:
    """Append, multiplying into the last factor when both are fixed or rotate about the same axis."""
    if fuse and seq:
        last = seq[-1]
        if isinstance(last, Fixed) and isinstance(f, Fixed):
            seq[-1] = Fixed(f.m @ last.m)
            return
        if isinstance(last, Rot) and isinstance(f, Rot) and last.axis == f.axis:
            seq.pop()
            merged = rot(f.axis, last.angle + f.angle)
            append_factor(seq, merged, fuse)
            return
    seq.append(f)
