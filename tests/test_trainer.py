"""QuantumTrainer on the local simulator through the real batch manager: gradients, learning, resume, events."""

import asyncio

import numpy as np
import pytest

from engine.backends.local import LocalSimulatorBackend
from engine.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from engine.config import TrainingConfig
from engine.data import Dataset, make_dataset, train_val_split
from engine.events import Checkpoint, EpochFinished, EventBus, StepMetrics, StoreUpdate
from engine.model import QuantumModel
from engine.sim import expectations_z, probabilities
from engine.store import SQLiteVectorStore
from engine.trainer import TrainingError
from helpers import local_trainer


def config(**kw) -> TrainingConfig:
    base = dict(n_qubits=3, circuit_depth=2, batch_size=4, epochs=1, shots_per_circuit=0, seed=0,
                learning_rate=0.1, log_interval=1, checkpoint_interval=1000,
                gradient_method="spsa_parallel")  # these tests are about SPSA's rows; "auto" would pick adjoint
    return TrainingConfig(**{**base, **kw})


def moons(n=40, seed=0) -> tuple[Dataset, Dataset]:
    return train_val_split(make_dataset("moons", n, seed), 0.25, seed)


def exact_loss(model: QuantumModel, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Cross-entropy recomputed from the simulator directly, without the trainer or engine.gradients."""
    theta, w, b = model.split(params)
    inputs = model.encode(x)
    angles = model.template.bind_angles(np.tile(theta, (len(x), 1)), inputs)
    z = expectations_z(probabilities(model.template, angles))
    logits = z @ w.T + b
    log_norm = np.log(np.sum(np.exp(logits), axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(y)), y]))


def numeric_grad(model, params, x, y, h=1e-6) -> np.ndarray:
    g = np.zeros_like(params)
    for j in range(params.size):
        e = np.zeros_like(params)
        e[j] = h
        g[j] = (exact_loss(model, params + e, x, y) - exact_loss(model, params - e, x, y)) / (2 * h)
    return g


def small_problem(seed=1):
    train, _ = moons(24, seed)
    model = QuantumModel(2, 3, 2, circuit_depth=2, seed=seed)
    model.fit_scaler(train.x)
    return model, train.x[:5], train.y[:5]


# ----- gradients -----


async def test_parameter_shift_gradient_equals_finite_differences_of_the_exact_loss():
    model, x, y = small_problem()
    cfg = config(gradient_method="parameter_shift", optimizer="sgd", momentum=0.0, learning_rate=1.0)
    trainer = local_trainer(cfg)
    before = model.get_params()
    step = await trainer.train_batch(model, x, y)
    grad = before - model.get_params()  # SGD, lr 1, no momentum: the update is the gradient
    np.testing.assert_allclose(grad, numeric_grad(model, before, x, y), atol=1e-6, rtol=0)
    assert step.circuits == 5 * (2 * model.n_circuit_params + 1)
    assert step.grad_norm == pytest.approx(np.linalg.norm(grad), rel=1e-12)


async def test_reported_loss_equals_an_independent_recomputation_at_the_same_parameters():
    model, x, y = small_problem(2)
    for method in ("parameter_shift", "spsa_parallel", "finite_diff"):
        trainer = local_trainer(config(gradient_method=method))
        before = model.get_params()
        step = await trainer.train_batch(model, x, y)
        assert step.loss == pytest.approx(exact_loss(model, before, x, y), abs=1e-12), method
        pred = np.argmax(model.head(_z(model, before, x), before), axis=1)
        assert step.accuracy == np.mean(pred == y)


def _z(model, params, x):
    theta = model.split(params)[0]
    angles = model.template.bind_angles(np.tile(theta, (len(x), 1)), model.encode(x))
    return expectations_z(probabilities(model.template, angles))


async def test_finite_differences_agree_with_parameter_shift():
    model, x, y = small_problem(3)
    grads = {}
    for method in ("parameter_shift", "finite_diff"):
        m = QuantumModel.from_dict(model.to_dict())
        trainer = local_trainer(config(gradient_method=method, optimizer="sgd", momentum=0.0, learning_rate=1.0))
        await trainer.train_batch(m, x, y)
        grads[method] = model.get_params() - m.get_params()
    np.testing.assert_allclose(grads["finite_diff"], grads["parameter_shift"], atol=1e-4)


async def test_spsa_gradient_points_along_the_true_gradient():
    model, x, y = small_problem(4)
    true = numeric_grad(model, model.get_params(), x, y)[: model.n_circuit_params]
    cfg = config(gradient_method="spsa_parallel", optimizer="sgd", momentum=0.0, spsa_samples=100,
                 spsa_a_initial=1.0, spsa_A=0.0, spsa_c_initial=0.01)
    trainer = local_trainer(cfg)
    before = model.get_params()
    step = await trainer.train_batch(model, x, y)
    estimate = (before - model.get_params())[: model.n_circuit_params]  # a_0 = a / (0 + 1 + 0)^alpha = 1
    cosine = estimate @ true / (np.linalg.norm(estimate) * np.linalg.norm(true))
    assert cosine > 0.9
    assert step.spsa_a == 1.0 and step.spsa_c == 0.01
    assert step.circuits == 5 * (2 * 100 + 1)


async def test_spsa_gains_follow_the_schedule():
    model, x, y = small_problem(5)
    cfg = config(gradient_method="spsa_parallel", spsa_a_initial=0.3, spsa_c_initial=0.2, spsa_A=4.0)
    trainer = local_trainer(cfg)
    for k in range(3):
        step = await trainer.train_batch(model, x, y)
        assert step.spsa_a == pytest.approx(0.3 / (k + 1 + 4.0) ** 0.602, rel=1e-15)
        assert step.spsa_c == pytest.approx(0.2 / (k + 1) ** 0.101, rel=1e-15)


async def test_sequential_spsa_takes_the_same_steps_in_more_batches():
    model, x, y = small_problem(6)
    params, batches = {}, {}
    for method in ("spsa", "spsa_parallel"):
        m = QuantumModel.from_dict(model.to_dict())
        trainer = local_trainer(config(gradient_method=method, spsa_samples=2))
        for _ in range(3):
            await trainer.train_batch(m, x, y)
        params[method], batches[method] = m.get_params(), trainer.get_performance_stats().batches
    np.testing.assert_allclose(params["spsa"], params["spsa_parallel"], atol=1e-12, rtol=0)
    assert batches == {"spsa": 3 * 5, "spsa_parallel": 3}


async def test_weight_decay_adds_decay_times_params_to_the_gradient():
    model, x, y = small_problem(7)
    updates = {}
    for wd in (0.0, 0.5):
        m = QuantumModel.from_dict(model.to_dict())
        cfg = config(gradient_method="parameter_shift", optimizer="sgd", momentum=0.0, learning_rate=1.0,
                     weight_decay=wd)
        await local_trainer(cfg).train_batch(m, x, y)
        updates[wd] = model.get_params() - m.get_params()
    np.testing.assert_allclose(updates[0.5] - updates[0.0], 0.5 * model.get_params(), atol=1e-12)


async def test_gradient_clipping_caps_the_norm():
    model, x, y = small_problem(8)
    cfg = config(gradient_method="parameter_shift", optimizer="sgd", momentum=0.0, learning_rate=1.0,
                 use_gradient_clipping=True, gradient_clip_value=1e-3)
    before = model.get_params()
    step = await local_trainer(cfg).train_batch(model, x, y)
    assert step.grad_norm > 1e-3
    assert np.linalg.norm(before - model.get_params()) == pytest.approx(1e-3, rel=1e-12)


# ----- learning -----


async def test_learns_two_moons_well_above_chance():
    train, val = moons(120, 0)
    cfg = config(n_qubits=6, circuit_depth=2, batch_size=10, epochs=5, gradient_method="parameter_shift",
                 use_native_gates=False)
    model = QuantumModel.from_config(cfg, 2, 2)
    result = await local_trainer(cfg).train(model, train, val)
    assert result.status == "completed" and result.steps == 5 * 9
    assert result.epochs[-1].val_accuracy >= 0.9
    assert np.mean(result.losses[-9:]) < 0.8 * np.mean(result.losses[:9])


async def test_learns_xor_with_spsa_and_shots():
    train, val = train_val_split(make_dataset("xor", 120, 1), 0.25, 1)
    cfg = config(n_qubits=2, circuit_depth=2, batch_size=10, epochs=8, gradient_method="spsa_parallel",
                 shots_per_circuit=1000, learning_rate=0.2, spsa_a_initial=0.3, use_native_gates=False)
    model = QuantumModel.from_config(cfg, 2, 2)
    result = await local_trainer(cfg).train(model, train, val)
    assert result.epochs[-1].val_accuracy >= 0.8


async def test_regression_uses_mse_and_learns():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (60, 1))
    data = Dataset(x, np.cos(np.pi * x[:, 0]) * 0.8, 0, "cos", ("x",))
    cfg = config(n_qubits=2, circuit_depth=1, batch_size=10, epochs=6, gradient_method="parameter_shift")
    model = QuantumModel.from_config(cfg, 1, 1)
    result = await local_trainer(cfg).train(model, data)
    assert result.epochs[-1].train_accuracy is None
    assert result.epochs[-1].train_loss < 0.2 * result.epochs[0].train_loss + 1e-3
    z = _z(model, model.get_params(), x)
    mse = np.mean((model.head(z)[:, 0] - data.y) ** 2)
    assert result.epochs[-1].train_loss == pytest.approx(mse, abs=1e-12)


async def test_the_same_seed_gives_the_same_run_with_shots():
    train, val = moons(40, 3)
    runs = []
    for seed in (5, 5, 6):
        cfg = config(seed=seed, shots_per_circuit=200, epochs=2, gradient_method="spsa_parallel")
        model = QuantumModel.from_config(cfg, 2, 2)
        result = await local_trainer(cfg).train(model, train, val)
        runs.append((result.losses, model.get_params()))
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


# ----- checkpoints and resume -----


def _full_run_config(tmp_path, name, **kw):
    return config(epochs=3, shots_per_circuit=100, gradient_method="spsa_parallel", checkpoint_interval=3,
                  checkpoint_directory=str(tmp_path / name), **kw)


async def _run(cfg, train, val, bus=None, resume_from=None):
    model = QuantumModel.from_config(cfg, 2, 2)
    trainer = local_trainer(cfg, bus=bus)
    result = await trainer.train(model, train, val, resume_from=resume_from)
    return trainer, model, result


@pytest.mark.parametrize(("stop_on", "done"), [("step 6", 7), ("epoch 0", 6)])
async def test_a_stopped_run_resumes_to_the_same_losses(tmp_path, stop_on, done):
    """Stopped mid-epoch, or at an epoch boundary (after the epoch's evaluation, before the next order)."""
    train, val = moons(32, 1)  # 24 training samples: 6 steps per epoch, 18 in all
    _, full_model, full = await _run(_full_run_config(tmp_path, "full"), train, val)
    assert len(full.losses) == 18

    bus = EventBus()
    cfg = _full_run_config(tmp_path, "stopped")
    holder = {}

    def stop(event):
        if (stop_on == "step 6" and isinstance(event, StepMetrics) and event.step == 6) or (
                stop_on == "epoch 0" and isinstance(event, EpochFinished) and event.epoch == 0):
            holder["trainer"].request_stop()

    bus.add_sink(stop)
    model = QuantumModel.from_config(cfg, 2, 2)
    holder["trainer"] = trainer = local_trainer(cfg, bus=bus)
    stopped = await trainer.train(model, train, val)
    assert stopped.status == "stopped" and stopped.steps == done and trainer.state.status == "stopped"
    assert stopped.checkpoint.name == f"step-{done:06d}.json"
    assert stopped.losses == full.losses[:done]

    _, resumed_model, resumed = await _run(cfg, train, val, resume_from=stopped.checkpoint)
    assert resumed.first_step == done
    assert resumed.losses == full.losses[done:]  # bit for bit, shots included
    assert np.array_equal(resumed_model.get_params(), full_model.get_params())
    assert [e.val_loss for e in resumed.epochs] == [e.val_loss for e in full.epochs[1:]]


async def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    train, val = moons(32, 1)
    _, _, full = await _run(_full_run_config(tmp_path, "full"), train, val)

    class Killed(Exception):
        pass

    def crash(event):
        if isinstance(event, StepMetrics) and event.step == 7:
            raise Killed

    bus = EventBus()
    bus.add_sink(crash)
    cfg = _full_run_config(tmp_path, "killed")
    with pytest.raises(Killed):
        await _run(cfg, train, val, bus=bus)
    last = latest_checkpoint(tmp_path / "killed")
    assert last.name == "step-000006.json"  # written at the end of epoch 0's steps, before its evaluation
    _, _, resumed = await _run(cfg, train, val, resume_from=last)
    assert resumed.losses == full.losses[6:]
    assert [(e.epoch, e.train_loss, e.val_accuracy) for e in resumed.epochs] == [
        (e.epoch, e.train_loss, e.val_accuracy) for e in full.epochs]


async def test_checkpoints_hold_the_state_but_no_secrets(tmp_path):
    train, val = moons(32, 1)
    cfg = _full_run_config(tmp_path, "ck", quantum_api_key="ionq-SECRET-123", pinecone_api_key="pc-SECRET-456")
    _, model, result = await _run(cfg, train, val)
    text = result.checkpoint.read_text()
    assert "SECRET" not in text
    state = load_checkpoint(result.checkpoint)
    assert state["step"] == 18 and state["config"]["seed"] == 0
    assert "quantum_api_key" not in state["config"]
    assert state["optimizer"]["kind"] == "adam" and state["optimizer"]["t"] == 18
    assert state["model"]["params"] == model.get_params().tolist()
    assert state["model"]["scaler"]["minimum"] == model.scaler.minimum.tolist()
    assert set(state["rng"]) >= {"bit_generator", "state"}
    assert len(list((tmp_path / "ck").glob("step-*.json"))) == 3  # older ones pruned


async def test_resume_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    train, val = moons(32, 1)
    _, _, result = await _run(_full_run_config(tmp_path, "a"), train, val)
    with pytest.raises(CheckpointError, match="batch_size: checkpoint has 4, this run has 5"):
        await _run(_full_run_config(tmp_path, "b").model_copy(update={"batch_size": 5}), train, val,
                   resume_from=result.checkpoint)
    other, _ = moons(32, 2)
    with pytest.raises(CheckpointError, match="data_fingerprint"):
        await _run(_full_run_config(tmp_path, "c"), other, val, resume_from=result.checkpoint)


# ----- events, store, control -----


async def test_events_follow_the_intervals_and_switches(tmp_path):
    train, val = moons(40, 2)  # 30 training samples, batch 4: 8 steps per epoch
    bus = EventBus()
    seen = []
    bus.add_sink(seen.append)
    store = SQLiteVectorStore(":memory:", dimension=3)
    cfg = config(epochs=2, log_interval=5, track_gradients=False, checkpoint_interval=6,
                 checkpoint_directory=str(tmp_path / "ck"))
    model = QuantumModel.from_config(cfg, 2, 2)
    trainer = local_trainer(cfg, bus=bus, store=store, run_id="run-a")
    result = await trainer.train(model, train, val)
    steps = [e for e in seen if isinstance(e, StepMetrics)]
    assert [e.step for e in steps] == [0, 5, 10, 15]
    assert all(e.grad_norm is None and e.total_steps == 16 for e in steps)
    assert [e.circuits for e in steps] == [12, 12, 12, 6]  # the last minibatch of an epoch has 2 samples
    assert [e.step for e in seen if isinstance(e, Checkpoint)] == [6, 12, 16]
    epochs = [e for e in seen if isinstance(e, EpochFinished)]
    assert [(e.epoch, e.val_accuracy) for e in epochs] == [(r.epoch, r.val_accuracy) for r in result.epochs]
    updates = [e for e in seen if isinstance(e, StoreUpdate)]
    assert [(u.epoch, u.upserted, u.namespace) for u in updates] == [(0, 40, "run-a"), (1, 40, "run-a")]
    assert all(0.0 <= u.knn_accuracy <= 1.0 for u in updates)
    assert store.describe().namespaces == {"run-a": 80}
    record = store.fetch("run-a", ["e1-val-3"])["e1-val-3"]
    assert record.metadata == {"run_id": "run-a", "epoch": 1, "split": "val", "label": int(val.y[3]), "sample_id": 3}
    final = await trainer.validate(model, val)
    np.testing.assert_allclose(record.values, final.embeddings[3].astype(np.float32))
    assert result.epochs[-1].knn_accuracy == updates[-1].knn_accuracy
    stats = trainer.get_performance_stats()
    assert stats.circuits == 2 * (7 * 12 + 6) + 2 * 40 + 10 and stats.throughput_cps > 0
    assert 0.0 <= stats.manager.cache_hit_rate <= 1.0


async def test_a_stopped_run_still_reports_its_last_step(tmp_path):
    train, _ = moons(24, 0)
    bus = EventBus()
    seen = []
    bus.add_sink(seen.append)
    holder = {}
    bus.add_sink(lambda e: isinstance(e, Checkpoint) and e.step == 3 and holder["t"].request_stop())
    cfg = config(epochs=2, log_interval=4, checkpoint_interval=3, checkpoint_directory=str(tmp_path))
    holder["t"] = trainer = local_trainer(cfg, bus=bus)
    result = await trainer.train(QuantumModel.from_config(cfg, 2, 2), train)
    assert result.status == "stopped" and result.steps == 3
    assert [e.step for e in seen if isinstance(e, StepMetrics)] == [0, 2]
    assert [e.step for e in seen if isinstance(e, Checkpoint)] == [3, 3]  # the interval's, then the stop's


async def test_grad_norm_is_reported_when_tracking_gradients():
    train, _ = moons(24, 0)
    bus = EventBus()
    seen = []
    bus.add_sink(seen.append)
    cfg = config(track_gradients=True, log_interval=1)
    await local_trainer(cfg, bus=bus).train(QuantumModel.from_config(cfg, 2, 2), train)
    norms = [e.grad_norm for e in seen if isinstance(e, StepMetrics)]
    assert len(norms) == 5 and all(n > 0 for n in norms)


async def test_pause_holds_between_steps_and_resume_continues():
    train, _ = moons(24, 0)
    bus = EventBus()
    holder = {}

    def pause_after_two(event):
        if isinstance(event, StepMetrics) and event.step == 1:
            holder["t"].request_pause()

    bus.add_sink(pause_after_two)
    cfg = config(epochs=2)
    holder["t"] = trainer = local_trainer(cfg, bus=bus)
    task = asyncio.create_task(trainer.train(QuantumModel.from_config(cfg, 2, 2), train))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if trainer.state.status == "paused":
            break
    assert trainer.state.status == "paused" and trainer.state.step == 2
    await asyncio.sleep(0.05)
    assert trainer.state.step == 2
    trainer.request_resume()
    result = await task
    assert result.status == "completed" and result.steps == 10 and trainer.state.status == "completed"


async def test_early_stopping_when_validation_stops_improving(tmp_path):
    train, val = moons(60, 0)
    flipped = Dataset(val.x, 1 - val.y, 2, "flipped", val.feature_names)  # fitting train makes val worse
    cfg = config(epochs=10, early_stopping_patience=2, batch_size=10, gradient_method="parameter_shift",
                 checkpoint_directory=str(tmp_path))
    result = await local_trainer(cfg).train(QuantumModel.from_config(cfg, 2, 2), train,
                                                                      flipped)
    assert result.status == "early_stopped" and len(result.epochs) < 10
    losses = [e.val_loss for e in result.epochs]
    best_before = min(losses[:-2])
    assert losses[-1] >= best_before and losses[-2] >= best_before
    again = await local_trainer(cfg).train(
        QuantumModel.from_config(cfg, 2, 2), train, flipped, resume_from=result.checkpoint)
    assert again.status == "early_stopped" and again.losses == [] and again.steps == result.steps


async def test_bad_inputs_are_refused_naming_the_field():
    train, val = moons(24, 0)
    cfg = config(early_stopping_patience=1)
    trainer = local_trainer(cfg)
    with pytest.raises(ValueError, match="early_stopping_patience: needs validation data"):
        await trainer.train(QuantumModel.from_config(cfg, 2, 2), train)
    with pytest.raises(ValueError, match="train_data: has 2 features; the model's input_dim is 3"):
        await trainer.train(QuantumModel.from_config(cfg, 3, 2), train, val)
    with pytest.raises(ValueError, match="train_data: has 2 classes; the model's output_dim is 3"):
        await trainer.train(QuantumModel.from_config(cfg, 2, 3), train, val)


async def test_failed_circuits_stop_training_with_a_clear_error():
    class BrokenBackend(LocalSimulatorBackend):
        async def run(self, batch, *, shots=0, seed=None):
            raise RuntimeError("ion trap on fire")

    train, _ = moons(24, 0)
    cfg = config()
    trainer = local_trainer(cfg, BrokenBackend())
    with pytest.raises(TrainingError, match=r"step 0: 12 of 12 spsa circuits failed \(first: circuit 0: "
                                            r"RuntimeError: ion trap on fire\)"):
        await trainer.train(QuantumModel.from_config(cfg, 2, 2), train)
    assert trainer.state.status == "failed"
