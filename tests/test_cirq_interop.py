"""cirq interop: our IR to cirq and back, for every supported gate."""

import numpy as np
import pytest

from engine.circuits import Circuit, CircuitError
from engine.circuits.cirq_interop import from_cirq, to_cirq
from engine.sim import unitary


def test_round_trip_keeps_the_unitary_for_every_qis_gate():
    c = Circuit(3)
    for name in ["x", "y", "z", "h", "s", "si", "v", "vi", "t", "ti"]:
        c.add(name, 1)
    for name in ["rx", "ry", "rz"]:
        c.add(name, 2, params=(0.321,))
    c.add("cnot", 0, controls=(2,)).add("swap", 0, 1).add("xx", 0, 2, params=(0.4,)).add("yy", 1, 2, params=(0.5,))
    c.add("zz", 0, 1, params=(0.6,)).add("z", 1, controls=(0,)).add("rx", 0, controls=(1,), params=(0.2,))
    back = from_cirq(to_cirq(c))
    assert back.n_qubits == 3
    assert np.max(np.abs(unitary(back) - unitary(c))) < 1e-12


def test_round_trip_native_gates():
    c = Circuit(2, gateset="native").add("gpi", 0, params=(0.1,)).add("gpi2", 1, params=(0.2,))
    c.add("ms", 0, 1, params=(0.3, 0.4, 0.25)).add("zz", 1, 0, params=(0.125,))
    back = from_cirq(to_cirq(c))
    assert back.gateset == "native" and back.gates == c.gates


def test_unsupported_cirq_gate_names_the_operation():
    import cirq

    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit([cirq.H(q[0]), cirq.ISWAP(q[0], q[1])])
    with pytest.raises(CircuitError, match="gate 1, field 'gate': unsupported cirq gate 'ISWAP'"):
        from_cirq(circuit)


def test_measurements_are_dropped():
    import cirq

    q = cirq.LineQubit.range(2)
    c = from_cirq(cirq.Circuit([cirq.H(q[0]), cirq.CNOT(q[0], q[1]), cirq.measure(*q)]))
    assert [g.name for g in c.gates] == ["h", "cnot"]


def test_a_gate_after_a_measurement_of_its_qubit_is_refused_not_dropped_into_wrong_numbers():
    import cirq

    a, b = cirq.LineQubit.range(2)  # H, measure, H: 50/50 in cirq; with the measure dropped, |0> for sure
    with pytest.raises(CircuitError, match=r"gate 2, field 'gate': 'H' acts on qubit 0 after it was measured"):
        from_cirq(cirq.Circuit([cirq.H(a), cirq.measure(a, key="m"), cirq.H(a)]))
    ok = from_cirq(cirq.Circuit([cirq.H(a), cirq.measure(a, key="m"), cirq.H(b), cirq.measure(b, key="n")]))
    assert [g.name for g in ok.gates] == ["h", "h"]  # a later gate on another qubit is fine


def _controlled_cases():
    import cirq

    q0, q1, q2 = cirq.LineQubit.range(3)
    exact = [cirq.rx(0.3).controlled().on(q0, q1), cirq.ry(0.7).controlled().on(q1, q0),
             cirq.rz(-1.1).controlled().on(q0, q2), cirq.ControlledGate(cirq.X**0.5).on(q0, q1),
             cirq.ControlledGate(cirq.S).on(q0, q1), cirq.ControlledGate(cirq.T**-1).on(q2, q0),
             cirq.ControlledGate(cirq.H).on(q0, q1), cirq.ControlledGate(cirq.X, num_controls=2).on(q0, q1, q2),
             # special angles were read as x, v, s, y (equal up to a phase) and refused: they are rotations
             cirq.rx(np.pi).controlled().on(q0, q1), cirq.rx(np.pi / 2).controlled().on(q0, q1),
             cirq.rz(np.pi / 2).controlled().on(q1, q0), cirq.ry(np.pi).controlled().on(q0, q2)]
    phased = [cirq.ControlledGate(cirq.X**0.3).on(q0, q1), cirq.ControlledGate(cirq.Y**0.3).on(q0, q1),
              cirq.ControlledGate(cirq.Z**0.3).on(q0, q1),
              cirq.ControlledGate(cirq.XPowGate(exponent=1, global_shift=0.5)).on(q0, q1)]
    zero = [cirq.ControlledGate(cirq.X, control_values=[0]).on(q0, q1),
            cirq.X(q1).controlled_by(q0, control_values=[0])]
    return exact, phased, zero


def test_a_controlled_cirq_gate_converts_to_the_same_unitary_or_is_refused_naming_why():
    # these became crx(0.3 pi), cnot... silently: fidelity 0.97, 0.71 and 0 against cirq's own unitary
    import cirq

    exact, phased, zero = _controlled_cases()
    for op in exact:
        converted = from_cirq(cirq.Circuit(op))
        ours = unitary(converted)
        qubits = sorted(cirq.Circuit(op).all_qubits())  # numbered in order, as from_cirq does
        assert converted.n_qubits == len(qubits)
        theirs = cirq.Circuit(op).unitary(qubit_order=qubits[::-1])  # little-endian: the first qubit lowest
        phase = theirs.flat[np.argmax(np.abs(theirs))] / ours.flat[np.argmax(np.abs(theirs))]
        assert np.max(np.abs(ours * phase - theirs)) < 1e-12, op
    for op in phased:
        with pytest.raises(CircuitError, match="only up to a global phase, which the control makes a relative one"):
            from_cirq(cirq.Circuit(op))
    for op in zero:
        with pytest.raises(CircuitError, match=r"a control on \|0>"):
            from_cirq(cirq.Circuit(op))
