"""What the screens say agrees and fits: queue ids, the preset box, the API key hint, the status line."""

from __future__ import annotations

import pytest
from textual.widgets import Select, Static

from engine.config import TrainingConfig
from qstore_tui.app import make_app
from qstore_tui.view import QueueRow
from qstore_tui.widgets.config_field import ConfigField
from qstore_tui.widgets.queue_table import QueueTable

JOB_ID = "0195a2d4-7f3c-7c1e-9b8e-2f4a6c8d0e1f"  # IonQ job ids are 36-character UUIDs


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


@pytest.mark.parametrize("width", [80, 120])
async def test_the_queue_shows_whole_ionq_job_ids_with_its_columns_aligned(tmp_path, width):
    app = make_app(runs_dir=tmp_path, testing=True)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.press("2")
        table = app.screen.query_one(QueueTable)
        table.set_rows([QueueRow(JOB_ID, 200, "running", 1.5, None), QueueRow("b" * 50, 10, "done", 0.1, 2.0)],
                       1, "IonQ jobs")
        await pilot.pause()
        header, *lines = str(table.render()).splitlines()
        assert JOB_ID in lines[1]  # newest first
        assert lines[0].startswith("b" * 10) and "…" in lines[0]  # a longer id is shortened visibly
        column = header.index("circuits")
        assert all(line[column - 1] == " " and line[column] != " " for line in lines)


async def test_the_preset_box_shows_the_applied_preset_and_the_key_hint_fits(tmp_path):
    app = make_app(runs_dir=tmp_path, testing=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("ctrl+p", *"preset research")
        await pilot.pause(0.4)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert screen.query_one("#preset", Select).value == "research"
        assert app.config.model_dump() == TrainingConfig.preset("research").model_dump()
        await screen.action_show_group("backend")
        await pilot.pause()
        key = screen.query_one("#field-quantum_api_key", ConfigField).editor
        assert key.placeholder == "not set: export IONQ_API_KEY"
        assert len(key.placeholder) < key.content_region.width  # nothing cut off at 80 columns


async def test_the_to_fix_list_wraps_instead_of_being_cut_at_80_columns(tmp_path):
    app = make_app(runs_dir=tmp_path, testing=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        problems = [(name, "bad") for name in ("learning_rate", "batch_size", "epochs", "n_qubits", "circuit_depth",
                                                  "shots_per_circuit")]
        screen.show_problems(problems)
        await pilot.pause()
        status = screen.query_one("#status", Static)
        text = str(status.render())
        assert "circuit_depth" in text and "shots_per_circuit" in text and status.size.height >= 2


async def test_the_report_screen_writes_the_report_files_and_names_them(tmp_path):
    from engine.session import EngineSession

    config = TrainingConfig(backend="local", n_qubits=3, circuit_depth=1, shots_per_circuit=0, epochs=1,
                            n_samples=20, batch_size=8, embeddings_to_store=False)
    session = EngineSession(config, runs_dir=tmp_path)
    await session.run()
    app = make_app(runs_dir=tmp_path, testing=True)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_run(session.run_dir, "open")
        await pilot.press("4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        wrote = [n.message for n in app._notifications if n.message.startswith("wrote ")]
        assert wrote and "report.md" in wrote[-1] and "report.html" in wrote[-1]
        assert (session.run_dir / "report.html").exists()
