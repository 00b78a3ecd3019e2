"""Conversion to and from `cirq.Circuit`. cirq is imported here only, inside the functions.

Qubit i of our IR is the i-th qubit of the sorted cirq qubits (LineQubit(i) on the way out).
Rotations are mapped exactly (cirq.rx etc.); XX/YY/ZZ use global_shift=-0.5, which is
exactly exp(-i theta/2 P(x)P). Gates known only up to a global phase map to the same unitary
up to that phase.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import CircuitError
from .ir import Circuit, Gate


def to_cirq(c: Circuit) -> Any:
    import cirq

    q = cirq.LineQubit.range(c.n_qubits)
    ops = []
    for g in c.gates:
        ops.append(_gate_to_cirq(g, c.gateset, q))
    return cirq.Circuit(ops)


def _gate_to_cirq(g: Gate, gateset: str, q: list[Any]) -> Any:
    import cirq

    if gateset == "native":
        import cirq_ionq

        if g.name == "gpi":
            return cirq_ionq.GPIGate(phi=g.params[0]).on(q[g.targets[0]])
        if g.name == "gpi2":
            return cirq_ionq.GPI2Gate(phi=g.params[0]).on(q[g.targets[0]])
        if g.name == "ms":
            return cirq_ionq.MSGate(phi0=g.params[0], phi1=g.params[1], theta=g.params[2]).on(*(q[t] for t in g.targets))
        return cirq_ionq.ZZGate(theta=g.params[0]).on(*(q[t] for t in g.targets))
    fixed = {
        "x": cirq.X, "y": cirq.Y, "z": cirq.Z, "h": cirq.H, "s": cirq.S, "si": cirq.S**-1, "t": cirq.T,
        "ti": cirq.T**-1, "v": cirq.XPowGate(exponent=0.5), "vi": cirq.XPowGate(exponent=-0.5), "cnot": cirq.X, "not": cirq.X,
    }
    if g.name in fixed:
        base = fixed[g.name]
    elif g.name in ("rx", "ry", "rz"):
        base = {"rx": cirq.rx, "ry": cirq.ry, "rz": cirq.rz}[g.name](g.params[0])
    elif g.name == "swap":
        return cirq.SWAP(q[g.targets[0]], q[g.targets[1]])
    else:
        cls: Callable[..., cirq.EigenGate] = {"xx": cirq.XXPowGate, "yy": cirq.YYPowGate, "zz": cirq.ZZPowGate}[g.name]
        return cls(exponent=g.params[0] / math.pi, global_shift=-0.5).on(q[g.targets[0]], q[g.targets[1]])
    if g.controls:
        return base.controlled(len(g.controls)).on(*(q[c] for c in g.controls), q[g.targets[0]])
    return base.on(q[g.targets[0]])


def _near(x: float, v: float) -> bool:
    return abs(x - v) < 1e-12


def from_cirq(circuit: Any) -> Circuit:
    """A cirq.Circuit of supported gates to our IR; measurements are dropped (IonQ measures all)."""
    import cirq
    import cirq_ionq

    qubits = sorted(circuit.all_qubits())
    index = {qb: i for i, qb in enumerate(qubits)}
    gates: list[Gate] = []
    native: bool | None = None
    measured: set[int] = set()  # qubits measured so far: only terminal measurements may be dropped
    for k, op in enumerate(circuit.all_operations()):
        gate = op.gate
        qs = tuple(index[x] for x in op.qubits)
        if isinstance(gate, cirq.MeasurementGate):
            measured.update(qs)
            continue
        if measured.intersection(qs):  # dropped, the measurement would leave the later gates a wrong state
            raise CircuitError(f"'{gate}' acts on qubit {sorted(measured.intersection(qs))[0]} after it was "
                               "measured: only measurements at the end are supported", index=k, field="gate")
        is_native = isinstance(gate, (cirq_ionq.GPIGate, cirq_ionq.GPI2Gate, cirq_ionq.MSGate, cirq_ionq.ZZGate))
        if native is None:
            native = is_native
        elif native != is_native:
            raise CircuitError(f"'{gate}' mixes native and qis gates in one circuit", index=k, field="gate")
        gates.append(_gate_from_cirq(gate, qs, k))
    return Circuit(max(len(qubits), 1), gates, "native" if native else "qis").validate()


def _same_matrix(cirq_gate: Any, ours: Gate) -> bool:
    """Whether our one-qubit gate is cirq's gate exactly, global phase included (what a control needs)."""
    import cirq
    import numpy as np

    from .gates import one_qubit_matrix

    try:
        mine = one_qubit_matrix("qis", ours.name, np.asarray(ours.params, dtype=np.float64))
    except KeyError:  # a native gate under a control: not a gate IonQ has
        return False
    return bool(np.allclose(cirq.unitary(cirq_gate), mine, atol=1e-9))


def _rotation_form(gate: Any, read: Gate) -> Gate:
    """An X/Y/ZPowGate as rx/ry/rz of its angle: cirq.rx(pi) is read as x, equal only up to a global phase, which
    a control makes relative; as rx(pi) it is exact (the caller checks)."""
    import cirq

    e = getattr(gate, "exponent", None)
    for kind, name in ((cirq.XPowGate, "rx"), (cirq.YPowGate, "ry"), (cirq.ZPowGate, "rz")):
        if isinstance(gate, kind) and isinstance(e, (int, float)) and not isinstance(e, bool):
            return Gate(name, read.targets, (), (math.pi * float(e),))
    return read


def _gate_from_cirq(gate: Any, qs: tuple[int, ...], k: int) -> Gate:
    import cirq
    import cirq_ionq

    if isinstance(gate, cirq_ionq.GPIGate):
        return Gate("gpi", qs, (), (float(gate.phi),))
    if isinstance(gate, cirq_ionq.GPI2Gate):
        return Gate("gpi2", qs, (), (float(gate.phi),))
    if isinstance(gate, cirq_ionq.MSGate):
        return Gate("ms", qs, (), (float(gate.phi0), float(gate.phi1), float(gate.theta)))
    if isinstance(gate, cirq_ionq.ZZGate):
        return Gate("zz", qs, (), (float(gate.theta),))
    if isinstance(gate, cirq.ControlledGate):
        if any(tuple(v) != (1,) for v in gate.control_values):
            raise CircuitError(f"unsupported controlled gate '{gate}': a control on |0> (IonQ's controls are on |1>; "
                               f"put X before and after it on that qubit)", index=k, field="gate")
        sub = _gate_from_cirq(gate.sub_gate, qs[gate.num_controls():], k)
        if sub.controls or len(sub.targets) != 1:
            raise CircuitError(f"unsupported controlled gate '{gate}'", index=k, field="gate")
        if not _same_matrix(gate.sub_gate, sub):  # rx(pi) read as x: its rotation form may be the exact one
            sub = _rotation_form(gate.sub_gate, sub)
        if not _same_matrix(gate.sub_gate, sub):  # e.g. X**0.3 = e^{0.15 i pi} rx(0.3 pi): controlled, not a crx
            raise CircuitError(f"unsupported controlled gate '{gate}': its target gate is {sub.name} only up to a "
                               f"global phase, which the control makes a relative one (cirq.rx/ry/rz(t).controlled() "
                               f"are exact)", index=k, field="gate")
        return Gate(sub.name, sub.targets, qs[:gate.num_controls()], sub.params)
    e = getattr(gate, "exponent", None)
    if isinstance(e, (int, float)) and not isinstance(e, bool):
        e = float(e)
        if isinstance(gate, cirq.CXPowGate) and _near(e, 1):
            return Gate("cnot", qs[1:], qs[:1])
        if isinstance(gate, cirq.CZPowGate) and _near(e, 1):
            return Gate("z", qs[1:], qs[:1])
        if isinstance(gate, cirq.SwapPowGate) and _near(e, 1):
            return Gate("swap", qs)
        if isinstance(gate, cirq.HPowGate) and _near(e, 1):
            return Gate("h", qs)
        if isinstance(gate, cirq.XPowGate):
            for v, name in ((1, "x"), (0.5, "v"), (-0.5, "vi")):
                if _near(e, v):
                    return Gate(name, qs)
            return Gate("rx", qs, (), (math.pi * e,))
        if isinstance(gate, cirq.YPowGate):
            return Gate("y", qs) if _near(e, 1) else Gate("ry", qs, (), (math.pi * e,))
        if isinstance(gate, cirq.ZPowGate):
            for v, name in ((1, "z"), (0.5, "s"), (-0.5, "si"), (0.25, "t"), (-0.25, "ti")):
                if _near(e, v):
                    return Gate(name, qs)
            return Gate("rz", qs, (), (math.pi * e,))
        for cls, name in ((cirq.XXPowGate, "xx"), (cirq.YYPowGate, "yy"), (cirq.ZZPowGate, "zz")):
            if isinstance(gate, cls):
                return Gate(name, qs, (), (math.pi * e,))
    raise CircuitError(f"unsupported cirq gate '{gate}'", index=k, field="gate")
