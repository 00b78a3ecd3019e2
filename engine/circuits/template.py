"""Parametrized circuit templates and circuit batches.

Every angle of a template is an affine expression `const + w . theta + v . x` over trainable
slots theta (P of them) and input slots x (D of them). Binding a batch is then one matmul:
angles[B, K] = const + params[B, P] @ W[P, K] + inputs[B, D] @ V[D, K]. The structure hash is
computed from the template itself (gates, wiring, which slots feed which angle, coefficients,
constants), never supplied by a caller.
"""

from __future__ import annotations

import hashlib
import math
import operator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import CircuitError
from .gates import spec
from .ir import Circuit, Gate
from .validate import validate_gate, validate_n_qubits


@dataclass(frozen=True)
class Op:
    """A gate of a template without numbers: name and wiring. Its parameters live in the table."""

    name: str
    targets: tuple[int, ...]
    controls: tuple[int, ...] = ()

    @property
    def qubits(self) -> tuple[int, ...]:
        return self.controls + self.targets


@dataclass(frozen=True)
class Angle:
    """An affine angle: const + sum(coef * theta[j]) + sum(coef * x[i])."""

    const: float = 0.0
    trainable: tuple[tuple[int, float], ...] = ()
    inputs: tuple[tuple[int, float], ...] = ()

    def __add__(self, other: "Angle | float") -> "Angle":
        if not isinstance(other, Angle):
            return Angle(self.const + float(other), self.trainable, self.inputs)
        return Angle(self.const + other.const, self.trainable + other.trainable, self.inputs + other.inputs)

    __radd__ = __add__

    def __mul__(self, k: float) -> "Angle":
        k = float(k)
        return Angle(self.const * k, tuple((j, c * k) for j, c in self.trainable), tuple((i, c * k) for i, c in self.inputs))

    __rmul__ = __mul__

    def __neg__(self) -> "Angle":
        return self * -1.0

    def __sub__(self, other: "Angle | float") -> "Angle":
        return self + (-other if isinstance(other, Angle) else -float(other))


@dataclass
class Template:
    """A circuit structure plus an affine parameter table (see module docstring)."""

    n_qubits: int
    ops: tuple[Op, ...]
    const: np.ndarray  # (K,)
    slot_weights: np.ndarray | None  # (P, K); None: one trainable slot per angle, the identity never materialized
    input_weights: np.ndarray  # (D, K)
    gateset: str = "qis"
    label: str | None = None
    param_offsets: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        offs, k = [], 0
        for op in self.ops:
            offs.append(k)
            k += spec(self.gateset, op.name).n_params
        self.param_offsets = tuple(offs)
        w = self.slot_weights
        if self.const.shape != (k,) or (w is not None and w.shape[1] != k) or self.input_weights.shape[1] != k:
            raise ValueError(f"parameter table has the wrong shape for {k} angles")

    @cached_property
    def weights(self) -> np.ndarray:
        """The (P, K) slot weights; an implicit identity is built only here, for the callers that read it."""
        return np.eye(self.n_angles) if self.slot_weights is None else self.slot_weights

    @property
    def n_trainable(self) -> int:
        return self.n_angles if self.slot_weights is None else self.slot_weights.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.input_weights.shape[0]

    @property
    def n_angles(self) -> int:
        return self.const.shape[0]

    @cached_property
    def structure_hash(self) -> str:
        """sha256 over everything but the bound values: gates, wiring, slot wiring, coefficients."""
        h = hashlib.sha256()
        h.update(f"{self.gateset}|{self.n_qubits}|{self.n_trainable}|{self.n_inputs}|".encode())
        for op in self.ops:
            h.update(f"{op.name}:{op.targets}:{op.controls};".encode())
        h.update(np.ascontiguousarray(self.const, dtype=np.float64).tobytes())
        w = self.slot_weights
        if w is None or is_identity(w):  # an explicit identity hashes as the implicit one: the same table
            h.update(b"identity;")
        else:
            h.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.input_weights, dtype=np.float64).tobytes())
        return h.hexdigest()

    @cached_property
    def ops_hash(self) -> str:
        """Hash of the gate structure alone; the simulator's plan depends only on this."""
        h = hashlib.sha256(f"{self.gateset}|{self.n_qubits}|".encode())
        for op in self.ops:
            h.update(f"{op.name}:{op.targets}:{op.controls};".encode())
        return h.hexdigest()

    def check_shapes(self, params: np.ndarray, inputs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Coerce to float64 (B, P) and (B, D) arrays, or raise naming the mismatch."""
        params = np.asarray(params, dtype=np.float64)
        if params.ndim == 1:
            params = params[None, :]
        b = params.shape[0]
        if params.shape[1] != self.n_trainable:
            raise ValueError(f"params has {params.shape[1]} columns; the template has {self.n_trainable} trainable slots")
        if inputs is None:
            inputs = np.zeros((b, self.n_inputs))
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim == 1:
            inputs = inputs[None, :]
        if inputs.shape != (b, self.n_inputs):
            raise ValueError(f"inputs has shape {inputs.shape}; expected ({b}, {self.n_inputs})")
        if not (np.isfinite(params).all() and np.isfinite(inputs).all()):
            raise ValueError("params and inputs must be finite")
        return params, inputs

    def bind_angles(self, params: np.ndarray, inputs: np.ndarray | None = None) -> np.ndarray:
        """The (B, K) angle matrix: one matmul per slot kind, no per-circuit work."""
        params, inputs = self.check_shapes(params, inputs)
        out = params.copy() if self.slot_weights is None else params @ self.slot_weights
        if self.n_inputs:
            out += inputs @ self.input_weights
        out += self.const
        return out

    def circuit_from_angles(self, angles_row: np.ndarray, name: str | None = None) -> Circuit:
        gates = []
        for op, off in zip(self.ops, self.param_offsets):
            n = spec(self.gateset, op.name).n_params
            gates.append(Gate(op.name, op.targets, op.controls, tuple(float(a) for a in angles_row[off:off + n])))
        return Circuit(self.n_qubits, gates, self.gateset, name)

    def bind(self, params: np.ndarray, inputs: np.ndarray | None = None) -> list[Circuit]:
        """B concrete circuits (for writing JSON); the simulator uses `bind_angles` instead."""
        angles = self.bind_angles(params, inputs)
        return [self.circuit_from_angles(row) for row in angles]

    @classmethod
    def from_circuit(cls, circuit: Circuit) -> tuple["Template", np.ndarray]:
        """Every angle becomes a free slot: circuits with the same gates share one template.

        Returns the template and the (P,) row of this circuit's angles. The slot table is the identity, kept
        implicit: memory stays linear in the angle count (an explicit one is K*K floats, 165 GiB for 149,000).
        """
        ops = tuple(Op(g.name, g.targets, g.controls) for g in circuit.gates)
        row = np.array([p for g in circuit.gates for p in g.params], dtype=np.float64)
        k = row.shape[0]
        t = cls(circuit.n_qubits, ops, np.zeros(k), None, np.zeros((0, k)), circuit.gateset)
        return t, row


def is_identity(w: np.ndarray) -> bool:
    """Whether w is a square identity, without building one to compare with."""
    return (w.ndim == 2 and w.shape[0] == w.shape[1] and bool(np.all(np.diagonal(w) == 1.0))
            and int(np.count_nonzero(w)) == w.shape[0])


def _finite(value: float, field: str) -> float:
    """A builder's constant angle or slot scale: a NaN or an infinity made every row's angles NaN, silently."""
    number = float(value)
    if not math.isfinite(number):
        raise CircuitError(f"{field} must be finite, got {number}", field=field)
    return number


class TemplateBuilder:
    """Builds a Template gate by gate. Angles are floats or `Angle`s from `trainable()`/`input()`."""

    def __init__(self, n_qubits: int, n_inputs: int = 0, gateset: str = "qis"):
        self.n_qubits = validate_n_qubits(n_qubits)
        try:
            whole = operator.index(n_inputs)  # an int or numpy's, not 2.0 or "2"
        except TypeError:
            whole = -1
        if isinstance(n_inputs, bool) or whole < 0:
            raise CircuitError(f"n_inputs must be a whole number >= 0, got {n_inputs!r}", field="inputs")
        if gateset not in ("qis", "native"):
            raise CircuitError(f"gateset must be 'qis' or 'native', got {gateset!r}", field="gateset")
        self.n_inputs = n_inputs
        self.gateset = gateset
        self.n_trainable = 0
        self._ops: list[Op] = []
        self._angles: list[Angle] = []

    def trainable(self, scale: float = 1.0) -> Angle:
        j = self.n_trainable
        self.n_trainable += 1
        return Angle(0.0, ((j, _finite(scale, "scale")),))

    def input(self, i: int, scale: float = 1.0) -> Angle:
        if not 0 <= i < self.n_inputs:
            raise CircuitError(f"input slot {i} out of range for {self.n_inputs} inputs", field="inputs")
        return Angle(0.0, (), ((i, _finite(scale, "scale")),))

    def gate(self, name: str, *targets: int, controls: tuple[int, ...] = (),
             angles: tuple[float | Angle, ...] = ()) -> "TemplateBuilder":
        g = Gate(name, tuple(targets), tuple(controls), tuple(0.0 for _ in angles))
        try:
            s = spec(self.gateset, name)
        except KeyError:  # validate_gate names it: unknown, or of the other gate set
            validate_gate(g, len(self._ops), self.n_qubits, self.gateset)
            raise
        if len(angles) != s.n_params:
            raise CircuitError(f"'{name}' needs {s.n_params} angle(s), got {len(angles)}", index=len(self._ops), field=s.param_field)
        validate_gate(g, len(self._ops), self.n_qubits, self.gateset)
        given = [a if isinstance(a, Angle) else Angle(_finite(a, s.param_field or "angle")) for a in angles]
        self._ops.append(Op(name, tuple(targets), tuple(controls)))
        self._angles.extend(given)
        return self

    def build(self, label: str | None = None) -> Template:
        k = len(self._angles)
        const = np.zeros(k)
        w = np.zeros((self.n_trainable, k))
        v = np.zeros((self.n_inputs, k))
        for col, a in enumerate(self._angles):
            const[col] = a.const
            for j, c in a.trainable:
                w[j, col] += c
            for i, c in a.inputs:
                v[i, col] += c
        return Template(self.n_qubits, tuple(self._ops), const, w, v, self.gateset, label)


@dataclass
class CircuitBatch:
    """One structure with B rows of numbers: the unit every part of the engine works in."""

    template: Template
    params: np.ndarray  # (B, P)
    inputs: np.ndarray  # (B, D)

    def __post_init__(self) -> None:
        self.params, self.inputs = self.template.check_shapes(self.params, self.inputs)

    def __len__(self) -> int:
        return self.params.shape[0]

    def angles(self) -> np.ndarray:
        return self.template.bind_angles(self.params, self.inputs)

    def slice(self, start: int, stop: int) -> "CircuitBatch":
        return CircuitBatch(self.template, self.params[start:stop], self.inputs[start:stop])

    @classmethod
    def from_circuits(cls, circuits: list[Circuit]) -> "CircuitBatch":
        """Circuits that share a structure, as one batch. Raises if they do not."""
        if not circuits:
            raise ValueError("no circuits")
        t, row = Template.from_circuit(circuits[0])
        rows = [row]
        for i, c in enumerate(circuits[1:], start=1):
            t2, r = Template.from_circuit(c)
            if t2.structure_hash != t.structure_hash:
                raise ValueError(f"circuit {i} has a different structure from circuit 0")
            rows.append(r)
        return cls(t, np.array(rows).reshape(len(circuits), -1), np.zeros((len(circuits), 0)))
