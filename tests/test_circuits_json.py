"""IonQ circuit JSON: parsing, writing, and a precise error for each kind of bad input."""

import math

import pytest

from engine.circuits import Circuit, CircuitError, circuit_to_json, parse_circuit


def test_parses_ionq_input_object_with_every_qis_gate_form():
    c = parse_circuit({
        "qubits": 3, "gateset": "qis",
        "circuit": [
            {"gate": "h", "target": 0},
            {"gate": "cnot", "control": 0, "target": 1},
            {"gate": "rx", "target": 2, "rotation": 0.7854},
            {"gate": "x", "controls": [0, 1], "target": 2},
            {"gate": "swap", "targets": [0, 2]},
            {"gate": "zz", "targets": [0, 1], "rotation": 0.5},
            {"gate": "not", "target": 1},
        ],
    })
    assert c.n_qubits == 3 and c.gateset == "qis"
    assert [g.name for g in c.gates] == ["h", "cnot", "rx", "x", "swap", "zz", "x"]
    assert c.gates[1].controls == (0,) and c.gates[1].targets == (1,)
    assert c.gates[3].controls == (0, 1)
    assert c.gates[2].params == (0.7854,)


def test_parses_native_gates_in_turns_and_ms_default_angle():
    c = parse_circuit({"qubits": 2, "gateset": "native", "circuit": [
        {"gate": "gpi", "target": 0, "phase": 0.25},
        {"gate": "gpi2", "target": 1, "phase": 0.75},
        {"gate": "ms", "targets": [0, 1], "phases": [0.0, 0.25]},
        {"gate": "zz", "targets": [0, 1], "angle": 0.125},
    ]})
    assert c.gates[2].params == (0.0, 0.25, 0.25)
    assert c.gates[3].params == (0.125,)


def test_accepts_job_body_and_v34_form():
    v34 = {"qubits": 4, "circuit": [{"gate": "ry", "target": 0, "rotation": 0.1},
                                    {"gate": "cnot", "control": 0, "target": 1}]}
    assert parse_circuit(v34).n_qubits == 4
    body = {"type": "ionq.circuit.v1", "backend": "simulator", "input": dict(v34, gateset="qis")}
    assert parse_circuit(body).gates == parse_circuit(v34).gates


@pytest.mark.parametrize("gateset,src", [
    ("qis", {"qubits": 3, "gateset": "qis", "circuit": [
        {"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 2},
        {"gate": "rz", "target": 1, "rotation": -1.25}, {"gate": "x", "controls": [0, 1], "target": 2},
        {"gate": "xx", "targets": [1, 2], "rotation": 0.3}]}),
    ("native", {"qubits": 2, "gateset": "native", "circuit": [
        {"gate": "gpi2", "target": 0, "phase": 0.1}, {"gate": "ms", "targets": [1, 0], "phases": [0.2, 0.3], "angle": 0.1}]}),
])
def test_round_trip_through_json(gateset, src):
    c = parse_circuit(src)
    again = parse_circuit(circuit_to_json(c))
    assert again.gates == c.gates and again.gateset == gateset and again.n_qubits == c.n_qubits


BAD = [
    ({"qubits": 2, "circuit": [{"gate": "foo", "target": 0}]}, "gate 0, field 'gate': unknown gate 'foo'"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "rx", "target": 1}]},
     "gate 1, field 'rotation': missing field"),
    ({"qubits": 2, "circuit": [{"gate": "h"}]}, "gate 0, field 'target': missing field"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 2}]},
     "gate 0, field 'target': qubit index 2 is out of range for 2 qubits"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": -1}]}, "gate 0, field 'target': qubit index -1 is negative"),
    ({"qubits": 2, "circuit": [{"gate": "cnot", "control": 1, "target": 1}]},
     "gate 0, field 'control': control equals target (qubit 1)"),
    ({"qubits": 2, "circuit": [{"gate": "swap", "targets": [1, 1]}]}, "gate 0, field 'targets': duplicate targets [1, 1]"),
    ({"qubits": 2, "circuit": [{"gate": "rx", "target": 0, "rotation": math.nan}]},
     "gate 0, field 'rotation': angle must be finite, got nan"),
    ({"qubits": 2, "circuit": [{"gate": "ry", "target": 0, "rotation": math.inf}]},
     "gate 0, field 'rotation': angle must be finite, got inf"),
    ({"qubits": 2, "gateset": "qis", "circuit": [{"gate": "gpi", "target": 0, "phase": 0.1}]},
     "gate 0, field 'gate': 'gpi' is a native gate in a qis circuit; qis and native gates cannot be mixed"),
    ({"qubits": 2, "gateset": "native", "circuit": [{"gate": "h", "target": 0}]},
     "gate 0, field 'gate': 'h' is a qis gate in a native circuit; qis and native gates cannot be mixed"),
    ({"qubits": 2.5, "circuit": []}, "field 'qubits': qubit count must be an integer, got 2.5"),
    ({"qubits": "3", "circuit": []}, "field 'qubits': qubit count must be an integer, got '3'"),
    ({"qubits": 0, "circuit": []}, "field 'qubits': qubit count must be at least 1, got 0"),
    ({"qubits": 2}, "field 'circuit': missing field"),
    ({"qubits": 2, "circuit": [{"gate": "cnot", "target": 1}]}, "gate 0, field 'control': 'cnot' needs a control"),
    ({"qubits": 2, "circuit": [{"gate": "swap", "targets": [0, 1], "control": 1}]},
     "gate 0, field 'controls': 'swap' cannot be controlled"),
    ({"qubits": 2, "gateset": "native", "circuit": [{"gate": "ms", "targets": [0, 1], "phases": [0.1]}]},
     "gate 0, field 'phases': must be a list of two phases"),
    ({"qubits": 2, "circuit": [{"gate": "rx", "target": 0, "rotation": "abc"}]},
     "gate 0, field 'rotation': must be a number, got 'abc'"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 1.0}]}, "gate 0, field 'target': qubit index must be an integer, got 1.0"),
    ({"qubits": 2, "gateset": "clifford", "circuit": []}, "field 'gateset': gateset must be 'qis' or 'native', got 'clifford'"),
    ([1, 2], "a circuit must be a JSON object, got list"),
]


@pytest.mark.parametrize("src,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_circuits_raise_precise_errors(src, message):
    with pytest.raises(CircuitError) as err:
        parse_circuit(src)
    assert str(err.value) == message


def test_error_carries_index_and_field():
    with pytest.raises(CircuitError) as err:
        parse_circuit({"qubits": 3, "circuit": [{"gate": "h", "target": 0}, {"gate": "h", "target": 0},
                                                {"gate": "rz", "target": 5, "rotation": 1.0}]})
    assert err.value.index == 2 and err.value.field == "target"


def test_builder_circuits_validate_like_json():
    with pytest.raises(CircuitError, match="out of range"):
        Circuit(2).add("h", 3).validate()
    assert Circuit(2).add("h", 0).add("cnot", 1, controls=(0,)).validate().depth() == 2


FIELDS = [
    ({"qubits": 2, "circuit": [{"gate": "ry", "target": 0, "targets": 1.5, "rotation": 0.1}]},
     "gate 0, field 'targets': give either 'target' or 'targets', not both"),
    ({"qubits": 2, "circuit": [{"gate": "ry", "targets": 1.5, "rotation": 0.1}]},
     "gate 0, field 'targets': must be a list of qubit indices, got 1.5"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "h", "target": 1, "foo": 2}]},
     "gate 1, field 'foo': unknown field; a qis gate has only gate, target, targets, control, controls, rotation"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 0, "rotation": 0.5}]},
     "gate 0, field 'rotation': 'h' takes no 'rotation' (it has no parameter)"),
    ({"qubits": 2, "circuit": [{"gate": "swap", "target": 0, "targets": [0, 1]}]},
     "gate 0, field 'target': 'swap' has 2 targets: give them as 'targets'"),
    ({"qubits": 2, "circuit": [{"gate": "cnot", "control": 0, "controls": [0], "target": 1}]},
     "gate 0, field 'controls': give either 'control' or 'controls', not both"),
    ({"qubits": 2, "circuit": [{"gate": "cnot", "control": [0], "target": 1}]},
     "gate 0, field 'control': qubit index must be an integer, got [0]"),
    ({"qubits": 2, "gateset": "native", "circuit": [{"gate": "zz", "targets": [0, 1], "phase": 0.25}]},
     "gate 0, field 'phase': 'zz' takes no 'phase' (its parameter is 'angle')"),
    ({"qubits": 2, "gateset": "native", "circuit": [{"gate": "gpi", "target": 0, "phase": 0.1, "rotation": 1.0}]},
     "gate 0, field 'rotation': 'gpi' takes no 'rotation' (its parameter is 'phase')"),
    ({"qubits": 2, "gateset": "native", "circuit": [{"gate": "gpi", "target": 0, "phase": 0.1, "control": 1}]},
     "gate 0, field 'control': unknown field; a native gate has only gate, target, targets, controls, phase, "
     "phases, angle, rotation"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 0}], "name": 3}, "field 'name': must be a string, got 3"),
]


@pytest.mark.parametrize("src,message", FIELDS, ids=[m[:40] for _, m in FIELDS])
def test_fields_a_gate_would_not_read_are_refused_by_name(src, message):
    with pytest.raises(CircuitError) as err:
        parse_circuit(src)
    assert str(err.value) == message


def test_what_ionqs_own_clients_send_is_accepted():
    """qiskit-ionq writes single targets as lists and controls as 'controls'; cirq-ionq 'control'/'target'."""
    c = parse_circuit({"qubits": 3, "gateset": "qis", "circuit": [
        {"gate": "h", "targets": [0]}, {"gate": "x", "controls": [0], "targets": [1]},
        {"gate": "rx", "targets": [2], "rotation": 0.5}, {"gate": "cnot", "control": 1, "target": 2},
        {"gate": "zz", "targets": [0, 2], "rotation": 0.1}]})
    assert [g.name for g in c.gates] == ["h", "x", "rx", "cnot", "zz"]
    n = parse_circuit({"qubits": 2, "gateset": "native", "circuit": [
        {"gate": "gpi2", "target": 0, "phase": 0.25}, {"gate": "gpi", "targets": [1], "phase": 0.5},
        {"gate": "ms", "targets": [0, 1], "phases": [0.0, 0.5], "angle": 0.25},
        {"gate": "zz", "targets": [0, 1], "angle": 0.1}]})
    assert [g.name for g in n.gates] == ["gpi2", "gpi", "ms", "zz"]


QUBITS = [
    ({"qubits": 17, "circuit": [{"gate": "h", "target": 0}]},
     "field 'qubits': 17 qubits is more than 16, the limit of the local simulator"),
    ({"qubits": 10 ** 30, "circuit": []},
     "field 'qubits': about 10**30 qubits is more than 16, the limit of the local simulator"),
    ({"circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 20, "target": 0}]},
     "gate 1, field 'control': qubit index 20 needs 21 qubits, more than 16, the limit of the local simulator"),
    ({"qubits": 2, "circuit": [{"gate": "h", "target": 10 ** 5000}]},
     "gate 0, field 'target': qubit index about 10**5000 is out of range for 2 qubits"),
]


@pytest.mark.parametrize("src,message", QUBITS, ids=[m[:40] for _, m in QUBITS])
def test_qubit_counts_are_checked_against_the_limit_at_the_door(src, message):
    with pytest.raises(CircuitError) as err:
        parse_circuit(src)
    assert str(err.value) == message


def test_a_backend_passes_its_own_limit():
    src = {"qubits": 20, "circuit": [{"gate": "h", "target": 19}]}
    assert parse_circuit(src, max_qubits=25, limit_of="qpu.aria-1").n_qubits == 20
    with pytest.raises(CircuitError, match="26 qubits is more than 25, the limit of qpu.aria-1"):
        parse_circuit({"qubits": 26, "circuit": []}, max_qubits=25, limit_of="qpu.aria-1")


def test_default_limit_is_the_simulators():
    from engine.circuits.validate import DEFAULT_MAX_QUBITS
    from engine.sim import MAX_QUBITS

    assert DEFAULT_MAX_QUBITS == MAX_QUBITS


def test_an_unknown_field_of_a_circuit_is_refused_naming_it_not_dropped():
    """A typo ("qubit": 5) let the count be inferred; a job's "shots" vanished silently."""
    from engine.circuits.ionq_json import parse_circuit

    for extra in ("qubit", "shots"):
        with pytest.raises(CircuitError, match=f"field '{extra}': unknown field"):
            parse_circuit({"qubits": 1, "circuit": [{"gate": "x", "target": 0}], extra: 5})
    assert parse_circuit({"input": {"qubits": 1, "circuit": [{"gate": "x", "target": 0}]}, "shots": 5}).n_qubits == 1
