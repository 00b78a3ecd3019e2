"""QuantumModel: encoding spread over qubits, layer structure, exact parameter persistence."""

import json

import numpy as np
import pytest

from engine.circuits.ir import Circuit, Gate
from engine.model import QuantumModel, encoding_plan, entangler_pairs
from engine.sim import circuit_probabilities, expectations_z, probabilities


def _z(model: QuantumModel, inputs: np.ndarray) -> np.ndarray:
    b = model.batch(inputs)
    return expectations_z(probabilities(b.template, b.angles()))


def test_template_has_encoding_layers_and_entangler():
    m = QuantumModel(2, 4, 2, circuit_depth=3, entanglement="linear")
    names = [op.name for op in m.template.ops]
    assert names[:4] == ["ry"] * 4  # one input rotation per qubit
    assert names.count("rz") == 12 and names.count("ry") == 4 + 12 and names.count("cnot") == 9
    assert m.n_circuit_params == 2 * 4 * 3
    assert m.n_head_params == 2 * 4 + 2
    assert m.n_params == 24 + 10


def test_every_trainable_slot_feeds_one_angle_with_coefficient_one():
    """What makes the +-pi/2 parameter-shift rule exact."""
    w = QuantumModel(3, 5, 2, circuit_depth=2, entanglement="full").template.weights
    assert np.all((w == 0) | (w == 1))
    assert np.all((w != 0).sum(axis=1) == 1)


def test_input_angles_are_pi_times_the_feature():
    m = QuantumModel(2, 3, 2, circuit_depth=1)
    m.set_params(np.zeros(m.n_params))
    x = np.array([[0.25, 0.7]])
    # With zero trainable angles the layer is the identity up to CNOTs; compare with a hand-built circuit.
    gates = [Gate("ry", (0,), (), (np.pi * 0.25,)), Gate("ry", (1,), (), (np.pi * 0.7,)),
             Gate("ry", (2,), (), (np.pi * 0.25,)), Gate("cnot", (1,), (0,)), Gate("cnot", (2,), (1,))]
    expected = circuit_probabilities(Circuit(3, gates))
    b = m.batch(x)
    np.testing.assert_allclose(probabilities(b.template, b.angles())[0], expected, atol=1e-14)


def test_fewer_features_than_qubits_are_repeated_over_all_qubits():
    assert encoding_plan(2, 5) == [[("ry", 0)], [("ry", 1)], [("ry", 0)], [("ry", 1)], [("ry", 0)]]


def test_more_features_than_qubits_are_reuploaded_and_none_is_dropped():
    plan = encoding_plan(7, 3)
    assert plan == [[("ry", 0), ("rz", 3), ("ry", 6)], [("ry", 1), ("rz", 4)], [("ry", 2), ("rz", 5)]]
    m = QuantumModel(7, 3, 2, circuit_depth=1)
    v = m.template.input_weights
    assert np.all((v != 0).sum(axis=1) == 1) and np.all(v[v != 0] == np.pi)


def test_every_feature_changes_the_readout():
    m = QuantumModel(7, 3, 2, circuit_depth=2, seed=3)
    base = np.full((1, 7), 0.4)
    z0 = _z(m, base)
    for i in range(7):
        moved = base.copy()
        moved[0, i] = 0.9
        assert np.max(np.abs(_z(m, moved) - z0)) > 1e-3, f"feature {i} has no effect"


@pytest.mark.parametrize(
    ("kind", "pairs"),
    [
        ("linear", [(0, 1), (1, 2), (2, 3)]),
        ("circular", [(0, 1), (1, 2), (2, 3), (3, 0)]),
        ("full", [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
    ],
)
def test_entangler_wiring(kind, pairs):
    assert entangler_pairs(4, kind) == pairs
    m = QuantumModel(2, 4, 2, circuit_depth=1, entanglement=kind)
    cnots = [(op.controls[0], op.targets[0]) for op in m.template.ops if op.name == "cnot"]
    assert cnots == pairs


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0, 4, 2), {}, "input_dim: must be an integer >= 1, got 0"),
        ((2, 0, 2), {}, "n_qubits: must be an integer >= 1, got 0"),
        ((2, 4, 0), {}, "output_dim: must be an integer >= 1, got 0"),
        ((2, 4, 2), {"circuit_depth": 0}, "circuit_depth: must be an integer >= 1, got 0"),
        ((2, 4, 2), {"entanglement": "star"}, "entanglement: must be one of"),
    ],
)
def test_bad_architecture_is_refused_naming_the_field(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantumModel(*args, **kwargs)


def test_head_is_linear_in_the_expectations():
    m = QuantumModel(2, 3, 2, seed=1)
    theta, w, b = m.split()
    z = np.array([[0.1, -0.2, 0.3], [1.0, 0.0, -1.0]])
    np.testing.assert_allclose(m.head(z), z @ w.T + b)
    assert theta.shape == (m.n_circuit_params,)


def test_params_round_trip_and_are_checked():
    m = QuantumModel(2, 3, 2, seed=1)
    p = np.random.default_rng(0).normal(size=m.n_params)
    m.set_params(p)
    assert np.array_equal(m.get_params(), p)
    with pytest.raises(ValueError, match=r"params: expected shape \(20,\), got \(3,\)"):
        m.set_params(np.zeros(3))
    with pytest.raises(ValueError, match="params: must be finite"):
        m.set_params(np.full(m.n_params, np.nan))


def test_save_and_load_are_exact(tmp_path):
    m = QuantumModel(3, 4, 3, circuit_depth=2, entanglement="circular", seed=5)
    m.set_params(m.get_params() + 1e-17 + np.random.default_rng(2).normal(size=m.n_params) / 3)
    m.fit_scaler(np.random.default_rng(3).normal(size=(20, 3)))
    path = m.save(tmp_path / "model.json")
    loaded = QuantumModel.load(path)
    assert np.array_equal(loaded.get_params(), m.get_params())
    assert loaded.architecture() == m.architecture()
    assert loaded.template.structure_hash == m.template.structure_hash
    x = np.random.default_rng(4).normal(size=(5, 3))
    assert np.array_equal(loaded.encode(x), m.encode(x))
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def test_load_names_the_file_on_bad_content(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match=r"bad.json: format: expected 'qstore-model/1'"):
        QuantumModel.load(path)


def test_encode_needs_a_fitted_scaler_and_the_right_width():
    m = QuantumModel(2, 3, 2)
    with pytest.raises(ValueError, match="no fitted scaler"):
        m.encode(np.zeros((1, 2)))
    m.fit_scaler(np.array([[0.0, 10.0], [2.0, 20.0]]))
    np.testing.assert_allclose(m.encode(np.array([[1.0, 15.0]])), [[0.5, 0.5]])
    with pytest.raises(ValueError, match=r"features: expected shape \(N, 2\), got \(1, 3\)"):
        m.encode(np.zeros((1, 3)))


# ----- data re-uploading -----


def test_reupload_circuit_matches_a_hand_built_one():
    """encoding = "reupload": the input rotations before every layer, checked against gates written out by hand."""
    m = QuantumModel(2, 2, 2, circuit_depth=2, encoding="reupload", seed=5)
    theta = m.split()[0]
    x = np.array([[0.3, 0.8]])
    gates = []
    for layer in range(2):
        gates += [Gate("ry", (0,), (), (np.pi * 0.3,)), Gate("ry", (1,), (), (np.pi * 0.8,))]
        t = theta[4 * layer:4 * layer + 4]
        gates += [Gate("rz", (0,), (), (t[0],)), Gate("ry", (0,), (), (t[1],)),
                  Gate("rz", (1,), (), (t[2],)), Gate("ry", (1,), (), (t[3],)), Gate("cnot", (1,), (0,))]
    b = m.batch(x)
    np.testing.assert_allclose(probabilities(b.template, b.angles())[0],
                               circuit_probabilities(Circuit(2, gates)), atol=1e-13)
    angle = QuantumModel(2, 2, 2, circuit_depth=2, seed=5)
    assert [op.name for op in angle.template.ops].count("ry") == 2 + 4  # encoded once
    assert [op.name for op in m.template.ops].count("ry") == 4 + 4
    assert m.n_params == angle.n_params  # re-uploading adds no trainable parameter


def test_reupload_survives_save_and_load_and_is_part_of_the_architecture(tmp_path):
    m = QuantumModel(2, 3, 2, circuit_depth=2, encoding="reupload")
    loaded = QuantumModel.load(m.save(tmp_path / "m.json"))
    assert loaded.encoding == "reupload"
    assert loaded.template.structure_hash == m.template.structure_hash
    assert m.architecture() != QuantumModel(2, 3, 2, circuit_depth=2).architecture()
    with pytest.raises(ValueError, match="encoding: must be one of"):
        QuantumModel(2, 3, 2, encoding="fourier")  # type: ignore[arg-type]


def test_reupload_from_config():
    from engine.config import TrainingConfig

    cfg = TrainingConfig(n_qubits=2, circuit_depth=3, encoding="reupload")
    assert QuantumModel.from_config(cfg, 2, 2).encoding == "reupload"
