"""Help from the bindings, Escape out of a field, Enter on the group list, fast typing, and quitting
while a run trains (it asks first)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from textual.widgets import Input, Static

from engine.config import TrainingConfig
from engine.events import Checkpoint, RunFinished
from engine.runs import read_events
from qstore_tui.screens.config import ConfigScreen
from qstore_tui.screens.help import HelpScreen
from qstore_tui.screens.quit_confirm import QuitConfirmScreen
from qstore_tui.widgets.config_field import ConfigField


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


def long_run() -> TrainingConfig:
    """Far longer than the test, which stops it: 2,000 steps ran out in ~10 s, while the pilot's key presses
    each wait for the app to go idle (seconds, with a run posting updates), so it once completed first."""
    return TrainingConfig(backend="local", n_qubits=3, circuit_depth=1, shots_per_circuit=0, epochs=10_000,
                          n_samples=40, batch_size=8, embeddings_to_store=False,
                          use_native_gates=False)  # the compile's cirq cross-check is not what these test (~4 s)


async def until(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.02)


def help_text(app) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(Static))


async def test_question_mark_opens_help_generated_from_the_bindings(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app)
        assert text.startswith("The run as it trains")  # what the screen is for
        for line in ("p  Pause", "r  Resume", "s  Stop", "2/f2 Training", "Quit", "Help"):
            assert line in text, line
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        # A key rebound in the keymap shows as rebound: the help reads the bindings, not a list of its own.
        app.set_keymap({"screen.training": "9"})
        await pilot.press("question_mark")
        assert "f2/9 Training" in help_text(app) or "9/f2 Training" in help_text(app)
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)


async def test_the_palette_finds_help(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p", *"help")
        await pilot.pause(0.4)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), 5)
        assert "Set up a run" in help_text(app)


async def test_a_palette_left_behind_by_a_screen_switch_does_not_block_the_next_one(tmp_path, app_factory):
    """A palette opened just before a switch of screen (monkey seed 2: DuplicateIds ended the app)."""
    from qstore_tui.screens.dismiss_once import QCommandPalette

    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_command_palette()
        await app.switch_mode("training")  # as starting a run does, before the palette took the keys
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, QCommandPalette), 5)
        await pilot.press("escape")
        await pilot.press("1")
        assert app.current_mode == "config" and isinstance(app.screen, QCommandPalette)  # where it was left
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfigScreen) and app.is_running


async def test_the_palette_busy_indicator_firing_after_its_widgets_went_does_not_end_the_app(tmp_path, app_factory):
    """Monkey seed 1: the busy timer of a search fired while the palette was being removed; Textual's watcher
    queried the gone LoadingIndicator (NoMatches) and ended the app."""
    from textual.widgets import LoadingIndicator

    from qstore_tui.screens.dismiss_once import QCommandPalette

    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, QCommandPalette), 5)
        palette = app.screen
        await palette.query_one(LoadingIndicator).remove()
        palette._show_busy = True
        await pilot.pause()
        assert app.is_running
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfigScreen) and app.is_running


async def test_enter_on_the_group_list_opens_its_fields(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")  # the second group, then into it
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConfigScreen) and app.is_running
        field = app.focused.parent
        assert isinstance(field, ConfigField) and field.field_name == screen.query(ConfigField).first().field_name
        assert screen.group == list(screen.query_one("#groups").options)[1].id


async def test_fast_typing_in_a_number_field_and_escape_gives_the_keys_back(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await screen.action_show_group("model")
        editor = screen.query_one("#field-n_qubits", ConfigField).editor
        editor.focus()
        editor.cursor_position = len(editor.value)
        # Faster than a refresh: every message shows and clears, and mounts its line, within one frame.
        for keys in (["backspace", "backspace", "4", "0"], ["backspace", "backspace", "9", "9"],
                     ["backspace", "backspace", "1", "2"]):
            await pilot.press(*keys)
        await pilot.pause()
        assert app.is_running and editor.value == "12" and app.config.n_qubits == 12
        assert len(screen.query("#error-n_qubits")) <= 1
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        await pilot.press("2")
        assert app.current_mode == "training"


async def test_q_during_a_run_asks_and_cancel_keeps_it_running(tmp_path, app_factory):
    app = app_factory(config=long_run(), runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_start()
        await until(pilot, lambda: app.bridge.view.step >= 1)
        await pilot.press("q")
        assert isinstance(app.screen, QuitConfirmScreen)
        await pilot.press("escape")
        assert app.is_running and app.bridge.active and not isinstance(app.screen, QuitConfirmScreen)
        await pilot.press("ctrl+q")  # the other quit key asks too
        assert isinstance(app.screen, QuitConfirmScreen)
        await pilot.press("s")  # stop with a checkpoint, then quit
        await until(pilot, lambda: not app.is_running)
    events = read_events(app.bridge.run_dir)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
    assert any(isinstance(e, Checkpoint) for e in events)


async def test_q_with_no_run_quits_at_once(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "q")
        await asyncio.sleep(0.1)
        assert not app.is_running


async def test_a_keymap_file_rebinds_keys_and_a_bad_entry_keeps_its_default(tmp_path, app_factory):
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('"screen.training" = "9"\n"bogus.action" = "x"\n"training.pause" = "ctrl+"\n')
    app = app_factory(runs_dir=tmp_path, keymap_file=keymap)
    async with app.run_test(size=(80, 24)) as pilot:
        messages = [n.message for n in app._notifications]  # read now: notifications expire
        assert any(str(keymap) in m and "bogus.action" in m and "unknown action" in m for m in messages)
        assert any(str(keymap) in m and "training.pause" in m and "not a key name" in m for m in messages)
        await pilot.press("9")
        assert app.current_mode == "training"
        await pilot.press("1")  # the screen keys that were not rebound still work
        assert app.current_mode == "config"
        await pilot.press("2")  # replaced by 9
        assert app.current_mode == "config"
        await pilot.press("f2", "3")
        assert app.current_mode == "compiler"
        await pilot.press("9", "question_mark")
        assert "p  Pause" in help_text(app)  # its default stays


def test_the_keymap_lives_in_the_user_config_dir(monkeypatch, tmp_path):
    from qstore_tui.keymap import keymap_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert keymap_path() == tmp_path / "qstore" / "keymap.toml"


def test_an_unreadable_or_broken_keymap_file_is_one_problem_in_words(tmp_path):
    from qstore_tui.keymap import load_keymap

    broken = tmp_path / "keymap.toml"
    broken.write_text('[keys\n')
    for path, said in ((broken, "not valid TOML: Expected ']' at the end of a table declaration"),
                       (tmp_path, "cannot read: is a directory")):
        keymap, [problem] = load_keymap(path, set())
        assert keymap == {} and problem.message.startswith(said) and "invalid TOML" not in problem.message


RUNS_COMPARE_KEY = re.compile(r"^c +Compare$", re.MULTILINE)  # a key of the Runs screen's own


async def test_help_on_compare_and_sweep_shows_their_own_keys_and_a_dialog_still_keeps_its_keys(tmp_path,
                                                                                                 app_factory):
    """Compare and Sweep are pushed over the Runs screen: `?` there explains them, not the Runs screen."""
    from runs_fixtures import fake_run

    from qstore_tui.screens.compare import CompareScreen
    from qstore_tui.screens.run_dialogs import DeleteRunScreen
    from qstore_tui.screens.sweep import SweepScreen

    a = fake_run(tmp_path, "alpha", losses=[1.0, 0.8])
    b = fake_run(tmp_path, "bravo", losses=[1.1, 0.7])
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        for view, keys in ((CompareScreen([a, b]), ("Smooth +", "Log loss", "Back")),
                           (SweepScreen(tmp_path / "sweeps" / "none" / "study.json"), ("Open trial run", "Back"))):
            await app.push_screen(view)
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), 5)
            text = help_text(app)
            assert text.startswith(view.PURPOSE), text
            for line in (*keys, "Quit", "Help"):
                assert line in text, line
            assert not RUNS_COMPARE_KEY.search(text)  # not the Runs screen's keys
            assert "5/f5 Runs" not in text  # the screen keys do nothing until the view is left
            await pilot.press("question_mark")  # closes it: the view is back, with its keys
            await until(pilot, lambda: app.screen is view, 5)
            await pilot.press("escape")
            await until(pilot, lambda: len(app.screen_stack) == 1, 5)
        assert not app.is_screen_installed("help-runs")  # the views' help screens are not kept as the mode's
        dialog = DeleteRunScreen("alpha")
        await app.push_screen(dialog)
        await pilot.press("question_mark")  # a real dialog keeps the keys: no help over it
        await pilot.pause()
        assert app.screen is dialog


async def test_an_action_whose_awaited_work_was_cancelled_does_not_end_the_app(tmp_path, app_factory, monkeypatch):
    """A palette command (run in the app's own task) awaiting something cancelled under it, such as a widget
    removal when its screen went away: Textual's loop took the CancelledError for a shutdown and the app
    ended silently, with no exit code (monkey seed 0 under load)."""
    from functools import partial

    async def cancelled_under_it(self, group: str) -> None:
        doomed = asyncio.get_running_loop().create_future()
        doomed.cancel()
        await doomed

    monkeypatch.setattr(ConfigScreen, "action_show_group", cancelled_under_it)
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.call_later(partial(app._on_screen, "config", "show_group('model')"))
        await pilot.pause(0.2)
        assert app.is_running
        await pilot.press("2")
        assert app.current_mode == "training"


async def test_q_then_d_hands_the_run_to_a_headless_process_that_continues_it_bit_for_bit(tmp_path, app_factory):
    """Detach: the run stops at a checkpoint, the app quits naming the new process, and `run --resume` in a session
    of its own finishes it with the losses an uninterrupted run of the same config has, step for step."""
    import csv
    import subprocess
    import sys

    from engine.events import RunStarted

    config = TrainingConfig(backend="local", n_qubits=3, circuit_depth=1, shots_per_circuit=0, epochs=8,
                            n_samples=40, batch_size=8, embeddings_to_store=False, log_interval=1,
                            use_native_gates=False)
    app = app_factory(config=config, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_start()
        await until(pilot, lambda: app.bridge.view.step >= 2)
        assert app.bridge.pause()  # so that the run cannot finish before the keys reach the dialog
        await until(pilot, lambda: app.bridge.view.status == "paused")
        await pilot.press("q")
        assert isinstance(app.screen, QuitConfirmScreen)
        await pilot.press("d")
        await until(pilot, lambda: not app.is_running)
    run_dir = app.bridge.run_dir
    deadline = time.monotonic() + 60
    while not (isinstance((events := read_events(run_dir))[-1], RunFinished) and events[-1].status == "completed"):
        assert time.monotonic() < deadline, (run_dir / "headless.log").read_text()
        await asyncio.sleep(0.1)
    checkpoints = [e.step for e in events if isinstance(e, Checkpoint)]
    resumed = [e for e in events if isinstance(e, RunStarted) and e.resumed_from_step]
    assert len(resumed) == 1 and resumed[0].resumed_from_step in checkpoints  # from the checkpoint the stop wrote
    total = next(e for e in events if isinstance(e, RunStarted)).total_steps
    assert events[-1].steps == total > resumed[0].resumed_from_step
    assert (run_dir / "headless.log").stat().st_size > 0

    reference = tmp_path / "reference"
    subprocess.run([sys.executable, "-m", "qstore_tui", "run", "--headless", "--config", str(run_dir / "config.toml"),
                    "--runs-dir", str(reference)], check=True, capture_output=True, timeout=120)

    def losses(directory):
        with open(directory / "metrics.csv", newline="") as f:
            return {int(row["step"]): row["loss"] for row in csv.DictReader(f)}

    ours, theirs = losses(run_dir), losses(next(reference.glob("*/")))
    assert sorted(ours) == sorted(theirs) == list(range(total))
    assert ours == theirs  # the decimal text of every float, so bit for bit
