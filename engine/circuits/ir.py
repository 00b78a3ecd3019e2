"""The circuit IR: a gate list over n qubits in one gateset ("qis" or "native").

Parameters follow IonQ: QIS rotations in radians; native phases and angles in turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .gates import spec
from .validate import validate_circuit


@dataclass(frozen=True)
class Gate:
    """One gate. `cnot` is stored as name "cnot" with one target and one control."""

    name: str
    targets: tuple[int, ...]
    controls: tuple[int, ...] = ()
    params: tuple[float, ...] = ()

    @property
    def qubits(self) -> tuple[int, ...]:
        return self.controls + self.targets


@dataclass
class Circuit:
    n_qubits: int
    gates: list[Gate] = field(default_factory=list)
    gateset: str = "qis"
    name: str | None = None

    def add(self, name: str, *targets: int, controls: tuple[int, ...] = (), params: tuple[float, ...] = ()) -> "Circuit":
        """Append a gate (chainable). Validation happens in `validate`."""
        self.gates.append(Gate(name, tuple(targets), tuple(controls), tuple(float(p) for p in params)))
        return self

    def counts(self) -> tuple[int, int]:
        """(one-qubit gates, multi-qubit gates)."""
        one = sum(1 for g in self.gates if len(g.qubits) == 1)
        return one, len(self.gates) - one

    def depth(self) -> int:
        """Circuit depth: the longest chain of gates sharing qubits."""
        level = [0] * self.n_qubits
        for g in self.gates:
            d = max(level[q] for q in g.qubits) + 1
            for q in g.qubits:
                level[q] = d
        return max(level, default=0)

    def validate(self) -> "Circuit":
        """Raise CircuitError for anything IonQ would refuse; return self."""
        validate_circuit(self)
        return self


def n_params(gateset: str, name: str) -> int:
    return spec(gateset, name).n_params
