"""engine.gradients: loss derivatives and the row layouts of the gradient methods; engine.optim: the optimizers."""

import numpy as np
import pytest

from engine.gradients import (
    chain_rule,
    loss_and_grads,
    rademacher,
    shift_jacobian,
    shift_rows,
    spsa_gains,
    spsa_gradient,
    spsa_rows,
)
from engine.optim import SGD, Adam, clip_by_norm, make_optimizer

RNG = np.random.default_rng(0)
Z = RNG.uniform(-1, 1, (4, 3))
W = RNG.normal(size=(2, 3))
B = RNG.normal(size=2)


def _numeric(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("n_classes", [2, 0])
def test_loss_derivatives_match_numeric_ones(n_classes):
    y = np.array([0, 1, 1, 0]) if n_classes else np.array([0.3, -0.2, 0.9, 0.0])
    w = W if n_classes else W[:1]
    b = B if n_classes else B[:1]
    r = loss_and_grads(Z, y, w, b, n_classes)
    np.testing.assert_allclose(r.d_z, _numeric(lambda z: loss_and_grads(z, y, w, b, n_classes).loss, Z), atol=1e-9)
    np.testing.assert_allclose(r.d_weight, _numeric(lambda v: loss_and_grads(Z, y, v, b, n_classes).loss, w),
                               atol=1e-9)
    np.testing.assert_allclose(r.d_bias, _numeric(lambda v: loss_and_grads(Z, y, w, v, n_classes).loss, b),
                               atol=1e-9)


def test_loss_is_the_mean_of_per_sample_losses_divided_once():
    y = np.array([0, 1, 1, 0])
    r = loss_and_grads(Z, y, W, B, 2)
    logits = Z @ W.T + B
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(p[np.arange(4), y])
    np.testing.assert_allclose(r.per_sample, expected, rtol=1e-14)
    assert r.loss == pytest.approx(expected.sum() / 4, rel=1e-14)
    assert r.accuracy == np.mean(np.argmax(logits, axis=1) == y)


def test_output_dim_must_match_the_classes():
    with pytest.raises(ValueError, match="output_dim: the model has 2 outputs for 3 classes"):
        loss_and_grads(Z, np.array([0, 1, 2, 0]), W, B, 3)


def test_spsa_rows_and_estimate():
    theta = np.array([0.1, 0.2, 0.3])
    x = np.array([[0.5], [0.6]])
    d = rademacher(np.random.default_rng(1), 2, 3)
    assert set(np.unique(d)) <= {-1.0, 1.0}
    rows, inputs = spsa_rows(theta, x, d, 0.05)
    assert rows.shape == (2 * 5, 3) and inputs.shape == (10, 1)
    np.testing.assert_allclose(rows[0:2], [theta, theta])
    np.testing.assert_allclose(rows[2:4], [theta + 0.05 * d[0]] * 2)
    np.testing.assert_allclose(rows[4:6], [theta - 0.05 * d[0]] * 2)
    np.testing.assert_allclose(rows[8:10], [theta - 0.05 * d[1]] * 2)
    np.testing.assert_allclose(inputs[:, 0], [0.5, 0.6] * 5)
    # On a linear loss L = g . theta the estimate is exact per perturbation direction: (g . D) D.
    g = np.array([1.0, -2.0, 0.5])
    est = spsa_gradient(np.array([g @ (theta + 0.05 * di) for di in d]),
                        np.array([g @ (theta - 0.05 * di) for di in d]), d, 0.05)
    np.testing.assert_allclose(est, np.mean([(g @ di) * di for di in d], axis=0))


def test_spsa_gain_schedule():
    assert spsa_gains(0, 0.2, 0.1, 0.602, 0.101, 4.0) == (0.2 / 5 ** 0.602, 0.1)
    a, c = spsa_gains(9, 0.2, 0.1, 0.602, 0.101, 4.0)
    assert a == 0.2 / 14 ** 0.602 and c == 0.1 / 10 ** 0.101


def test_shift_rows_jacobian_and_chain_rule():
    theta = np.array([0.3, -0.4])
    x = np.array([[0.1], [0.2], [0.3]])
    rows, inputs = shift_rows(theta, x, np.pi / 2)
    assert rows.shape == (3 * 5, 2)
    np.testing.assert_allclose(rows[3:6], [theta + [np.pi / 2, 0]] * 3)
    np.testing.assert_allclose(rows[12:15], [theta - [0, np.pi / 2]] * 3)
    # z = cos(theta_0 + x) per sample, one qubit: the shift rule gives -sin exactly.
    z = np.cos(rows[:, :1] + inputs).reshape(5, 3, 1)
    jac = shift_jacobian(z, np.pi / 2, exact_rule=True)
    np.testing.assert_allclose(jac[0, :, 0], -np.sin(theta[0] + x[:, 0]), atol=1e-15)
    np.testing.assert_allclose(jac[1], 0.0, atol=1e-15)
    d_z = np.array([[1.0], [2.0], [3.0]])
    assert chain_rule(jac, d_z)[0] == pytest.approx(-np.sin(theta[0] + x[:, 0]) @ [1, 2, 3])


def test_sgd_with_momentum_accumulates_velocity():
    opt = SGD(2, momentum=0.5)
    p = opt.step(np.zeros(2), np.array([1.0, 2.0]), 0.1)
    p = opt.step(p, np.array([1.0, 0.0]), 0.1)
    np.testing.assert_allclose(p, [-0.1 - 0.1 * 1.5, -0.2 - 0.1 * 1.0])


def test_adam_first_step_is_the_learning_rate_along_the_sign():
    opt = Adam(3, beta1=0.9)
    p = opt.step(np.zeros(3), np.array([1e-3, -5.0, 2.0]), np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(p, [-0.1, 0.2, -0.3], rtol=1e-4)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_optimizer_state_round_trips_exactly(name):
    rng = np.random.default_rng(3)
    a, b = make_optimizer(name, 4, 0.9), make_optimizer(name, 4, 0.9)
    p = rng.normal(size=4)
    for _ in range(3):
        p = a.step(p, rng.normal(size=4), 0.01)
    b.load_state_dict(a.state_dict())
    g = rng.normal(size=4)
    assert np.array_equal(a.step(p, g, 0.01), b.step(p, g, 0.01))


def test_optimizer_errors_name_the_problem():
    with pytest.raises(ValueError, match="optimizer: checkpoint holds 'sgd' state, this run uses 'adam'"):
        Adam(2).load_state_dict(SGD(2).state_dict())
    with pytest.raises(ValueError, match=r"optimizer: checkpoint state has shape \(3,\)"):
        SGD(2).load_state_dict(SGD(3).state_dict())
    with pytest.raises(ValueError, match="gradient is not finite"):
        SGD(1).step(np.zeros(1), np.array([np.nan]), 0.1)
    with pytest.raises(ValueError, match="optimizer: must be 'adam' or 'sgd', got 'rmsprop'"):
        make_optimizer("rmsprop", 2, 0.9)


def test_clip_by_norm():
    g = np.array([3.0, 4.0])
    np.testing.assert_allclose(clip_by_norm(g, 1.0), [0.6, 0.8])
    assert clip_by_norm(g, 10.0) is g
