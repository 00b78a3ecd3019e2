"""The Runs screen: the runs directory, open a run, attach to one being written, resume a stopped one."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import DataTable

from engine.config import TrainingConfig
from engine.events import RunStarted, StepMetrics
from engine.runs import read_events
from engine.session import EngineSession
from qstore_tui.screens.runs import RunsScreen


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


def config(epochs: int = 2) -> TrainingConfig:
    return TrainingConfig(backend="local", n_qubits=4, circuit_depth=1, shots_per_circuit=0, epochs=epochs,
                          n_samples=40, batch_size=8, embeddings_to_store=False, log_interval=1,
                          checkpoint_interval=1)


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.02)


async def show_runs(pilot) -> RunsScreen:
    await pilot.press("5")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    return screen


async def test_the_runs_directory_lists_runs_and_opens_one(tmp_path, app_factory):
    finished = await EngineSession(config(), runs_dir=tmp_path).run()
    assert finished.status == "completed"
    run_dir = next(tmp_path.iterdir())
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await show_runs(pilot)
        table = screen.query_one("#runs", DataTable)
        assert table.row_count == 1
        assert table.get_row_at(0)[:2] == [run_dir.name, "completed"]
        assert table.get_row_at(0)[3] == "8/8"

        await pilot.press("o")
        await pilot.pause()
        assert app.current_mode == "training"
        view = app.bridge.view
        assert view.source == "replay" and view.status == "completed" and view.run_id == run_dir.name
        assert view.losses == [e.loss for e in read_events(run_dir) if isinstance(e, StepMetrics)]


async def test_attach_follows_a_run_written_elsewhere(tmp_path, app_factory):
    writer = EngineSession(config(epochs=6), runs_dir=tmp_path)
    task = asyncio.create_task(writer.run())
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: writer.status.value == "running" and writer.run_dir.exists())
        screen = await show_runs(pilot)
        assert screen.query_one("#runs", DataTable).get_row_at(0)[1] == "running"
        await pilot.press("a")
        await wait_for(pilot, lambda: app.bridge.view.step >= 1)
        assert app.bridge.view.source == "attach" and app.bridge.session is None
        await task
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = app.bridge.view
        assert view.status == "completed"
        assert view.step == view.total_steps == 6 * 4
        assert view.losses == [e.loss for e in read_events(writer.run_dir) if isinstance(e, StepMetrics)]


async def test_resume_a_stopped_run_from_its_checkpoint(tmp_path, app_factory):
    app = app_factory(config=config(epochs=50), runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.action_start()
        await wait_for(pilot, lambda: app.bridge.view.step >= 3)
        app.action_stop()
        await app.workers.wait_for_complete()
        run_dir = app.bridge.run_dir
        stopped_at = app.bridge.view.finished.steps
        assert app.bridge.view.status == "stopped"

        screen = await show_runs(pilot)
        assert screen.query_one("#runs", DataTable).get_row_at(0)[1] == "stopped"
        await pilot.press("r")
        await wait_for(pilot, lambda: app.bridge.view.source == "live" and app.bridge.view.step > stopped_at)
        app.action_stop()
        await app.workers.wait_for_complete()
        starts = [e for e in read_events(run_dir) if isinstance(e, RunStarted)]
        assert len(starts) == 2 and starts[1].resumed_from_step == stopped_at
