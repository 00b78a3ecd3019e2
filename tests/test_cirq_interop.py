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
