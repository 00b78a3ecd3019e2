"""Defects found by driving the app: a JSON file nested too deeply, a FIFO in the config file box, `o` and `a`
on killed or damaged runs, deletes and tags refused by an immutable folder, a run without its config.toml, and
keys typed into a field while the terminal is too small."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from runs_fixtures import fake_run
from textual.widgets import DataTable, Input, Select, Static

from engine.runs import RunError, RunLock
from engine.runs.index import delete_run
from qstore_tui.cli import main
from qstore_tui.screens.runs import RunsScreen
from qstore_tui.widgets.mode_bar import ModeBar


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


def notes(app, since: int = 0) -> list[str]:
    return [n.message for n in list(app._notifications)[since:]]


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def show_runs(app, pilot, run_id: str) -> RunsScreen:
    """The Runs screen with the cursor on `run_id`."""
    await pilot.press("5")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, RunsScreen)
    table = screen.query_one("#runs", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(str(screen.qapp.runs_dir / run_id)))
    await pilot.pause()
    return screen


@contextlib.contextmanager
def immutable(path: Path):
    """chattr +i: not even root may add, remove or rename entries in the folder."""
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("needs root and a file system with the immutable attribute (chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


# ----- 1. Compiler: JSON nested deeper than Python's recursion limit

async def test_a_json_file_nested_too_deeply_is_said_on_the_compilers_message_line(tmp_path, app_factory):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 2000 + "]" * 2000)
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#source", Select).value = "file"
        screen.query_one("#path", Input).value = str(deep)
        await pilot.pause()
        screen.set_focus(None)
        await pilot.press("c")
        await settle(app, pilot)
        assert str(screen.query_one("#message", Static).render()) == f"{deep}: not JSON: nested too deeply"
        assert notes(app) == []  # not an internal error with a crash log


# ----- 2. Config: ctrl+o of a FIFO, and the read off the event loop

async def test_ctrl_o_of_a_fifo_is_refused_before_opening_it(tmp_path, app_factory):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock_an_open() -> None:  # were it opened, the test fails instead of hanging: a writer comes, late
        while not done.wait(0.1):
            with contextlib.suppress(OSError):  # ENXIO: no reader has it open
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return

    threading.Thread(target=unblock_an_open, daemon=True).start()
    app = app_factory()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            screen.query_one("#path", Input).value = str(fifo)
            before = app.config
            await pilot.press("ctrl+o")
            await settle(app, pilot)
            assert str(screen.query_one("#file-message", Static).render()) == f"{fifo}: not a regular file"
            assert app.config is before
    finally:
        done.set()


async def test_a_config_file_is_read_in_a_thread_not_on_the_event_loop(tmp_path, app_factory, monkeypatch):
    import qstore_tui.screens.config as config_screen

    path = tmp_path / "run.toml"
    path.write_text("[optimization]\nepochs = 3\n")
    readers: list[threading.Thread] = []
    real = config_screen.load_config

    def load_config(p):
        readers.append(threading.current_thread())
        return real(p)

    monkeypatch.setattr(config_screen, "load_config", load_config)
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#path", Input).value = str(path)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert app.config.epochs == 3
        assert readers and threading.main_thread() not in readers


# ----- 3, 4. Open and attach on a killed run and on one with a damaged line

async def test_open_of_a_killed_run_says_incomplete_and_of_a_live_one_running(tmp_path, app_factory):
    runs = tmp_path / "runs"
    fake_run(runs, "killed", losses=[1.0, 0.8, 0.6], status=None)
    live = fake_run(runs, "live", losses=[1.0, 0.8], status=None)
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await show_runs(app, pilot, "killed")
        await pilot.press("o")
        await pilot.pause()
        assert app.current_mode == "training" and app.bridge.view.status == "incomplete"
        assert app.screen.query_one(ModeBar).status == "incomplete 3/3"
        lock = RunLock(live)
        lock.acquire()  # a session holds it: it is running, only not followed
        try:
            await show_runs(app, pilot, "live")
            await pilot.press("o")
            await pilot.pause()
            assert app.bridge.view.status == "running"
        finally:
            lock.release()


async def test_attach_to_a_run_with_a_damaged_line_says_it_cannot_read_it_and_does_not_fail_the_run(
        tmp_path, app_factory):
    runs = tmp_path / "runs"
    run = fake_run(runs, "damaged", losses=[1.0, 0.8, 0.6, 0.5])
    events = run / "events.jsonl"
    lines = events.read_bytes().split(b"\n")
    lines[3] = b"{bad"
    events.write_bytes(b"\n".join(lines))
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await show_runs(app, pilot, "damaged")
        n = len(app._notifications)
        await pilot.press("o")  # refused, naming the file and the line
        await pilot.pause()
        [opened] = notes(app, n)
        assert opened.startswith(f"{events}: line 4: not a valid event")
        n = len(app._notifications)
        await pilot.press("a")
        await settle(app, pilot)
        assert notes(app, n) == [f"cannot read the run: {opened}"]
        view = app.bridge.view
        assert view.status == "unreadable" and view.finished is None and not app.bridge.active
        assert app.screen.query_one(ModeBar).status.startswith("unreadable")


# ----- 5. Delete and tag refused by an immutable run folder

@pytest.mark.parametrize("with_lock_file", [False, True])
async def test_a_delete_or_a_tag_refused_by_the_folder_names_the_run_and_tags_json(tmp_path, app_factory,
                                                                                     with_lock_file):
    runs = tmp_path / "runs"
    run = fake_run(runs, "frozen", losses=[1.0, 0.8])
    if with_lock_file:  # a run a session once ran: rmtree itself meets the refusal
        (run / ".lock").touch()
    files = sorted(run.rglob("*"))
    app = app_factory(runs_dir=runs)
    with immutable(run):
        async with app.run_test(size=(100, 30)) as pilot:
            await show_runs(app, pilot, "frozen")
            n = len(app._notifications)
            await pilot.press("d", "y")
            await settle(app, pilot)
            assert notes(app, n) == [f"cannot delete run 'frozen' ({run}): operation not permitted; "
                                     "nothing was removed"]
            assert sorted(run.rglob("*")) == files
            n = len(app._notifications)
            await pilot.press("t")
            await pilot.pause()
            app.screen.query_one("#tags", Input).value = "ok"
            await pilot.press("enter")
            await settle(app, pilot)
            assert notes(app, n) == [f"{run}/tags.json: cannot write: operation not permitted"]


def test_delete_run_says_whether_anything_was_removed(tmp_path):
    runs = tmp_path / "runs"
    run = fake_run(runs, "frozen", losses=[1.0])
    (run / ".lock").touch()
    with immutable(run), pytest.raises(RunError) as refused:
        delete_run(runs, "frozen")
    assert str(refused.value) == f"cannot delete run 'frozen' ({run}): operation not permitted; nothing was removed"


# ----- 6. A run folder without its config.toml

def test_a_run_without_config_toml_is_listed_as_damaged_and_other_folders_are_not(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs, "a-whole", losses=[1.0, 0.5], start=1_000.0)
    lost = fake_run(runs, "b-nocfg", losses=[1.0, 0.5], start=2_000.0)
    (lost / "config.toml").unlink()
    for folder in ("sweeps/study", "lost+found", "random"):
        (runs / folder).mkdir(parents=True)
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    out, err = capsys.readouterr()
    rows = [line.split()[:2] for line in out.splitlines()[1:-1]]
    assert rows == [["b-nocfg", "completed"], ["a-whole", "completed"]], out
    assert err == f"warning: run b-nocfg: {lost}/config.toml: file not found\n"


async def test_a_run_without_config_toml_shows_on_the_runs_screen_and_can_be_deleted(tmp_path, app_factory):
    runs = tmp_path / "runs"
    lost = fake_run(runs, "nocfg", losses=[1.0, 0.5])
    (lost / "config.toml").unlink()
    (runs / "random").mkdir()
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await show_runs(app, pilot, "nocfg")
        assert screen.query_one("#runs", DataTable).row_count == 1
        assert f"run nocfg: {lost}/config.toml: file not found" in notes(app)
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert not lost.exists() and notes(app)[-1] == "deleted nocfg"


# ----- 7. Keys typed into a field while the terminal is too small

async def test_a_focused_field_keeps_the_keys_typed_while_the_terminal_is_too_small(app_factory):
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await screen.action_show_group("optimization")
        await pilot.pause()
        editor = screen.query_one("#field-epochs").editor
        editor.focus()
        editor.value = ""
        await pilot.press("1")
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        await pilot.press("2")  # a screen key outside a field
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.current_mode == "config" and app.focused is editor and editor.value == "12"
        assert app.config.epochs == 12


@pytest.mark.parametrize("field", ["field-optimizer", "field-use_gradient_clipping"], ids=["choice", "toggle"])
async def test_a_focused_choice_or_toggle_keeps_the_focus_and_its_keys_through_a_too_small_terminal(app_factory, field):
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await screen.action_show_group("optimization")
        await pilot.pause()
        editor = screen.query_one(f"#{field}").editor
        editor.focus()
        before = editor.value
        await pilot.resize_terminal(20, 5)
        await pilot.pause()
        await pilot.press("right")  # reaches the field: the next choice, or the toggle flipped
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.current_mode == "config" and app.focused is editor and editor.value != before
