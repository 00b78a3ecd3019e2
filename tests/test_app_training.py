"""Training from the app: a short local run fills the Training screen; pause, resume and stop work;
keys answer while the engine runs; engine failures become notifications, never a crash."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from textual import events

from engine.backends.base import BackendLimits
from engine.config import TrainingConfig
from engine.events import RunFinished, StepMetrics
from engine.runs import read_events
from qstore_tui.screens.training import TrainingScreen
from qstore_tui.widgets.line_chart import LineChart
from qstore_tui.widgets.log_pane import LogPane
from qstore_tui.widgets.queue_table import QueueTable


def short_config(**kw) -> TrainingConfig:
    base = dict(backend="local", n_qubits=4, circuit_depth=1, shots_per_circuit=0, epochs=2, n_samples=40,
                batch_size=8, embeddings_to_store=False, log_interval=1)
    return TrainingConfig(**{**base, **kw})


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


async def test_a_short_local_run_fills_the_training_screen(tmp_path, app_factory):
    app = app_factory(config=short_config(), runs_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        t0 = time.monotonic()
        await pilot.press("ctrl+r")  # Start, from the Config screen
        await pilot.pause()
        assert app.current_mode == "training"
        await app.workers.wait_for_complete()
        elapsed = time.monotonic() - t0
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        view = app.bridge.view
        assert view.status == "completed"

        events = read_events(app.bridge.run_dir)
        losses = [e.loss for e in events if isinstance(e, StepMetrics)]
        assert len(losses) == view.total_steps == 2 * 4  # 32 training samples / batch 8, two epochs
        chart = screen.query_one("#loss", LineChart)
        assert chart.values == losses and all(math.isfinite(v) for v in losses)
        assert f"{losses[-1]:.3f}" in str(chart.border_title)
        assert view.throughput and min(view.throughput) > 0
        assert screen.query_one(QueueTable).rows
        log_text = "\n".join(line.text for line in screen.query_one(LogPane).lines)
        assert "run completed after 8 steps" in log_text
        assert [e for e in events if isinstance(e, RunFinished)][-1].status == "completed"
        # UI updates are coalesced: one when starting, then at most one per 0.1 s, plus the last.
        assert app.bridge.publishes < len(events)
        assert app.bridge.publishes <= elapsed / 0.1 + 3


async def test_keys_pause_resume_and_stop_while_training_runs(tmp_path, app_factory):
    app = app_factory(config=short_config(epochs=500, n_qubits=6), runs_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        app.action_start()
        await wait_for(pilot, lambda: app.bridge.view.step >= 1)

        for key, mode in (("3", "compiler"), ("f4", "report"), ("5", "runs"), ("f2", "training")):
            # Straight to the app, as a terminal sends it (Pilot.press waits for an idle CPU, which
            # never comes while training runs flat out).
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            await wait_for(pilot, lambda: app.current_mode == mode, timeout=5.0)
        assert app.bridge.view.status == "running"

        first = app.bridge.run_dir
        app.action_start()  # a second run while one is going is refused
        await pilot.pause()
        assert app.bridge.run_dir == first
        assert any("still going" in n.message for n in app._notifications)

        app.post_message(events.Key("p", "p"))
        await wait_for(pilot, lambda: app.bridge.view.status == "paused")
        assert app.bridge.session.status.value == "paused"
        await pilot.pause(0.3)  # a step in flight may still finish; after that, nothing moves
        frozen = app.bridge.view.step
        await pilot.pause(0.3)
        assert app.bridge.view.step == frozen

        app.post_message(events.Key("r", "r"))
        await wait_for(pilot, lambda: app.bridge.view.step > frozen)

        app.post_message(events.Key("s", "s"))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.bridge.view.status == "stopped"
        final = [e for e in read_events(app.bridge.run_dir) if isinstance(e, RunFinished)]
        assert final[-1].status == "stopped" and final[-1].steps < app.bridge.view.total_steps


async def test_engine_crash_becomes_a_notification_not_a_traceback(tmp_path, app_factory):
    class BrokenBackend:
        """A backend with a bug: the session re-raises programming errors after its events."""

        name = "broken"
        limits = BackendLimits()

        async def run(self, batch, *, shots=0, seed=None):
            raise ZeroDivisionError("bug in a backend")

        async def close(self):
            return None

    from engine.session import EngineSession

    app = app_factory(config=short_config(), runs_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        session = EngineSession(app.config, runs_dir=tmp_path, backend=BrokenBackend())
        app.bridge._go_live(session, app.config)
        await wait_for(pilot, lambda: app.bridge.view.status == "failed")
        await pilot.pause(0.2)
        assert app.is_running and app.return_code is None
        assert app.bridge.view.status == "failed"
        messages = [n.message for n in app._notifications]
        assert any("bug in a backend" in m for m in messages)
        assert any("bug in a backend" in line.message for line in app.bridge.view.logs)


async def test_ionq_authentication_error_is_shown(tmp_path, monkeypatch, app_factory):
    """A real IonQ client against a loopback emulator that does not know the key."""
    from engine.backends.emulator import EmulatorServer, EmulatorSettings

    server = EmulatorServer(EmulatorSettings(port=0, api_keys=("the-right-key",)))
    url = await asyncio.to_thread(server.start)
    try:
        monkeypatch.setenv("IONQ_API_KEY", "a-wrong-key-4242")
        config = short_config(backend="ionq", ionq_api_url=url, shots_per_circuit=100)
        app = app_factory(config=config, runs_dir=tmp_path)
        async with app.run_test(size=(100, 40)) as pilot:
            app.action_start()
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)
            assert app.bridge.view.status == "failed"
            assert app.bridge.view.fatal_error.message == "invalid IonQ API key"
            assert any(n.message == "invalid IonQ API key" for n in app._notifications)
            assert "a-wrong-key-4242" not in app.export_screenshot()
            assert "run failed: ionq: invalid IonQ API key" in app.export_screenshot().replace("&#160;", " ")
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_diverged_run_with_nan_and_inf_losses_opens_on_every_screen_without_a_crash(tmp_path, app_factory):
    """Its NaN and inf points are gaps in the charts (int(nan) in the chart's scaling ended the app)."""
    from runs_fixtures import fake_run

    from qstore_tui.screens.compare import CompareScreen
    from qstore_tui.widgets.line_chart import braille_lines

    nan, inf = float("nan"), float("inf")
    run = fake_run(tmp_path, "diverged", losses=[nan, inf, 0.3, 0.2, nan, 0.25], val_accuracy=[nan, 0.5, 0.6])
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_run(run, "open")
        await pilot.pause()
        loss = app.screen.query_one("#loss", LineChart)
        await wait_for(pilot, lambda: len(loss.values) == 6)
        assert "⠀" not in str(loss.render()) and loss.render().plain.strip()  # drawn: the finite points
        for key in ("4", "5"):
            await pilot.press(key)
            await pilot.pause(0.3)
        app.push_screen(CompareScreen([run]))
        await pilot.pause(0.5)
        assert app.is_running and app._exception is None
    from engine.events import BatchExecuted
    from qstore_tui.view import SessionView

    view = SessionView()
    for cps in (10.0, inf, nan, 20.0):  # a hand-edited or damaged log: Textual's Sparkline would raise on these
        view.apply(BatchExecuted(batch_id=0, circuits=1, total_ms=1.0, throughput_cps=cps))
    assert list(view.throughput) == [10.0, 20.0] and view.batches_done == 4
    assert braille_lines([nan, nan], 4, 1, 0.0, 1.0) == ["    "]
    dots = braille_lines([0.0, nan, 1.0], 6, 1, 0.0, 1.0)[0]
    assert dots.strip() and len(dots) == 6  # two lone points, no segment through the gap
