"""Every compiled circuit equals its source up to global phase (process fidelity with our simulator),
for random qis circuits over the whole gate set, for both targets, and for fixed cases."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.circuits import Circuit, Template
from engine.circuits.gates import QIS_GATES
from engine.circuits.cirq_interop import to_cirq
from engine.compiler import NativeGateCompiler, verify
from engine.compiler.program import permutation_index
from engine.compiler.verify import frame_phases
from engine.circuits.library import ry_rz_ladder

TARGETS = ("aria", "forte")
ONE_Q = sorted(n for n, s in QIS_GATES.items() if s.n_targets == 1 and n != "cnot")
TWO_Q = ["xx", "yy", "zz", "swap"]
SPECIAL = [0.0, np.pi / 2, -np.pi / 2, np.pi, -np.pi, 2 * np.pi, np.pi / 4, 3 * np.pi]
EXACT = 1e-9
COMPILERS = {t: NativeGateCompiler(t) for t in TARGETS}


model_template = ry_rz_ladder  # the issues' benchmark workload


angles = st.one_of(st.sampled_from(SPECIAL), st.floats(-10, 10, allow_nan=False))


@st.composite
def circuits(draw):
    n = draw(st.integers(1, 6))
    c = Circuit(n)
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["1q", "1q", "controlled", "cnot", "2q"] if n > 1 else ["1q"]))
        if kind == "1q":
            name = draw(st.sampled_from(ONE_Q))
            c.add(name, draw(st.integers(0, n - 1)), params=(draw(angles),) if QIS_GATES[name].n_params else ())
            continue
        qubits = draw(st.permutations(range(n)))
        if kind == "2q":
            name = draw(st.sampled_from(TWO_Q))
            c.add(name, qubits[0], qubits[1], params=(draw(angles),) if name != "swap" else ())
            continue
        k = draw(st.integers(1, min(2, n - 1)))
        name = "cnot" if kind == "cnot" else draw(st.sampled_from(ONE_Q))
        c.add(name, qubits[k], controls=tuple(qubits[:k]), params=(draw(angles),) if QIS_GATES[name].n_params else ())
    return c


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(circuits())
def test_random_circuits_equal_their_source_on_both_targets(c):
    for target in TARGETS:
        r = COMPILERS[target].compile(c)
        assert r.circuit.gateset == "native"
        assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT, target


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(circuits())
def test_random_circuits_as_parametric_templates(c):
    """Every angle a free slot: structure compiled once, classes valid for all values, bound to the circuit's own."""
    template, row = Template.from_circuit(c)
    for target in TARGETS:
        ct = COMPILERS[target].compile_template(template)
        native, angles, frames = ct.bind_with_frames(row[None, :])
        assert 1 - verify(c, native.circuit_from_angles(angles[0]), ct.permutation, frames[0]) < EXACT, target


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["h", "x", "y", "z", "s", "si", "t", "ti", "v", "vi"])
def test_fixed_one_qubit_gates(target, name):
    c = Circuit(1).add(name, 0)
    r = COMPILERS[target].compile(c)
    assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["rx", "ry", "rz"])
def test_rotations_at_many_angles(target, name):
    for a in list(np.linspace(-4 * np.pi, 4 * np.pi, 33)) + SPECIAL + [1e-13, -1e-13]:
        c = Circuit(2).add("h", 1).add(name, 0, params=(a,)).add("cnot", 1, controls=(0,))
        r = COMPILERS[target].compile(c)
        assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT, a


@pytest.mark.parametrize("target", TARGETS)
def test_cnot_both_ways_and_swap(target):
    for c in (Circuit(2).add("cnot", 1, controls=(0,)), Circuit(2).add("cnot", 0, controls=(1,)),
              Circuit(3).add("h", 0).add("cnot", 2, controls=(0,)).add("cnot", 0, controls=(2,)),
              Circuit(2).add("swap", 0, 1), Circuit(3).add("x", 0).add("swap", 0, 2).add("h", 2).add("swap", 1, 2)):
        r = COMPILERS[target].compile(c)
        assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT


@pytest.mark.parametrize("target", TARGETS)
def test_model_template_at_random_parameters(target):
    t = model_template(5, 2)
    ct = NativeGateCompiler(target).compile_template(t)
    rng = np.random.default_rng(7)
    params, inputs = rng.uniform(-np.pi, np.pi, (6, t.n_trainable)), rng.uniform(-1, 1, (6, 5))
    native, ang, frames = ct.bind_with_frames(params, inputs)
    for r, source in enumerate(t.bind(params, inputs)):
        compiled = native.circuit_from_angles(ang[r])
        assert 1 - verify(source, compiled, ct.permutation, frames[r]) < EXACT


@pytest.mark.parametrize("target", TARGETS)
def test_bound_template_equals_the_same_circuit_compiled_directly(target):
    t = model_template(4, 3)
    rng = np.random.default_rng(11)
    params, inputs = rng.uniform(-np.pi, np.pi, (1, t.n_trainable)), rng.uniform(-1, 1, (1, 4))
    source = t.bind(params, inputs)[0]
    native, ang, frames = NativeGateCompiler(target).compile_template(t).bind_with_frames(params, inputs)
    bound = native.circuit_from_angles(ang[0])
    direct = NativeGateCompiler(target).compile(source)
    assert 1 - verify(source, bound, None, frames[0]) < EXACT
    assert 1 - verify(source, direct.circuit, direct.permutation, direct.frames) < EXACT
    # bound == direct: the direct circuit, then its frames, then the bound circuit's inverse frames.
    assert 1 - verify(bound, direct.circuit, direct.permutation, direct.frames - frames[0]) < EXACT


@pytest.mark.parametrize("target", TARGETS)
def test_compiled_circuits_match_under_cirq_ionq_gate_definitions(target):
    """Independent of our simulator: cirq's unitaries of source and output agree (frames and relabelling put back)."""
    import cirq

    c = (Circuit(3).add("h", 0).add("cnot", 1, controls=(0,)).add("rx", 2, params=(0.7,))
         .add("zz", 1, 2, params=(-2.1,)).add("swap", 0, 2).add("ry", 0, controls=(1,), params=(1.3,)).add("t", 2))
    r = COMPILERS[target].compile(c)
    order = cirq.LineQubit.range(3)[::-1]  # little-endian, like ours
    u = to_cirq(c).unitary(qubit_order=order)
    v = to_cirq(r.circuit).unitary(qubit_order=order)
    v = (frame_phases(r.frames)[:, None] * v)[permutation_index(r.permutation)]
    assert 1 - abs(np.vdot(u, v)) / 8 < EXACT


def test_verify_detects_a_wrong_circuit():
    c = Circuit(2).add("h", 0).add("cnot", 1, controls=(0,))
    r = COMPILERS["aria"].compile(c)
    wrong = Circuit(2, list(r.circuit.gates), "native")
    k = next(i for i, g in enumerate(wrong.gates) if g.name == "gpi2")
    g = wrong.gates[k]
    wrong.gates[k] = type(g)(g.name, g.targets, g.controls, (g.params[0] + 0.01,))
    assert verify(c, wrong, r.permutation, r.frames) < 1 - 1e-5
    assert verify(c, Circuit(2, [], "native")) < 0.9


def test_verify_needs_the_dropped_frames():
    """The frames are part of the operation: without them a circuit ending in a Z rotation is not equal."""
    c = Circuit(1).add("h", 0).add("rz", 0, params=(0.4,))
    r = COMPILERS["forte"].compile(c)
    assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT
    assert verify(c, r.circuit, r.permutation) < 1 - 1e-3


@pytest.mark.parametrize("target", TARGETS)
def test_gates_with_three_and_four_controls(target):
    c = (Circuit(5).add("h", 0).add("h", 1).add("ry", 2, params=(0.8,)).add("z", 3, controls=(0, 1, 2))
         .add("rx", 4, controls=(3, 0, 1, 2), params=(1.7,)).add("cnot", 0, controls=(4, 2, 1)))
    r = COMPILERS[target].compile(c)
    assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT
