"""The SDK cross-check agrees with our own verification, and catches a wrong compile."""

import pytest

from engine.circuits import Circuit
from engine.compiler import NativeGateCompiler, verify
from engine.compiler.crosscheck import CrossCheckError, crosscheck


def _source() -> Circuit:
    c = Circuit(3).add("h", 0).add("cnot", 1, controls=(0,)).add("rx", 2, params=(0.3,)).add("swap", 0, 2)
    return c.add("ry", 1, params=(1.1,)).add("zz", 1, 2, params=(0.4,)).add("z", 0, controls=(1,)).add("t", 2)


@pytest.mark.parametrize("target", ["aria", "forte"])
@pytest.mark.parametrize("sdk", ["cirq", "qiskit"])
def test_crosscheck_confirms_a_correct_compile(target, sdk):
    if sdk == "qiskit":
        pytest.importorskip("qiskit")
    src = _source()
    res = NativeGateCompiler(target).compile(src)
    ours = verify(src, res.circuit, res.permutation, res.frames)
    theirs = crosscheck(src, res.circuit, sdk=sdk, permutation=res.permutation, frames=res.frames)
    assert ours == pytest.approx(1.0, abs=1e-9)
    assert theirs == pytest.approx(1.0, abs=1e-9)


def test_crosscheck_catches_a_wrong_phase():
    src = _source()
    res = NativeGateCompiler("aria").compile(src)
    gates = list(res.circuit.gates)
    k = next(i for i, g in enumerate(gates) if g.name == "gpi2")
    g = gates[k]
    gates[k] = type(g)(g.name, g.targets, g.controls, (g.params[0] + 0.05,))
    broken = Circuit(res.circuit.n_qubits, gates, "native")
    assert crosscheck(src, broken, sdk="cirq", permutation=res.permutation, frames=res.frames) < 0.999


def test_crosscheck_refuses_unknown_sdk_and_large_circuits():
    with pytest.raises(CrossCheckError, match="quantum_sdk must be 'cirq' or 'qiskit', got 'pennylane'"):
        crosscheck(Circuit(1).add("h", 0), Circuit(1, gateset="native"), sdk="pennylane")
    with pytest.raises(CrossCheckError, match="at most 10 qubits, got 11"):
        crosscheck(Circuit(11).add("h", 0), Circuit(11, gateset="native"))
