"""IonQ circuit JSON (v0.4 `input` objects, qis and native) to and from the IR.

Accepts the IonQ input object `{"qubits", "gateset", "circuit": [...]}`, a whole job body with
`input`, and the v3.4 guide's `{"qubits": n, "circuit": [...]}`. Errors name gate index and field.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import CircuitError, shown
from .gates import NATIVE_GATES, QIS_GATES, GateSpec
from .ir import Circuit, Gate
from .validate import DEFAULT_MAX_QUBITS, validate_gate, validate_n_qubits


# The properties IonQ's OpenAPI spec (v0.4, Gate_QisGate / Gate_NativeGate, additionalProperties: false) allows on
# a gate. A field outside these is refused, and so is one the spec allows but this gate would not read (for
# example 'rotation' on 'h', or 'targets' beside 'target'): ignoring it silently would run a different circuit.
SCHEMA_FIELDS = {
    "qis": ("gate", "target", "targets", "control", "controls", "rotation"),
    "native": ("gate", "target", "targets", "controls", "phase", "phases", "angle", "rotation"),
}
_PARAM_FIELDS = {"ms": ("phases", "angle")}  # otherwise the spec's param_field, if any


def _number(value: Any, index: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise CircuitError(f"must be a number, got {shown(value)}", index=index, field=field) from None
        else:
            raise CircuitError(f"must be a number, got {shown(value)}", index=index, field=field)
    try:
        number = float(value)
    except OverflowError:
        raise CircuitError(f"angle must be finite, got {shown(value)}", index=index, field=field) from None
    if not math.isfinite(number):
        raise CircuitError(f"angle must be finite, got {number}", index=index, field=field)
    return number


def _qubit(q: Any, index: int, field: str) -> int:
    if isinstance(q, bool) or not isinstance(q, int):
        raise CircuitError(f"qubit index must be an integer, got {shown(q)}", index=index, field=field)
    return q


def _qubits(obj: dict[str, Any], one: str, many: str, index: int) -> tuple[int, ...] | None:
    """The qubits under `one` (an integer) or `many` (a list of integers); None when neither is given."""
    if one in obj and many in obj:
        raise CircuitError(f"give either '{one}' or '{many}', not both", index=index, field=many)
    if one in obj:
        return (_qubit(obj[one], index, one),)
    if many in obj:
        if not isinstance(obj[many], list):
            raise CircuitError(f"must be a list of qubit indices, got {shown(obj[many])}", index=index, field=many)
        return tuple(_qubit(q, index, many) for q in obj[many])
    return None


def _check_fields(obj: dict[str, Any], name: str, s: GateSpec, gateset: str, index: int) -> None:
    """Refuse any field this gate would not read, naming it (see SCHEMA_FIELDS)."""
    params = _PARAM_FIELDS.get(name, (s.param_field,) if s.param_field else ())
    for key in obj:
        if not isinstance(key, str) or key not in SCHEMA_FIELDS[gateset]:
            raise CircuitError(f"unknown field; a {gateset} gate has only {', '.join(SCHEMA_FIELDS[gateset])}",
                               index=index, field=shown(key, 40) if not isinstance(key, str) else key[:40])
        if key in ("rotation", "phase", "phases", "angle") and key not in params:
            takes = f"its parameter is {' and '.join(repr(p) for p in params)}" if params else "it has no parameter"
            raise CircuitError(f"'{name}' takes no '{key}' ({takes})", index=index, field=key)
        if key == "target" and s.n_targets != 1:
            raise CircuitError(f"'{name}' has {s.n_targets} targets: give them as 'targets'", index=index, field=key)


def parse_gate(obj: Any, index: int, gateset: str) -> Gate:
    """One gate dict to a Gate, in the given gateset."""
    if not isinstance(obj, dict):
        raise CircuitError(f"a gate must be an object, got {type(obj).__name__}", index=index)
    name = obj.get("gate")
    if name is None:
        raise CircuitError("missing field", index=index, field="gate")
    if not isinstance(name, str):
        raise CircuitError(f"gate name must be a string, got {shown(name)}", index=index, field="gate")
    name = name.lower()
    table = QIS_GATES if gateset == "qis" else NATIVE_GATES
    other = NATIVE_GATES if gateset == "qis" else QIS_GATES
    if name not in table:
        if name in other:
            raise CircuitError(
                f"'{name}' is a {'native' if gateset == 'qis' else 'qis'} gate in a {gateset} circuit; "
                "qis and native gates cannot be mixed", index=index, field="gate")
        raise CircuitError(f"unknown gate {shown(name, 40)}", index=index, field="gate")
    s = table[name]
    _check_fields(obj, name, s, gateset, index)
    targets = _qubits(obj, "target", "targets", index)
    if targets is None:
        raise CircuitError("missing field", index=index, field="target" if s.n_targets == 1 else "targets")
    controls = _qubits(obj, "control", "controls", index) or ()
    params: tuple[float, ...] = ()
    if gateset == "qis" and s.n_params:
        if "rotation" not in obj:
            raise CircuitError("missing field", index=index, field="rotation")
        params = (_number(obj["rotation"], index, "rotation"),)
    elif gateset == "native":
        if name in ("gpi", "gpi2"):
            if "phase" not in obj:
                raise CircuitError("missing field", index=index, field="phase")
            params = (_number(obj["phase"], index, "phase"),)
        elif name == "ms":
            phases = obj.get("phases")
            if phases is None:
                raise CircuitError("missing field", index=index, field="phases")
            if not isinstance(phases, list) or len(phases) != 2:
                raise CircuitError("must be a list of two phases", index=index, field="phases")
            angle = _number(obj.get("angle", 0.25), index, "angle")
            params = (_number(phases[0], index, "phases"), _number(phases[1], index, "phases"), angle)
        elif name == "zz":
            if "angle" not in obj:
                raise CircuitError("missing field", index=index, field="angle")
            params = (_number(obj["angle"], index, "angle"),)
    if name == "not":
        name = "x"
    return Gate(name, targets, controls, params)


CIRCUIT_FIELDS = frozenset({"qubits", "circuit", "gateset", "name", "registers"})


def parse_circuit(obj: Any, *, default_gateset: str = "qis", max_qubits: int = DEFAULT_MAX_QUBITS,
                  limit_of: str = "the local simulator") -> Circuit:
    """An IonQ input object (or job body, or v3.4 dict) to a validated Circuit.

    The qubit count (given, or one more than the highest qubit a gate uses) must be at most `max_qubits`, the
    limit of `limit_of`; a caller for a backend passes its `limits.max_qubits` and name.
    """
    if not isinstance(obj, dict):
        raise CircuitError(f"a circuit must be a JSON object, got {type(obj).__name__}")
    if "input" in obj and isinstance(obj["input"], dict):
        obj = obj["input"]
    unknown = sorted(str(k) for k in obj if k not in CIRCUIT_FIELDS)
    if unknown:  # a typo ("qubit") or a job's field ("shots") vanished silently
        raise CircuitError(f"unknown field (a circuit's fields are {', '.join(sorted(CIRCUIT_FIELDS))})",
                           field=unknown[0][:40])
    gateset = obj.get("gateset", default_gateset)
    if gateset not in ("qis", "native"):
        raise CircuitError(f"gateset must be 'qis' or 'native', got {shown(gateset)}", field="gateset")
    if "circuit" not in obj:
        raise CircuitError("missing field", field="circuit")
    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        raise CircuitError(f"must be a string, got {shown(name)}", field="name")
    n = validate_n_qubits(obj["qubits"], max_qubits=max_qubits, limit_of=limit_of) if "qubits" in obj else None
    gates_json = obj["circuit"]
    if not isinstance(gates_json, list):
        raise CircuitError("must be a list of gates", field="circuit")
    gates = [parse_gate(g, i, gateset) for i, g in enumerate(gates_json)]
    if n is None:
        highest = max(((q, i) for i, g in enumerate(gates) for q in g.qubits), default=(0, 0))
        if highest[0] >= max_qubits:
            where = gates[highest[1]]
            field = "target" if highest[0] in where.targets else "control"
            raise CircuitError(f"qubit index {shown(highest[0])} needs {shown(highest[0] + 1)} qubits, more than "
                               f"{max_qubits}, the limit of {limit_of}", index=highest[1], field=field)
        n = max(highest[0], 0) + 1
    for i, g in enumerate(gates):
        validate_gate(g, i, n, gateset)
    return Circuit(n, gates, gateset, name)


def gate_to_json(g: Gate, gateset: str) -> dict[str, Any]:
    if gateset == "native":
        if g.name in ("gpi", "gpi2"):
            return {"gate": g.name, "target": g.targets[0], "phase": g.params[0]}
        if g.name == "ms":
            return {"gate": "ms", "targets": list(g.targets), "phases": [g.params[0], g.params[1]], "angle": g.params[2]}
        return {"gate": "zz", "targets": list(g.targets), "angle": g.params[0]}
    s = QIS_GATES[g.name]
    out: dict[str, Any] = {"gate": g.name}
    if s.n_targets == 1:
        out["target"] = g.targets[0]
    else:
        out["targets"] = list(g.targets)
    if len(g.controls) == 1:
        out["control"] = g.controls[0]
    elif g.controls:
        out["controls"] = list(g.controls)
    if s.n_params:
        out["rotation"] = g.params[0]
    return out


def circuit_to_json(c: Circuit) -> dict[str, Any]:
    """The IonQ `input` object for one circuit."""
    out: dict[str, Any] = {"qubits": c.n_qubits, "gateset": c.gateset, "circuit": [gate_to_json(g, c.gateset) for g in c.gates]}
    if c.name:
        out["name"] = c.name
    return out
