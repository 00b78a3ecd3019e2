"""QN-SPSA and shot-adaptive (iCANS / Rosalin) training: their circuits, their estimates, and convergence on small
problems whose optimum is known; the config rules and the shot budget."""

import asyncio

import numpy as np
import pytest
from helpers import local_trainer

from engine.backends.local import LocalSimulatorBackend
from engine.config import ConfigError, TrainingConfig
from engine.data import load_dataset, train_val_split
from engine.events import EventBus, Log, ShotsSpent, StepMetrics
from engine.gradients import PARAMETER_SHIFT, rademacher, spsa_gains, spsa_gradient, spsa_rows
from engine.model import QuantumModel
from engine.optimizers.qnspsa import QNSPSAMetric, metric_sample, overlap_offsets, overlap_rows, overlap_template
from engine.optimizers.shot_adaptive import (ShotAllocator, TermSample, replica_estimates, replica_rows,
                                             sample_terms, term_probabilities)
from engine.parts import build_manager
from engine.sim import expectations_z, probabilities
from engine.sim.statevector import states
from engine.circuits.template import CircuitBatch


def _states(model: QuantumModel, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    b = model.batch(x, theta)
    return states(b.template, b.angles())


def test_overlap_circuit_measures_the_fidelity_as_its_all_zero_probability():
    m = QuantumModel(2, 3, 2, circuit_depth=2, entanglement="circular", seed=1)
    rng = np.random.default_rng(0)
    p = m.n_circuit_params
    theta, x = rng.normal(size=p), rng.uniform(size=(2, 2))
    offsets = rng.normal(scale=0.3, size=(3, p))
    rows, inputs = overlap_rows(theta, x, offsets)
    t = overlap_template(m.template)
    assert t.n_trainable == 2 * p and t.n_inputs == 2
    zero = probabilities(t, CircuitBatch(t, rows, inputs).angles())[:, 0]
    psi = _states(m, np.broadcast_to(theta, (2, p)), x)
    expected = [abs(np.vdot(psi[i], _states(m, (theta + o)[None, :], x[i:i + 1])[0])) ** 2
                for o in offsets for i in range(2)]
    np.testing.assert_allclose(zero, expected, atol=1e-12)
    same, same_x = overlap_rows(theta, x, np.zeros((1, p)))
    np.testing.assert_allclose(probabilities(t, CircuitBatch(t, same, same_x).angles())[:, 0], 1.0, atol=1e-12)


def test_metric_samples_average_to_minus_half_the_fidelity_hessian():
    """E[g_hat] = -1/2 d^2 F(theta, theta + d) / dd^2 at d = 0: the Fubini-Study metric (Gacon et al.)."""
    m = QuantumModel(1, 2, 2, circuit_depth=1, seed=2)
    p, c = m.n_circuit_params, 0.05
    rng = np.random.default_rng(1)
    theta, x = rng.normal(size=p), np.array([[0.4]])
    psi = _states(m, theta[None, :], x)[0]

    def fidelity(shifts: np.ndarray) -> np.ndarray:
        phi = _states(m, theta + shifts, np.repeat(x, len(shifts), axis=0))
        return np.abs(phi.conj() @ psi) ** 2

    h, eye = 1e-3, np.eye(p)
    hessian = np.array([[(fidelity(np.array([h * (eye[i] + eye[j])]))[0] - fidelity(np.array([h * (eye[i] - eye[j])]))[0]
                          - fidelity(np.array([h * (-eye[i] + eye[j])]))[0] + fidelity(np.array([-h * (eye[i] + eye[j])]))[0])
                         / (4 * h * h) for j in range(p)] for i in range(p)])
    draws = 6000
    d1, d2 = rademacher(rng, draws, p), rademacher(rng, draws, p)
    f = fidelity(np.concatenate([overlap_offsets(a, b, c) for a, b in zip(d1, d2)])).reshape(draws, 4)
    mean = np.mean([metric_sample(fi, a, b, c) for fi, a, b in zip(f, d1, d2)], axis=0)
    np.testing.assert_allclose(mean, -hessian / 2, atol=0.03)


def test_qnspsa_reaches_the_known_minimum_through_the_batch_manager():
    """Minimise <Z_0> (minimum -1) with QN-SPSA; every step's loss and overlap rows are one manager call."""
    cfg = TrainingConfig(n_qubits=2, shots_per_circuit=0, use_native_gates=False)
    manager = build_manager(cfg, LocalSimulatorBackend())
    m = QuantumModel(1, 2, 2, circuit_depth=1, seed=3)
    p = m.n_circuit_params
    theta, x = np.array([0.3, 0.4, -0.2, 0.5]), np.zeros((1, 1))
    metric = QNSPSAMetric(p, 1e-3)
    rng = np.random.default_rng(0)
    fid = overlap_template(m.template)
    calls = manager.get_performance_stats().batches
    steps = 60
    for k in range(steps):
        a, c = spsa_gains(k, 0.3, 0.15, 0.602, 0.101, 5)
        deltas = rademacher(rng, 1, p)
        d1, d2 = rademacher(rng, 1, p)[0], rademacher(rng, 1, p)[0]
        rows, rx = spsa_rows(theta, x, deltas, c)
        orows, ox = overlap_rows(theta, x, overlap_offsets(d1, d2, c))
        res = asyncio.run(manager.execute_batch([m.batch(rx, rows), CircuitBatch(fid, orows, ox)], shots=0, seed=k))
        z = expectations_z(res.probabilities[:3])[:, 0]
        metric.update(metric_sample(res.probabilities[3:, 0], d1, d2, c))
        theta = theta - a * metric.natural_gradient(spsa_gradient(z[1:2], z[2:3], deltas, c))
    assert manager.get_performance_stats().batches - calls == steps
    final = expectations_z(probabilities(m.template, m.batch(x, theta[None, :]).angles()))[0, 0]
    assert final < -0.97


def test_shot_adaptive_reaches_the_known_minimum_and_adapts_its_shots():
    """Minimise <Z_0> from 10-shot replicas; the per-parameter counts move away from the minimum."""
    m = QuantumModel(1, 2, 2, circuit_depth=1, seed=4)
    p = m.n_circuit_params
    theta, x = np.array([0.3, 0.4, -0.2, 0.5]), np.zeros((1, 1))
    backend = LocalSimulatorBackend(seed=0)
    alloc = ShotAllocator(p, min_shots=10, lipschitz=1.0, lr=0.4)
    d_z = np.array([[1.0, 0.0]])  # d<Z_0>/dz
    seen = set()
    for k in range(80):
        r = alloc.replicas()
        seen.add(tuple(r))
        rows, rx = replica_rows(theta, x, r, PARAMETER_SHIFT)
        res = backend.run_sync(m.batch(rx, rows), shots=10, seed=k)
        blocks = expectations_z(np.asarray(res.probabilities))[:, None, :]
        grad, var = replica_estimates(blocks, d_z, r, PARAMETER_SHIFT)
        alloc.update(grad, var * 10)
        theta = theta - 0.4 * grad
    final = expectations_z(probabilities(m.template, m.batch(x, theta[None, :]).angles()))[0, 0]
    assert final < -0.9
    assert len(seen) > 1


def test_rosalin_weighted_sampling_reaches_the_known_minimum_never_running_zero_weight_rows():
    """Minimise sum_m a_m <Z_0>_m over four rows (a = 3, 1, 0, 0.5; minimum -4.5 at <Z_0> = -1) from 10-shot
    units drawn by |a_m|: the row of weight 0 is never run, the heavy row most, and the counts adapt."""
    m = QuantumModel(1, 2, 2, circuit_depth=1, seed=4)
    p = m.n_circuit_params
    theta, x = np.array([0.3, 0.4, -0.2, 0.5]), np.zeros((4, 1))
    a = np.array([3.0, 1.0, 0.0, 0.5])
    d_z = np.stack([a, np.zeros(4)], axis=1)  # dL/dz per row; qubit 1 has no weight
    backend = LocalSimulatorBackend(seed=0)
    alloc = ShotAllocator(p, min_shots=10, lipschitz=1.0, lr=0.15)
    rng = np.random.default_rng(5)
    drawn, seen = np.zeros(4, dtype=int), set()
    for k in range(80):
        terms = sample_terms(alloc.units(4), d_z, rng)
        seen.add(tuple(alloc.units(4)))
        drawn += np.bincount(terms.row, minlength=4)
        rows, rx = terms.rows(theta, x, PARAMETER_SHIFT)
        res = backend.run_sync(m.batch(rx, rows), shots=10, seed=k)
        grad, var = terms.estimates(expectations_z(np.asarray(res.probabilities)), d_z, PARAMETER_SHIFT)
        alloc.update(grad, var * 10)
        theta = theta - 0.15 * grad
    final = expectations_z(probabilities(m.template, m.batch(x[:1], theta[None, :]).angles()))[0, 0]
    assert final < -0.9
    assert drawn[2] == 0 and drawn[0] > drawn[1] > drawn[3] > 0
    assert len(seen) > 1


def test_rosalin_estimates_are_unbiased_and_exact_under_proportional_draws():
    """With exact <Z>, units that visit each row in proportion to p give the parameter-shift gradient exactly;
    random draws average to it. Weights are |dL/dz|_1 per row, uniform when all are 0."""
    m = QuantumModel(2, 2, 2, circuit_depth=2, seed=6)
    rng = np.random.default_rng(2)
    theta, x = rng.normal(size=m.n_circuit_params), rng.uniform(size=(3, 2))
    d_z = rng.normal(size=(3, 2))
    prob = term_probabilities(d_z)
    np.testing.assert_allclose(prob, np.abs(d_z).sum(axis=1) / np.abs(d_z).sum())
    np.testing.assert_allclose(term_probabilities(np.zeros((4, 2))), 0.25)
    rows, rx = replica_rows(theta, x, np.full(theta.size, 2), PARAMETER_SHIFT)
    z = expectations_z(probabilities(m.template, m.batch(rx, rows).angles())).reshape(-1, 3, 2)
    exact, _ = replica_estimates(z, d_z, np.full(theta.size, 2), PARAMETER_SHIFT)

    def run(terms: TermSample) -> tuple[np.ndarray, np.ndarray]:
        r, ri = terms.rows(theta, x, PARAMETER_SHIFT)
        return terms.estimates(expectations_z(probabilities(m.template, m.batch(ri, r).angles())), d_z,
                               PARAMETER_SHIFT)

    p = theta.size
    every_row = TermSample(np.repeat(np.arange(p), 3), np.tile(np.arange(3), p), np.full(3, 1 / 3), p)
    np.testing.assert_allclose(run(every_row)[0], exact, atol=1e-10)
    draws = sample_terms(np.full(p, 400), d_z, np.random.default_rng(0))
    assert np.bincount(draws.param).tolist() == [400] * p
    grad, var = run(draws)  # the only noise is the row draw: within 4 standard errors of its own variance
    assert np.all(np.abs(grad - exact) <= 4 * np.sqrt(var / 400) + 1e-12) and var.max() > 0


def test_replica_estimates_are_the_parameter_shift_gradient_when_exact():
    m = QuantumModel(2, 2, 2, circuit_depth=2, seed=6)
    rng = np.random.default_rng(2)
    theta, x = rng.normal(size=m.n_circuit_params), rng.uniform(size=(3, 2))
    r = np.array([2, 3, 2, 2, 4, 2, 2, 2])
    rows, rx = replica_rows(theta, x, r, PARAMETER_SHIFT)
    z = expectations_z(probabilities(m.template, m.batch(rx, rows).angles())).reshape(-1, 3, 2)
    d_z = rng.normal(size=(3, 2))
    grad, var = replica_estimates(z, d_z, r, PARAMETER_SHIFT)
    h = 1e-6
    numeric = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        zp = expectations_z(probabilities(m.template, m.batch(x, np.broadcast_to(theta + e, (3, theta.size))).angles()))
        zm = expectations_z(probabilities(m.template, m.batch(x, np.broadcast_to(theta - e, (3, theta.size))).angles()))
        numeric.append(np.sum((zp - zm) / (2 * h) * d_z))
    np.testing.assert_allclose(grad, numeric, atol=1e-6)
    np.testing.assert_allclose(var, 0.0, atol=1e-20)  # exact replicas agree


# ----- through the trainer -----


def _run(**kw):
    base = dict(n_qubits=2, circuit_depth=1, dataset="blobs", n_samples=60, epochs=2, batch_size=12,
                embeddings_to_store=False, optimizer="sgd", momentum=0.0, use_native_gates=False)
    base.update(kw)
    cfg = TrainingConfig(**base)
    tr, va = train_val_split(load_dataset(cfg), cfg.validation_split, cfg.seed)
    model = QuantumModel.from_config(cfg, tr.n_features, tr.n_classes)
    bus = EventBus()
    events = []
    bus.add_sink(events.append)
    trainer = local_trainer(cfg, LocalSimulatorBackend(seed=0), bus=bus)
    result = asyncio.run(trainer.train(model, tr, va))
    return trainer, result, events


def test_trainer_qnspsa_runs_one_batch_per_step_and_reports_shots():
    trainer, result, events = _run(gradient_method="qnspsa", shots_per_circuit=100, learning_rate=0.2, log_interval=1)
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert result.status == "completed" and len(steps) == result.steps == 8
    m = 12  # minibatch rows; 3 M loss rows and 4 M overlap rows
    assert all(s.circuits in (7 * m, 7 * 4) for s in steps)  # the last minibatch of an epoch holds 4 samples
    assert all(s.shots == s.circuits * 100 for s in steps)
    stats = trainer.get_performance_stats()
    assert stats.batches == result.steps + 2  # one per step, one evaluation per epoch
    assert result.epochs[-1].val_accuracy >= 0.9


def test_trainer_shot_adaptive_stops_at_the_shot_budget():
    trainer, result, events = _run(gradient_method="shot_adaptive", shots_per_circuit=20, learning_rate=0.3,
                                   shot_budget=6_000, epochs=5, log_interval=1)
    assert result.status == "early_stopped"
    spent = sum(e.shots for e in events if isinstance(e, StepMetrics))
    assert 6_000 <= spent < 6_000 + max(e.shots for e in events if isinstance(e, StepMetrics))
    assert any(isinstance(e, Log) and "shot budget exhausted" in e.message for e in events)


def test_a_budget_stop_mid_epoch_still_says_the_shots_it_spent_per_unit_of_loss():
    """The run stopped before any epoch end, so no ShotsSpent came, and the report said "exact expectations"."""
    trainer, result, events = _run(gradient_method="spsa_parallel", shots_per_circuit=20, shot_budget=1_000,
                                   epochs=5, log_interval=1)
    assert result.status == "early_stopped" and not result.epochs  # inside the first epoch
    (spent,) = [e for e in events if isinstance(e, ShotsSpent)]
    assert spent.step_shots == sum(e.shots for e in events if isinstance(e, StepMetrics)) >= 1_000
    assert spent.train_loss == result.losses[-1] and spent.first_loss == result.losses[0]


@pytest.mark.parametrize("method", ["shot_adaptive", "qnspsa"])
def test_trainer_resumes_the_frugal_state_exactly(tmp_path, method):
    kw = dict(gradient_method=method, shots_per_circuit=20, learning_rate=0.3, checkpoint_interval=3)
    _, whole, _ = _run(checkpoint_directory=str(tmp_path / "a"), **kw)
    trainer, part, _ = _run(checkpoint_directory=str(tmp_path / "b"), **kw)
    from engine.checkpoint import checkpoints_in

    middle = [c for c in checkpoints_in(tmp_path / "b") if c.name == "step-000003.json"][0]
    cfg = trainer.config
    tr, va = train_val_split(load_dataset(cfg), cfg.validation_split, cfg.seed)
    model = QuantumModel.from_config(cfg, tr.n_features, tr.n_classes)
    again = local_trainer(cfg, LocalSimulatorBackend(seed=0))
    resumed = asyncio.run(again.train(model, tr, va, resume_from=middle))
    assert resumed.losses == whole.losses[3:]


# ----- config -----


@pytest.mark.parametrize(("kw", "message"), [
    (dict(gradient_method="shot_adaptive", shots_per_circuit=0), "gradient_method: 'shot_adaptive' chooses shot"),
    (dict(gradient_method="shot_adaptive", learning_rate=0.5, shot_lipschitz=5.0), "learning_rate: shot_adaptive needs"),
    (dict(shot_budget=1000, shots_per_circuit=0), "shot_budget: counts measured shots"),
    (dict(qnspsa_blocking=True, gradient_method="spsa"), "qnspsa_blocking: only for gradient_method 'qnspsa'"),
    (dict(qnspsa_regularization=0.0), "qnspsa_regularization"),
    (dict(shot_budget=0), "shot_budget"),
    (dict(encoding="fourier"), "encoding"),
])
def test_frugal_config_fields_are_validated_naming_the_field(kw, message):
    with pytest.raises(ConfigError, match=message):
        TrainingConfig(**kw)


def test_qnspsa_blocking_refuses_a_worse_step_with_one_more_batch():
    metric = QNSPSAMetric(2, 1e-3)
    metric.update(np.zeros((2, 2)))
    assert metric.accept(1.0, 1.0 + 1e-9) is False  # first step: tolerance 0
    metric.update(np.zeros((2, 2)))
    assert metric.accept(0.5, 0.7) is True  # std of [1.0, 0.5] is 0.25: 0.5 + 0.5 >= 0.7
    trainer, result, _ = _run(gradient_method="qnspsa", shots_per_circuit=100, learning_rate=0.2, qnspsa_blocking=True)
    assert trainer.get_performance_stats().batches == 2 * result.steps + 2


def test_a_list_of_batches_is_one_call_with_rows_in_order_native_gates_too():
    cfg = TrainingConfig(n_qubits=2, shots_per_circuit=0, use_native_gates=True)
    manager = build_manager(cfg, LocalSimulatorBackend())
    m = QuantumModel(2, 2, 2, circuit_depth=1, seed=8)
    rng = np.random.default_rng(3)
    theta, x = m.split()[0], rng.uniform(size=(3, 2))
    a = m.batch(x)
    orows, ox = overlap_rows(theta, x, rng.normal(scale=0.2, size=(2, theta.size)))
    b = CircuitBatch(overlap_template(m.template), orows, ox)
    both = asyncio.run(manager.execute_batch([a, b], shots=0))
    alone = [asyncio.run(manager.execute_batch(batch, shots=0)).probabilities for batch in (a, b)]
    assert both.n_circuits == 9
    np.testing.assert_allclose(both.probabilities, np.concatenate(alone), atol=1e-9)


def test_planned_circuits_count_the_frugal_methods_rows():
    from engine.cost import planned_circuits

    kw = dict(epochs=1, batch_size=10, n_train=10, n_val=0, spsa_samples=1, n_circuit_params=4)
    assert planned_circuits(gradient_method="qnspsa", **kw) == 10 * 8 + 10  # 7 M rows, +M for blocking
    assert planned_circuits(gradient_method="shot_adaptive", **kw) == 10 * (2 * 16 * 4 + 1) + 10  # upper bound
