"""Checks on the IR that apply whatever the circuit came from (JSON, cirq, a builder).

It sees gates and circuits through the small Protocols below, so the IR (ir.py) can call it without the two
modules importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from .errors import CircuitError, shown
from .gates import NATIVE_GATES, QIS_GATES


class GateLike(Protocol):
    """What a check reads of a gate (ir.Gate)."""

    @property
    def name(self) -> str: ...
    @property
    def targets(self) -> tuple[int, ...]: ...
    @property
    def controls(self) -> tuple[int, ...]: ...
    @property
    def params(self) -> tuple[float, ...]: ...


class CircuitLike(Protocol):
    """What a check reads of a circuit (ir.Circuit)."""

    @property
    def n_qubits(self) -> int: ...
    @property
    def gateset(self) -> str: ...
    @property
    def gates(self) -> Sequence[GateLike]: ...


# The embedded simulator's limit (engine.sim.MAX_QUBITS), the default door for circuits read from JSON; a caller
# for another backend passes that backend's `limits.max_qubits`.
DEFAULT_MAX_QUBITS = 16
# Beyond any backend: refused everywhere, so that no count can reach code that sizes arrays by 2**n.
QUBIT_CEILING = 1024


def validate_n_qubits(n: object, field: str = "qubits", max_qubits: int | None = None,
                      limit_of: str = "the backend") -> int:
    """An integer qubit count, at least 1, at most `max_qubits` (named as the limit of `limit_of`)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise CircuitError(f"qubit count must be an integer, got {shown(n)}", field=field)
    if n < 1:
        raise CircuitError(f"qubit count must be at least 1, got {shown(n)}", field=field)
    if max_qubits is not None and n > max_qubits:
        raise CircuitError(f"{shown(n)} qubits is more than {max_qubits}, the limit of {limit_of}", field=field)
    if n > QUBIT_CEILING:
        raise CircuitError(f"{shown(n)} qubits is more than any backend has (at most {QUBIT_CEILING})", field=field)
    return n


def validate_gate(g: GateLike, index: int, n_qubits: int, gateset: str) -> None:
    table = QIS_GATES if gateset == "qis" else NATIVE_GATES
    other = NATIVE_GATES if gateset == "qis" else QIS_GATES
    if g.name not in table:
        if g.name in other:
            raise CircuitError(
                f"'{g.name}' is a {other[g.name].gateset} gate in a {gateset} circuit; qis and native gates cannot be mixed",
                index=index, field="gate",
            )
        raise CircuitError(f"unknown gate '{g.name}'", index=index, field="gate")
    s = table[g.name]
    tfield = "target" if s.n_targets == 1 else "targets"
    if len(g.targets) != s.n_targets:
        raise CircuitError(f"'{g.name}' needs {s.n_targets} target(s), got {len(g.targets)}", index=index, field=tfield)
    if g.name == "cnot" and len(g.controls) == 0:
        raise CircuitError("'cnot' needs a control", index=index, field="control")
    if g.controls and not s.controllable:
        raise CircuitError(f"'{g.name}' cannot be controlled", index=index, field="controls")
    for fname, qs in ((tfield, g.targets), ("controls" if len(g.controls) > 1 else "control", g.controls)):
        for q in qs:
            if isinstance(q, bool) or not isinstance(q, int):
                raise CircuitError(f"qubit index must be an integer, got {shown(q)}", index=index, field=fname)
            if q < 0:
                raise CircuitError(f"qubit index {shown(q)} is negative", index=index, field=fname)
            if q >= n_qubits:
                raise CircuitError(f"qubit index {shown(q)} is out of range for {n_qubits} qubits", index=index,
                                   field=fname)
    if len(set(g.targets)) != len(g.targets):
        raise CircuitError(f"duplicate targets {list(g.targets)}", index=index, field="targets")
    if len(set(g.controls)) != len(g.controls):
        raise CircuitError(f"duplicate controls {list(g.controls)}", index=index, field="controls")
    if set(g.controls) & set(g.targets):
        raise CircuitError(f"control equals target (qubit {sorted(set(g.controls) & set(g.targets))[0]})", index=index, field="control")
    if len(g.params) != s.n_params:
        raise CircuitError(f"'{g.name}' needs {s.n_params} parameter(s), got {len(g.params)}", index=index, field=s.param_field)
    for p in g.params:
        if not math.isfinite(p):
            raise CircuitError(f"angle must be finite, got {p}", index=index, field=s.param_field)


def validate_circuit(c: CircuitLike) -> None:
    validate_n_qubits(c.n_qubits)
    if c.gateset not in ("qis", "native"):
        raise CircuitError(f"gateset must be 'qis' or 'native', got {c.gateset!r}", field="gateset")
    for i, g in enumerate(c.gates):
        validate_gate(g, i, c.n_qubits, c.gateset)
