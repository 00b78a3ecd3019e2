"""IonQ circuit JSON (v0.4 `input` objects, qis and native) to and from the IR.

Accepts the IonQ input object `{"qubits", "gateset", "circuit": [...]}`, a whole job body with
`input`, and the v3.4 guide's `{"qubits": n, "circuit": [...]}`. Errors name gate index and field.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import CircuitError
from .gates import NATIVE_GATES, QIS_GATES
from .ir import Circuit, Gate
from .validate import validate_gate, validate_n_qubits


def _number(value: Any, index: int, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise CircuitError(f"must be a number, got {value!r}", index=index, field=field) from None
        else:
            raise CircuitError(f"must be a number, got {value!r}", index=index, field=field)
    value = float(value)
    if not math.isfinite(value):
        raise CircuitError(f"angle must be finite, got {value}", index=index, field=field)
    return value


def _qubit_list(value: Any, index: int, field: str) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for q in items:
        if isinstance(q, bool) or not isinstance(q, int):
            raise CircuitError(f"qubit index must be an integer, got {q!r}", index=index, field=field)
        out.append(q)
    return tuple(out)


def parse_gate(obj: Any, index: int, gateset: str) -> Gate:
    """One gate dict to a Gate, in the given gateset."""
    if not isinstance(obj, dict):
        raise CircuitError(f"a gate must be an object, got {type(obj).__name__}", index=index)
    name = obj.get("gate")
    if name is None:
        raise CircuitError("missing field", index=index, field="gate")
    if not isinstance(name, str):
        raise CircuitError(f"gate name must be a string, got {name!r}", index=index, field="gate")
    name = name.lower()
    table = QIS_GATES if gateset == "qis" else NATIVE_GATES
    other = NATIVE_GATES if gateset == "qis" else QIS_GATES
    if name not in table:
        if name in other:
            raise CircuitError(
                f"'{name}' is a {'native' if gateset == 'qis' else 'qis'} gate in a {gateset} circuit; "
                "qis and native gates cannot be mixed", index=index, field="gate")
        raise CircuitError(f"unknown gate '{name}'", index=index, field="gate")
    s = table[name]
    if s.n_targets == 1:
        if "target" in obj:
            targets = _qubit_list(obj["target"], index, "target")
        elif "targets" in obj:
            targets = _qubit_list(obj["targets"], index, "targets")
        else:
            raise CircuitError("missing field", index=index, field="target")
    else:
        if "targets" not in obj:
            raise CircuitError("missing field", index=index, field="targets")
        if not isinstance(obj["targets"], list):
            raise CircuitError("must be a list of two qubit indices", index=index, field="targets")
        targets = _qubit_list(obj["targets"], index, "targets")
    controls: tuple[int, ...] = ()
    if "control" in obj and "controls" in obj:
        raise CircuitError("give either 'control' or 'controls', not both", index=index, field="controls")
    if "control" in obj:
        controls = _qubit_list(obj["control"], index, "control")
    elif "controls" in obj:
        controls = _qubit_list(obj["controls"], index, "controls")
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
    g = Gate(name, targets, controls, params)
    return g


def parse_circuit(obj: Any, *, default_gateset: str = "qis") -> Circuit:
    """An IonQ input object (or job body, or v3.4 dict) to a validated Circuit."""
    if not isinstance(obj, dict):
        raise CircuitError(f"a circuit must be a JSON object, got {type(obj).__name__}")
    if "input" in obj and isinstance(obj["input"], dict):
        obj = obj["input"]
    gateset = obj.get("gateset", default_gateset)
    if gateset not in ("qis", "native"):
        raise CircuitError(f"gateset must be 'qis' or 'native', got {gateset!r}", field="gateset")
    if "circuit" not in obj:
        raise CircuitError("missing field", field="circuit")
    gates_json = obj["circuit"]
    if not isinstance(gates_json, list):
        raise CircuitError("must be a list of gates", field="circuit")
    gates = [parse_gate(g, i, gateset) for i, g in enumerate(gates_json)]
    if "qubits" in obj:
        n = validate_n_qubits(obj["qubits"])
    else:
        used = [q for g in gates for q in g.qubits]
        n = max(used, default=0) + 1
    for i, g in enumerate(gates):
        validate_gate(g, i, n, gateset)
    return Circuit(n, gates, gateset, obj.get("name"))


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
