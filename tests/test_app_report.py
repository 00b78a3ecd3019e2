"""The Report screen after a real short run: export Markdown and JSON into the run directory, copy."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Select

from engine.config import TrainingConfig
from engine.report import build_report
from engine.runs import load_run_config, read_events
from qstore_tui.screens.report import ReportScreen


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


def short_config() -> TrainingConfig:
    return TrainingConfig(backend="local", n_qubits=4, circuit_depth=1, shots_per_circuit=0, epochs=2, n_samples=40,
                          batch_size=8, embeddings_to_store=False)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_export_the_report_and_read_it_back(tmp_path, app_factory):
    app = app_factory(config=short_config(), runs_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        app.action_start()
        await settle(pilot)
        run_dir = app.bridge.run_dir
        for name in ("report.md", "report.json"):  # the session wrote them at the end; prove the export does
            (run_dir / name).unlink()

        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        expected = build_report(read_events(run_dir), load_run_config(run_dir))
        assert screen.report == expected
        assert "QSTORE-TUI PERFORMANCE REPORT" in str(screen.query_one("#report").render())

        await pilot.press("m", "j")
        await pilot.pause()
        assert (run_dir / "report.md").read_text() == expected.to_markdown()
        assert json.loads((run_dir / "report.json").read_text()) == expected.to_json()
        assert json.loads((run_dir / "report.json").read_text())["run"]["status"] == "completed"

        await pilot.press("c")
        assert app.clipboard == expected.to_text()


async def test_the_report_of_a_chosen_run(tmp_path, app_factory):
    app = app_factory(config=short_config(), runs_dir=tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        app.action_start()
        await settle(pilot)
        first = app.bridge.run_dir
        app.action_start()
        await settle(pilot)
        assert app.bridge.run_dir != first
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        assert screen.report.run.run_id == app.bridge.run_dir.name  # the run on show: the second
        select = screen.query_one("#run", Select)
        assert str(first) in [value for _, value in select._options]
        select.value = str(first)
        await settle(pilot)
        assert screen.report is not None and screen.report.run.run_id == first.name


async def test_nothing_to_export_without_a_run(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        assert "no run yet" in str(app.screen.query_one("#report").render())
        await pilot.press("m")
        await pilot.pause()
        assert any(n.message == "no report to export" for n in app._notifications)
        assert list(tmp_path.iterdir()) == []
