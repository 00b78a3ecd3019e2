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
from helpers import row_text


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
        assert row_text(table, 0)[1:3] == [run_dir.name, "completed"]

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
        assert row_text(screen.query_one("#runs", DataTable), 0)[2] == "running"
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
        assert row_text(screen.query_one("#runs", DataTable), 0)[2] == "stopped"
        await pilot.press("r")
        await wait_for(pilot, lambda: app.bridge.view.source == "live" and app.bridge.view.step > stopped_at)
        app.action_stop()
        await app.workers.wait_for_complete()
        starts = [e for e in read_events(run_dir) if isinstance(e, RunStarted)]
        assert len(starts) == 2 and starts[1].resumed_from_step == stopped_at


# ----- the table on fixed run directories (tests/runs_fixtures.py) -----

import random  # noqa: E402

from engine.runs import RunLock  # noqa: E402
from qstore_tui.screens.compare import CompareScreen  # noqa: E402
from engine.runs.tags import read_tags  # noqa: E402
from qstore_tui.screens.runs import FILTER_PAUSE_S, STATUS_FILTERS  # noqa: E402
from qstore_tui.screens.run_dialogs import DeleteRunScreen, TagRunScreen  # noqa: E402
from runs_fixtures import fake_run  # noqa: E402


def fixed_runs(runs_dir):
    """Three finished runs and one running (its lock held by the test): what the table must tell apart."""
    fake_run(runs_dir, "alpha", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.55, 0.70], start=1_000.0,
             learning_rate=0.1, seed=1, tags=["baseline"])
    fake_run(runs_dir, "bravo", losses=[1.1, 0.9, 0.7, 0.4], val_accuracy=[0.50, 0.80], start=2_000.0,
             learning_rate=0.1, seed=2)
    fake_run(runs_dir, "charlie", losses=[1.2, 1.1], val_accuracy=[0.40], start=3_000.0, status="stopped",
             learning_rate=0.05, seed=1)
    live = fake_run(runs_dir, "delta", losses=[1.3], val_accuracy=[], start=4_000.0, status=None,
                    learning_rate=0.05, seed=3)
    lock = RunLock(live)
    lock.acquire()
    return lock


@pytest.fixture
def runs(tmp_path):
    runs_dir = tmp_path / "runs"
    lock = fixed_runs(runs_dir)
    yield runs_dir
    lock.release()


def ids(screen: RunsScreen) -> list[str]:
    table = screen.query_one("#runs", DataTable)
    return [row_text(table, i)[1] for i in range(table.row_count)]


async def test_table_sorts_filters_and_selects(runs, app_factory):
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await show_runs(pilot)
        assert ids(screen) == ["delta", "charlie", "bravo", "alpha"]  # newest first
        row = dict(zip([c.key for c in screen._columns()], row_text(screen.query_one("#runs", DataTable), 3)[1:]))
        assert row["status"] == "completed" and row["learning_rate"] == "0.1" and row["best_val_accuracy"] == "70.0%"
        assert row["final_loss"] == "0.5000" and row["tags"] == "baseline" and row["n_qubits"] == "2×1"

        await pilot.press("s")  # next column after run_id? the sort starts on started_at: first column
        assert screen.sort_key == "run_id" and ids(screen) == ["alpha", "bravo", "charlie", "delta"]
        await pilot.press("S")
        assert ids(screen) == ["delta", "charlie", "bravo", "alpha"]
        while screen.sort_key != "best_val_accuracy":
            await pilot.press("s")
        assert ids(screen) == ["charlie", "alpha", "bravo", "delta"]  # no val accuracy: last

        await pilot.press("f")  # status: running only
        assert screen.status_filter == "running" and ids(screen) == ["delta"]
        for _ in range(len(STATUS_FILTERS) - 1):
            await pilot.press("f")
        assert screen.status_filter is None and len(ids(screen)) == 4

        await pilot.press("slash")
        fills = []
        fill = screen._fill
        screen._fill = lambda: (fills.append(screen.text_filter), fill())[1]
        await pilot.press(*"brav")  # typed fast: one filtering once typing pauses, not one a key
        await pilot.pause(FILTER_PAUSE_S + 0.2)
        assert ids(screen) == ["bravo"] and fills == ["brav"]
        await pilot.press("enter")  # back to the table
        assert isinstance(app.focused, DataTable)
        await pilot.press("space")
        assert screen.selected == {"bravo"}
        await pilot.press("slash", "ctrl+u", "enter")  # Enter filters at once
        assert len(ids(screen)) == 4 and screen.selected == {"bravo"}
        await pilot.press("down", "space")
        assert len(screen.selected) == 2
        assert "2 selected" in str(screen.query_one("#where").render())


async def test_tag_and_delete_with_confirmation(runs, app_factory):
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await show_runs(pilot)
        await pilot.press("down", "down")  # bravo
        await pilot.press("t")
        assert isinstance(app.screen, TagRunScreen)
        await pilot.press(*"good lr", "enter")
        await pilot.pause()
        assert app.screen is screen
        assert read_tags(runs / "bravo") == ["good", "lr"]
        await pilot.press("t")
        await pilot.press(*"bad tag!", "enter")  # refused with the tag named, nothing written
        await pilot.pause()
        assert read_tags(runs / "bravo") == ["good", "lr"]

        await pilot.press("d")
        assert isinstance(app.screen, DeleteRunScreen)
        await pilot.press("enter")  # focus is on Cancel: a stray Enter keeps the run
        await pilot.pause()
        assert app.screen is screen and (runs / "bravo").is_dir()
        await pilot.press("d", "escape")
        await pilot.pause()
        assert (runs / "bravo").is_dir()
        await pilot.press("d", "y")
        await pilot.pause()
        assert not (runs / "bravo").exists() and "bravo" not in ids(screen)

        await pilot.press("home")
        assert ids(screen)[0] == "delta"
        await pilot.press("d")  # running: refused, no dialog
        await pilot.pause()
        assert app.screen is screen and (runs / "delta").is_dir()

        await pilot.press("w")  # no sweep here: a warning, no view
        await pilot.pause()
        assert app.screen is screen

        # Compare without a selection: the cursor run; stray keys never break the view, 1-5 do not switch
        await pilot.press("c")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        compare = app.screen
        assert isinstance(compare, CompareScreen) and compare.run_dirs == [runs / "delta"]
        rng = random.Random(7)
        await pilot.press(*(rng.choice("+-lxgb123 ") for _ in range(30)))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is compare
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_the_runs_tables_plain_cells_are_sized_as_textual_sizes_them():
    """PlainTable skips Textual's per-cell console measure; the columns and the scrollable size must not change."""
    from textual.app import App

    from qstore_tui.widgets.plain_table import PlainTable, plain

    rows = [["●", "20261201-101010-abcd", "completed", "1.0e-02", "85.0%", "1:02:03", "a,b", "×8 q"],
            [" ", "x", "", "—", "", "é", "日本", ""]]

    class Tables(App[None]):
        def compose(self):
            yield DataTable(id="textual")
            yield PlainTable(id="plain")

    app = Tables()
    async with app.run_test() as pilot:
        tables = [app.query_one("#textual", DataTable), app.query_one("#plain", PlainTable)]
        for table, cells in zip(tables, (rows, [[plain(c) for c in row] for row in rows])):
            for i in range(len(rows[0])):
                table.add_column(f"c{i}", key=f"c{i}")
            table.add_rows(cells)
        await pilot.pause()
        textual, plain = ([c.content_width for c in t.ordered_columns] for t in tables)
        assert plain == textual and tables[0].virtual_size == tables[1].virtual_size


async def test_runs_read_so_far_are_shown_at_once_and_a_selection_waits_for_the_whole_listing(runs, app_factory):
    from qstore_tui.screens.runs import RecordsListed

    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await show_runs(pilot)
        everything = list(screen.records)
        screen.selected = {"alpha", "delta"}
        screen.post_message(RecordsListed(everything[:1], of=4))  # delta read, the others not yet
        await pilot.pause()
        assert ids(screen) == ["delta"] and screen.selected == {"alpha", "delta"}  # alpha is not gone, only unread
        assert "1/1 run(s) (reading: 1 of 4 so far)" in str(screen.query_one("#where").render())
        screen.post_message(RecordsListed(everything))
        await pilot.pause()
        assert len(ids(screen)) == 4 and "reading" not in str(screen.query_one("#where").render())
        assert screen.selected == {"alpha", "delta"}


async def test_a_listing_that_breaks_is_said_and_does_not_block_the_next_refresh(runs, app_factory, monkeypatch):
    import engine.runs.index as index

    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await show_runs(pilot)
        real = index.list_records
        monkeypatch.setattr(index, "list_records", lambda *a, **k: 1 / 0)
        await pilot.press("g")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("cannot list the runs: ZeroDivisionError" in n.message for n in app._notifications)
        assert len(ids(screen)) == 4  # the table as it was
        monkeypatch.setattr(index, "list_records", real)
        (runs / "alpha").rename(runs / "zulu")
        await pilot.press("g")  # before, the broken listing left the screen 'listing' for good
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "zulu" in ids(screen) and "alpha" not in ids(screen)


async def test_resuming_a_run_whose_config_no_longer_loads_says_so_and_stays_on_the_runs_screen(tmp_path, app_factory):
    """The run directory's config is not the Config form's: before, the refusal switched to the Config screen."""
    run = fake_run(tmp_path, "broken", losses=[0.5, 0.4], status="stopped")
    (run / "config.toml").write_text("[model]\nn_qubits = 99\n")
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await show_runs(pilot)
        assert ids(screen) == ["broken"]
        await pilot.press("r")
        await pilot.pause()
        assert app.current_mode == "runs"
        [note] = [n for n in app._notifications if n.title == "Cannot resume"]
        assert "n_qubits" in note.message and str(run) in note.message
