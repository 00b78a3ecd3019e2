"""engine.sim.adjoint: exact gradients of <Z_i> equal to parameter shift, on models and random circuits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.circuits.gates import QIS_GATES
from engine.circuits.template import Template, TemplateBuilder
from engine.gradients import PARAMETER_SHIFT, chain_rule, loss_and_grads, shift_jacobian, shift_rows
from engine.model import ENTANGLEMENTS, QuantumModel
from engine.sim import adjoint, expectations_z, probabilities

SHIFTS = 8  # equidistant shifts per angle: exact for the <= 3 harmonics of every gate below


def _z(t: Template, angles: np.ndarray) -> np.ndarray:
    return expectations_z(probabilities(t, angles))


def general_shift_jacobian(t: Template, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """d<Z_i>/d theta (P, B, n) by the general parameter-shift rule, angle by angle.

    An expectation is a trigonometric polynomial in each angle (period 4 pi in radians for QIS
    gates, controlled ones included; period 1 for native gates in turns), so SHIFTS equidistant
    evaluations give its derivative exactly (Wierichs et al. 2022); slots then follow by the
    chain rule through the template's weights, whatever their coefficients.
    """
    angles = t.bind_angles(params, inputs)
    period = 1.0 if t.gateset == "native" else 4 * np.pi
    shifts = np.arange(SHIFTS) * period / SHIFTS
    harmonics = np.fft.fftfreq(SHIFTS, 1.0 / SHIFTS)
    harmonics[SHIFTS // 2] = 0.0
    d_angle = np.zeros((t.n_angles,) + (params.shape[0], t.n_qubits))
    for k in np.flatnonzero(np.any(t.weights != 0, axis=0)):
        samples = []
        for s in shifts:
            a = angles.copy()
            a[:, k] += s
            samples.append(_z(t, a))
        coef = np.fft.fft(np.array(samples), axis=0) / SHIFTS
        d_angle[k] = np.real(np.tensordot(2j * np.pi * harmonics / period, coef, axes=(0, 0)))
    return np.einsum("pk,kbn->pbn", t.weights, d_angle)


def test_model_jacobian_equals_parameter_shift_for_every_entanglement():
    for ent in ENTANGLEMENTS:
        model = QuantumModel(3, 4, 2, circuit_depth=2, entanglement=ent, seed=3)
        t = model.template
        rng = np.random.default_rng(1)
        theta = rng.normal(size=t.n_trainable)
        x = rng.random((5, 3))
        z, jac = adjoint.jacobian(t, np.tile(theta, (5, 1)), x)
        rows, row_inputs = shift_rows(theta, x, PARAMETER_SHIFT)
        blocks = _z(t, t.bind_angles(rows, row_inputs)).reshape(-1, 5, 4)
        assert np.max(np.abs(z - blocks[0])) < 1e-12
        assert np.max(np.abs(jac - shift_jacobian(blocks, PARAMETER_SHIFT, True))) < 1e-9


def test_loss_gradient_by_one_backward_pass_equals_the_chain_rule_through_parameter_shift():
    model = QuantumModel(2, 5, 2, circuit_depth=3, seed=0)
    t = model.template
    theta, weight, bias = model.split()
    rng = np.random.default_rng(2)
    x, y = rng.random((7, 2)), rng.integers(0, 2, 7)
    res = adjoint.value_and_grad(t, np.tile(theta, (7, 1)), x,
                                 lambda z: loss_and_grads(z, y, weight, bias, 2).d_z)
    rows, row_inputs = shift_rows(theta, x, PARAMETER_SHIFT)
    blocks = _z(t, t.bind_angles(rows, row_inputs)).reshape(-1, 7, 5)
    expected = chain_rule(shift_jacobian(blocks, PARAMETER_SHIFT, True), loss_and_grads(blocks[0], y, weight, bias, 2).d_z)
    assert np.max(np.abs(res.grad.sum(axis=0) - expected)) < 1e-9


def test_chunks_give_the_same_gradient_as_one_pass():
    t = QuantumModel(4, 4, 2, circuit_depth=2, seed=1).template
    rng = np.random.default_rng(4)
    params, x = rng.normal(size=(9, t.n_trainable)), rng.random((9, 4))
    cot = rng.normal(size=(9, 4))
    whole = adjoint.value_and_grad(t, params, x, lambda z: cot)
    small = adjoint.value_and_grad(t, params, x, lambda z: cot, chunk_bytes=2 * 16 * 16 * 2)  # 2 rows a chunk
    assert np.max(np.abs(whole.grad - small.grad)) < 1e-13 and np.max(np.abs(whole.z - small.z)) < 1e-13


@pytest.mark.parametrize("chunk_bytes", [adjoint.DEFAULT_CHUNK_BYTES, 3 * 256 * 16 * 2])
def test_rows_split_between_threads_give_one_threads_numbers(monkeypatch, chunk_bytes):
    """40 rows of 8 qubits (over PARALLEL_MIN_AMPLITUDES): states kept per part, or (3 rows a chunk) simulated
    again before each backward pass; either way one thread's z and gradient (to rounding: the parts' row
    counts differ, and with them the summation order of numpy's products)."""
    from engine.sim import statevector

    t = QuantumModel(8, 8, 2, circuit_depth=2, seed=3).template
    rng = np.random.default_rng(8)
    params, x, cot = rng.normal(size=(40, t.n_trainable)), rng.random((40, 8)), rng.normal(size=(40, 8))
    assert 40 * 2 ** 8 >= adjoint.PARALLEL_MIN_AMPLITUDES
    seen: list[np.ndarray] = []

    def cotangent(z: np.ndarray) -> np.ndarray:
        seen.append(z.copy())
        return cot

    results = []
    for threads in ("2", "1"):
        monkeypatch.setenv(statevector.THREADS_ENV, threads)
        statevector._workers.cache_clear()
        results.append(adjoint.value_and_grad(t, params, x, cotangent, chunk_bytes=chunk_bytes))
    statevector._workers.cache_clear()
    (two, one) = results
    assert np.max(np.abs(two.z - one.z)) < 1e-13 and np.max(np.abs(two.grad - one.grad)) < 1e-12
    assert np.array_equal(seen[0], two.z) and np.array_equal(seen[1], one.z)  # the cotangent saw every row


def test_a_template_without_trainable_slots_has_a_zero_gradient():
    b = TemplateBuilder(2, n_inputs=1)
    t = b.gate("ry", 0, angles=(b.input(0),)).gate("cnot", 1, controls=(0,)).build()
    res = adjoint.value_and_grad(t, np.zeros((3, 0)), np.ones((3, 1)), lambda z: np.ones_like(z))
    assert res.grad.shape == (3, 0)


def test_a_cotangent_of_the_wrong_shape_is_refused():
    t = QuantumModel(2, 2, 2, seed=0).template
    with pytest.raises(ValueError, match="cotangent: expected shape"):
        adjoint.value_and_grad(t, np.zeros((1, t.n_trainable)), np.zeros((1, 2)), lambda z: np.ones(3))


ONE_Q_FIXED = ["x", "y", "z", "h", "s", "si", "v", "vi", "t", "ti"]
ROT = ["rx", "ry", "rz"]
TWO_Q_ROT = ["xx", "yy", "zz"]


def _angle(draw, b: TemplateBuilder, slots: list):
    """const + a few slots with coefficients (a slot may feed several angles) + maybe an input."""
    a = draw(st.floats(-3, 3))
    for _ in range(draw(st.integers(0, 2))):
        a = a + slots[draw(st.integers(0, len(slots) - 1))] * draw(st.sampled_from([1.0, -0.5, 2.0, 0.7]))
    if draw(st.booleans()):
        a = a + b.input(0, 1.3)
    return a


@st.composite
def random_qis_template(draw):
    n = draw(st.integers(1, 4))
    b = TemplateBuilder(n, n_inputs=1)
    slots = [b.trainable() for _ in range(draw(st.integers(1, 4)))]
    for _ in range(draw(st.integers(1, 12))):
        qs = draw(st.permutations(range(n)))
        kind = draw(st.sampled_from(["fixed", "rot", "crot", "cfixed", "cnot", "two", "swap"] if n > 1 else ["fixed", "rot"]))
        if kind == "fixed":
            b.gate(draw(st.sampled_from(ONE_Q_FIXED)), qs[0])
        elif kind == "rot":
            b.gate(draw(st.sampled_from(ROT)), qs[0], angles=(_angle(draw, b, slots),))
        elif kind == "crot":
            controls = tuple(qs[1:1 + draw(st.integers(1, min(2, n - 1)))])
            b.gate(draw(st.sampled_from(ROT)), qs[0], controls=controls, angles=(_angle(draw, b, slots),))
        elif kind == "cfixed":
            b.gate(draw(st.sampled_from(["h", "s", "y", "v"])), qs[0], controls=(qs[1],))
        elif kind == "cnot":
            b.gate("cnot", qs[0], controls=(qs[1],))
        elif kind == "swap":
            b.gate("swap", qs[0], qs[1])
        else:
            b.gate(draw(st.sampled_from(TWO_Q_ROT)), qs[0], qs[1], angles=(_angle(draw, b, slots),))
    assert set(QIS_GATES) >= set(ONE_Q_FIXED + ROT + TWO_Q_ROT)
    return b.build()


@st.composite
def random_native_template(draw):
    n = draw(st.integers(1, 3))
    b = TemplateBuilder(n, n_inputs=1, gateset="native")
    slots = [b.trainable() for _ in range(draw(st.integers(1, 3)))]
    for _ in range(draw(st.integers(1, 8))):
        qs = draw(st.permutations(range(n)))
        kind = draw(st.sampled_from(["gpi", "gpi2", "ms", "zz"] if n > 1 else ["gpi", "gpi2"]))
        if kind in ("gpi", "gpi2"):
            b.gate(kind, qs[0], angles=(_angle(draw, b, slots),))
        elif kind == "ms":
            b.gate("ms", qs[0], qs[1], angles=tuple(_angle(draw, b, slots) for _ in range(3)))
        else:
            b.gate("zz", qs[0], qs[1], angles=(_angle(draw, b, slots),))
    return b.build()


def _check_against_general_shift(t: Template, seed: int) -> None:
    rng = np.random.default_rng(seed)
    params, x = rng.uniform(-2, 2, (2, t.n_trainable)), rng.random((2, 1))
    if t.gateset == "native":
        params = params / 5.0
    z, jac = adjoint.jacobian(t, params, x)
    assert np.max(np.abs(z - _z(t, t.bind_angles(params, x)))) < 1e-12
    assert np.max(np.abs(jac - general_shift_jacobian(t, params, x))) < 1e-9


@settings(max_examples=60, deadline=None)
@given(random_qis_template(), st.integers(0, 2**16))
def test_random_qis_circuits_equal_the_general_parameter_shift_rule(t, seed):
    _check_against_general_shift(t, seed)


@settings(max_examples=30, deadline=None)
@given(random_native_template(), st.integers(0, 2**16))
def test_random_native_circuits_equal_the_general_parameter_shift_rule(t, seed):
    _check_against_general_shift(t, seed)


# ----- the trainer and the config -----


def _config(**kw):
    from engine.config import TrainingConfig

    base = dict(n_qubits=3, circuit_depth=2, batch_size=4, epochs=1, shots_per_circuit=0, seed=0,
                learning_rate=0.1, log_interval=1, checkpoint_interval=1000, optimizer="sgd", momentum=0.0)
    return TrainingConfig(**{**base, **kw})


def test_auto_is_adjoint_for_exact_local_runs_and_spsa_parallel_otherwise():
    assert _config().gradient_estimator == "adjoint"
    assert _config(shots_per_circuit=100).gradient_estimator == "spsa_parallel"
    assert _config(shots_per_circuit=100, noise_model="aria-1").gradient_estimator == "spsa_parallel"
    assert _config(gradient_method="parameter_shift").gradient_estimator == "parameter_shift"


@pytest.mark.parametrize("kw", [
    dict(backend="ionq", shots_per_circuit=100, quantum_api_key="k" * 20),
    dict(backend="emulator", shots_per_circuit=100),
    dict(shots_per_circuit=100),
])
def test_adjoint_is_refused_where_expectations_are_not_exact(kw):
    from engine.config import ConfigError

    with pytest.raises(ConfigError, match="gradient_method: 'adjoint' needs exact expectations on the local simulator"):
        _config(gradient_method="adjoint", **kw)


async def test_an_adjoint_step_equals_a_parameter_shift_step():
    from engine.data import make_dataset
    from helpers import local_trainer

    data = make_dataset("moons", 8, 0)
    after = {}
    for method in ("adjoint", "parameter_shift"):
        model = QuantumModel(2, 3, 2, circuit_depth=2, seed=1)
        model.fit_scaler(data.x)
        trainer = local_trainer(_config(gradient_method=method))
        step = await trainer.train_batch(model, data.x, data.y)
        after[method] = (model.get_params(), step.loss, step.grad_norm, step.circuits)
    (p_a, loss_a, norm_a, circuits_a), (p_s, loss_s, norm_s, circuits_s) = after["adjoint"], after["parameter_shift"]
    assert np.max(np.abs(p_a - p_s)) < 1e-9 and abs(loss_a - loss_s) < 1e-12 and abs(norm_a - norm_s) < 1e-9
    assert circuits_a == 8 and circuits_s == 8 * (2 * 12 + 1)


def test_fixed_gates_past_the_gather_table_budget_differentiate_as_gates(monkeypatch):
    from collections import OrderedDict

    from engine.sim import plan, statevector

    monkeypatch.setattr(statevector, "_plans", OrderedDict())
    monkeypatch.setattr(plan, "PERM_TABLE_BYTES", 24 * 2**3)  # one gather block on 3 qubits, then gates
    b = TemplateBuilder(3, n_inputs=1)
    w = [b.trainable() for _ in range(4)]
    b.gate("ry", 0, angles=(w[0] + b.input(0, 1.3),))
    b.gate("cnot", 1, controls=(0,))
    b.gate("rx", 1, angles=(w[1],))
    b.gate("swap", 0, 2)
    b.gate("rz", 2, angles=(w[2] * 2.0,))
    b.gate("z", 0, controls=(2,))
    b.gate("ry", 0, angles=(w[3],))
    b.gate("cnot", 2, controls=(1,))
    t = b.build()
    assert sum(isinstance(s, plan.Monomial) for s in plan.build_plan(t).steps) == 1
    _check_against_general_shift(t, 7)
