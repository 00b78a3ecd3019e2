"""Templates: slot wiring, vectorized binding, and a structure hash computed from the template itself."""

import re

import numpy as np
import pytest

from engine.circuits import Circuit, CircuitBatch, CircuitError, Template, TemplateBuilder, circuit_to_json, parse_circuit
from helpers import model_template


def test_binding_puts_inputs_and_trainables_in_their_own_gates():
    b = TemplateBuilder(2, n_inputs=2)
    b.gate("ry", 0, angles=(b.input(0, np.pi),)).gate("ry", 1, angles=(b.input(1, np.pi),))
    b.gate("rz", 0, angles=(b.trainable(),)).gate("rx", 1, angles=(b.trainable() * 2 + 0.5,))
    t = b.build()
    params = np.array([[0.1, 0.2]])
    inputs = np.array([[0.3, 0.4]])
    (c,) = t.bind(params, inputs)
    assert [g.params[0] for g in c.gates] == pytest.approx([np.pi * 0.3, np.pi * 0.4, 0.1, 0.2 * 2 + 0.5], abs=1e-15)


def test_same_params_with_different_inputs_bind_to_different_circuits():
    t = model_template(4, 2)
    params = np.full((2, t.n_trainable), 0.3)
    inputs = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    a, b = t.bind(params, inputs)
    assert a.gates != b.gates
    # only the encoding gates differ
    diff = [i for i, (ga, gb) in enumerate(zip(a.gates, b.gates)) if ga != gb]
    assert diff == [0, 1, 2, 3]


def test_bound_circuit_equals_the_circuit_built_by_hand():
    t = model_template(3, 1)
    rng = np.random.default_rng(0)
    p, x = rng.normal(size=t.n_trainable), rng.random(3)
    (bound,) = t.bind(p, x)
    hand = Circuit(3)
    for q in range(3):
        hand.add("ry", q, params=(np.pi * x[q],))
    for q in range(3):
        hand.add("ry", q, params=(p[2 * q],)).add("rz", q, params=(p[2 * q + 1],))
    for q in range(2):
        hand.add("cnot", q + 1, controls=(q,))
    assert bound.gates == hand.gates
    assert parse_circuit(circuit_to_json(bound)).gates == hand.gates


def test_bind_angles_is_one_matmul_over_the_batch():
    t = model_template(8, 2)
    rng = np.random.default_rng(1)
    p, x = rng.normal(size=(200, t.n_trainable)), rng.random((200, 8))
    a = t.bind_angles(p, x)
    assert a.shape == (200, t.n_angles)
    row = np.array([g.params[0] for g in t.bind(p[7], x[7])[0].gates if g.params])
    assert np.array_equal(a[7], row)


def test_structure_hash_depends_on_structure_not_on_values_or_labels():
    t1, t2 = model_template(4, 2), model_template(4, 2)
    t2.label = "caller-chosen-name"
    assert t1.structure_hash == t2.structure_hash
    assert model_template(4, 3).structure_hash != t1.structure_hash
    # swapping which slot is trainable and which is an input changes the hash
    a = TemplateBuilder(1, n_inputs=1)
    a.gate("ry", 0, angles=(a.input(0),))
    a.trainable()
    b = TemplateBuilder(1, n_inputs=1)
    b.gate("ry", 0, angles=(b.trainable(),))
    assert a.build().structure_hash != b.build().structure_hash
    # so does the wiring
    c1 = Template.from_circuit(Circuit(2).add("cnot", 1, controls=(0,)))[0]
    c2 = Template.from_circuit(Circuit(2).add("cnot", 0, controls=(1,)))[0]
    assert c1.structure_hash != c2.structure_hash


def test_concrete_circuits_with_the_same_gates_share_a_template():
    a = Circuit(2).add("rx", 0, params=(0.1,)).add("cnot", 1, controls=(0,))
    b = Circuit(2).add("rx", 0, params=(0.9,)).add("cnot", 1, controls=(0,))
    batch = CircuitBatch.from_circuits([a, b])
    assert len(batch) == 2 and batch.params[:, 0].tolist() == [0.1, 0.9]
    with pytest.raises(ValueError, match="circuit 1 has a different structure"):
        CircuitBatch.from_circuits([a, Circuit(2).add("ry", 0, params=(0.1,)).add("cnot", 1, controls=(0,))])


def test_shape_errors_name_the_mismatch():
    t = model_template(2, 1)
    with pytest.raises(ValueError, match="params has 3 columns; the template has 4 trainable slots"):
        t.bind_angles(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"inputs has shape \(5, 3\); expected \(5, 2\)"):
        t.bind_angles(np.zeros((5, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="finite"):
        t.bind_angles(np.full((1, 4), np.nan), np.zeros((1, 2)))
    with pytest.raises(CircuitError, match="input slot 3 out of range"):
        TemplateBuilder(2, n_inputs=2).input(3)


@pytest.mark.parametrize("build, message", [
    (lambda: TemplateBuilder(1).gate("foo", 0), "gate 0, field 'gate': unknown gate 'foo'"),  # was KeyError
    (lambda: TemplateBuilder(1).gate("gpi", 0, angles=(0.1,)), "'gpi' is a native gate in a qis circuit"),
    (lambda: TemplateBuilder(1, gateset="bogus"), "gateset must be 'qis' or 'native', got 'bogus'"),
    (lambda: TemplateBuilder(1, n_inputs=-1), "n_inputs must be a whole number >= 0, got -1"),  # numpy's error
    (lambda: TemplateBuilder(1, n_inputs=2.0), "n_inputs must be a whole number >= 0, got 2.0"),
    (lambda: TemplateBuilder(1).gate("rx", 0, angles=(float("nan"),)), "rotation must be finite, got nan"),
    (lambda: TemplateBuilder(1).trainable(scale=float("inf")), "scale must be finite, got inf"),  # NaN rows
])
def test_the_builder_refuses_what_would_fail_later_naming_it(build, message):
    with pytest.raises(CircuitError, match=re.escape(message)):
        build()
    assert TemplateBuilder(1, n_inputs=np.int64(2)).n_inputs == 2


def test_a_circuit_ionq_would_refuse_is_an_error_in_the_simulators_circuit_functions():
    from engine.sim import circuit_probabilities, circuit_state, unitary

    for run in (unitary, circuit_state, circuit_probabilities):
        with pytest.raises(CircuitError, match="qubit index 5 is out of range for 2 qubits"):  # was IndexError
            run(Circuit(2).add("h", 5))
        with pytest.raises(CircuitError, match="angle must be finite"):  # was all NaN
            run(Circuit(1).add("rx", 0, params=(float("nan"),)))
