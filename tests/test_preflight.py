"""Gradient-variance preflight: its variance against a direct parameter-shift computation, the barren-plateau
verdict, and a real session run that reports it (event, report section) along with the shots it measured."""

import asyncio
import json

import numpy as np
import pytest

from engine.config import TrainingConfig
from engine.events import GradientPreflight, ShotsSpent, parse_event
from engine.model import QuantumModel
from engine.preflight import MAX_SAMPLES, gradient_samples, gradient_variance, preflight_text
from engine.session import EngineSession
from engine.sim import expectations_z, probabilities


def test_preflight_variance_matches_a_direct_parameter_shift_computation():
    m = QuantumModel(2, 3, 2, circuit_depth=2, seed=0)
    inputs = np.random.default_rng(1).uniform(size=(3, 2))
    figures = gradient_variance(m, inputs, initializations=6, seed=7)

    thetas = np.random.default_rng(7).uniform(0.0, 2.0 * np.pi, size=(6, m.n_circuit_params))  # the same draws

    def cost(theta: np.ndarray) -> float:
        b = m.batch(inputs, np.broadcast_to(theta, (3, theta.size)))
        return float(expectations_z(probabilities(b.template, b.angles())).mean())

    grads = []
    for theta in thetas:
        g = []
        for j in range(theta.size):
            e = np.zeros_like(theta)
            e[j] = np.pi / 2
            g.append((cost(theta + e) - cost(theta - e)) / 2)
        grads.append(g)
    direct = np.var(np.array(grads), axis=0)
    np.testing.assert_allclose(gradient_samples(m, inputs, 6, 7), grads, atol=1e-10)
    assert figures.mean_variance == pytest.approx(direct.mean(), abs=1e-12)
    assert figures.min_variance == pytest.approx(direct.min(), abs=1e-12)
    assert figures.max_variance == pytest.approx(direct.max(), abs=1e-12)
    assert figures.n_params == m.n_circuit_params and figures.samples == 3 and not figures.barren_plateau


def test_a_tiny_variance_is_a_barren_plateau_warning():
    m = QuantumModel(2, 2, 2, circuit_depth=1)
    inputs = np.full((MAX_SAMPLES + 4, 2), 0.5)
    f = gradient_variance(m, inputs, initializations=4, threshold=10.0)
    assert f.barren_plateau and f.samples == MAX_SAMPLES
    assert "barren plateau" in preflight_text(f)
    with pytest.raises(ValueError, match="preflight_initializations: a variance needs >= 2"):
        gradient_variance(m, inputs, initializations=1)


def test_a_session_reports_the_preflight_and_the_shots_per_unit_of_loss(tmp_path):
    cfg = TrainingConfig(backend="local", n_qubits=2, circuit_depth=1, shots_per_circuit=50, epochs=2, n_samples=40,
                         batch_size=8, embeddings_to_store=False, gradient_method="shot_adaptive",
                         learning_rate=0.3, preflight_initializations=5, use_native_gates=False)
    finished = asyncio.run(EngineSession(cfg, runs_dir=tmp_path).run())
    assert finished.status == "completed"
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    events = [parse_event(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    pre = [e for e in events if isinstance(e, GradientPreflight)]
    shots = [e for e in events if isinstance(e, ShotsSpent)]
    assert len(pre) == 1 and pre[0].initializations == 5 and pre[0].mean_variance > 0
    assert [s.epoch for s in shots] == [0, 1] and shots[1].step_shots > shots[0].step_shots > 0
    report = json.loads((run_dir / "report.json").read_text())
    assert report["preflight"]["initializations"] == 5
    assert report["shots"]["step_shots"] == shots[1].step_shots
    text = (run_dir / "report.md").read_text()
    assert "Gradient Preflight" in text and "Per unit of loss" in text


def test_the_config_screen_command_and_the_training_view_show_the_figures():
    from qstore_tui.screens.config import _preflight_text
    from qstore_tui.view import SessionView
    from qstore_tui.widgets.stats_panel import _details

    text = _preflight_text(TrainingConfig(n_qubits=2, circuit_depth=1, n_samples=20, preflight_initializations=4))
    assert text.startswith("gradient variance over 4 initializations: mean ") and "trainable" in text
    view = SessionView()
    view.apply(ShotsSpent(epoch=0, step_shots=12_000, total_shots=15_000, first_loss=0.7, train_loss=0.4,
                          shots_per_loss=40_000.0))
    assert "shots 12,000 (40,000 per unit of loss)" in _details(view)
