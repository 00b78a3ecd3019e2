"""The keymap and theme files: what they refuse (and say so, naming the file), and the keys dialogs show."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from textual.widgets import Button, Static

from engine.config import TrainingConfig
from qstore_tui.keymap import load_keymap
from qstore_tui.screens.cost_confirm import CostConfirmScreen
from qstore_tui.screens.help import HelpScreen
from qstore_tui.screens.quit_confirm import QuitConfirmScreen
from qstore_tui.themes import ThemeFileError, default_theme_dirs, load_theme_file, load_themes

SHIPPED = default_theme_dirs()[0]
README = Path(__file__).resolve().parent.parent / "README.md"


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]  # read at once: notifications expire


def texts(app) -> str:
    return "\n".join(str(s.render()) for s in app.screen.query(Static))


def keymap_app(app_factory, tmp_path: Path, text: str, **kw):
    path = tmp_path / "keymap.toml"
    path.write_text(text)
    return app_factory(keymap_file=path, **kw), path


@contextmanager
def released_after(fifo: Path, seconds: float = 5.0) -> Iterator[None]:
    """A reader blocked opening `fifo` (the defect) is let go after `seconds`, so the test fails instead of hanging."""
    def release() -> None:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer that closes at once: the read sees EOF
        except OSError:  # no reader waiting
            pass

    timer = threading.Timer(seconds, release)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


# ----- 1. a theme colour with alpha -----

def test_a_colors_value_with_alpha_is_refused_at_load_naming_the_file_and_the_key(tmp_path):
    path = tmp_path / "half.toml"
    path.write_text('name = "half"\n[colors]\nprimary = "#ffffff 50%"\n')
    with pytest.raises(ThemeFileError) as err:
        load_theme_file(path)
    assert str(err.value) == "half.toml: colors.primary: not a colour: '#ffffff 50%'"
    path.write_text('name = "half"\n[colors]\nprimary = "#ffffff"\n[variables]\nfooter-background = "#81a1c1 35%"\n')
    assert load_theme_file(path).variables["footer-background"] == "#81a1c1 35%"  # a variable may have alpha


async def test_a_theme_with_an_alpha_colour_is_never_registered_and_the_app_keeps_its_theme(tmp_path, app_factory):
    (tmp_path / "boost.toml").write_text('name = "boost"\n[colors]\nprimary = "#fff"\nboost = "#ffffff 10%"\n')
    app = app_factory(theme="boost", theme_dirs=[SHIPPED, tmp_path])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert any(m.startswith("boost.toml: colors.boost: not a colour") for m in notes(app))
        assert app.theme == "qstore-dark" and "boost" not in app.available_themes
        await pilot.press("5", "1")
        assert app.crash is None and app.is_running


# ----- 2. a FIFO as the keymap or a theme file -----

async def test_a_fifo_as_the_keymap_file_is_refused_without_opening_it(tmp_path, app_factory):
    fifo = tmp_path / "keymap.toml"
    os.mkfifo(fifo)
    app = app_factory(keymap_file=fifo)
    with released_after(fifo):
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert f"{fifo}: cannot read: not a regular file; the default keys stay" in notes(app)


async def test_a_fifo_among_the_theme_files_is_refused_without_opening_it(tmp_path, app_factory):
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    (tmp_path / "mine.toml").write_text('name = "mine"\n[colors]\nprimary = "#005f87"\n')
    app = app_factory(theme_dirs=[SHIPPED, tmp_path])
    with released_after(fifo):
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert "f.toml: cannot read: not a regular file; using the default theme" in notes(app)
            assert "mine" in app.available_themes


# ----- 3. key names -----

@pytest.mark.parametrize(("key", "said"), [
    ("hlep", "not a key name: 'hlep'"),
    ("f99", "not a key name: 'f99'"),
    ("esc", "not a key name: 'esc' (did you mean 'escape'?)"),
    ("return", "not a key name: 'return'"),
    ("del", "not a key name: 'del' (did you mean 'delete'?)"),
    ("F12", "not a key name: 'F12' (did you mean 'f12'?)"),
    ("shift+ctrl+x", "not a key name: 'shift+ctrl+x' (did you mean 'ctrl+shift+x'?)"),
    ("shift+h", "not a key name: 'shift+h' (a shifted character is sent as the character itself"),
    ("ctrl+", "not a key name: 'ctrl+'"),
    ("f12,", "not a key name: ''"),
])
def test_a_key_textual_never_sends_is_refused_and_the_action_keeps_its_default(tmp_path, key, said):
    path = tmp_path / "keymap.toml"
    path.write_text(f'"app.help" = "{key}"\n')
    keymap, [problem] = load_keymap(path, {"app.help"})
    assert keymap == {} and problem.action == "app.help"
    assert problem.message.startswith(said) and problem.message.endswith("; the default key stays")


@pytest.mark.parametrize("key", ["?", "question_mark", "plus", "H", "é", "f24", "pageup", "space", "enter",
                                 "ctrl+shift+h", "alt+h", "ctrl+f5", "f11,f12"])
def test_textual_key_names_are_accepted(tmp_path, key):
    path = tmp_path / "keymap.toml"
    path.write_text(f'"app.help" = "{key}"\n')
    assert load_keymap(path, {"app.help"}) == ({"app.help": key}, [])


async def test_a_misspelt_key_is_a_notification_and_the_action_keeps_its_key(tmp_path, app_factory):
    app, path = keymap_app(app_factory, tmp_path, '"app.help" = "hlep"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert f"{path}: app.help: not a key name: 'hlep'; the default key stays" in notes(app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


# ----- 4. one key for two actions -----

@pytest.mark.parametrize(("text", "said"), [
    ('"training.pause" = "s"\n',
     "training.pause: key 's' is also training.stop's on the training screen; left out: both keep their default keys"),
    ('"screen.config" = "q"\n', "screen.config: key 'q' is also app.quit's in every screen; left out"),
    ('"app.help" = "q"\n', "app.help: key 'q' is also app.quit's in every screen; left out"),
    ('"runs.sort" = "q"\n', "runs.sort: key 'q' is also app.quit's on the runs screen; left out"),
])
async def test_a_key_given_to_a_second_action_is_refused_naming_both(tmp_path, app_factory, text, said):
    app, path = keymap_app(app_factory, tmp_path, text)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert f"{path}: {said}" in "\n".join(notes(app))
        assert app._keymap == {}
        await pilot.press("2", "question_mark")
        help_text = texts(app)
        for line in ("p  Pause", "s  Stop", "1/f1 Config", "Quit"):
            assert line in help_text


async def test_a_swap_is_no_clash_and_entries_that_clash_go_until_none_does(tmp_path, app_factory):
    app, _ = keymap_app(app_factory, tmp_path, '"training.pause" = "s"\n"training.stop" = "p"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert notes(app) == [] and app._keymap == {"training.pause": "s", "training.stop": "p"}
    # pause and resume both on s: both go; pause's p is back, and stop on p then clashes with it
    app, _ = keymap_app(app_factory, tmp_path,
                        '"training.pause" = "s"\n"training.resume" = "s"\n"training.stop" = "p"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        said = notes(app)
        assert any("training.pause: key 's' is also training.resume's" in m
                   and "training.pause, training.resume left out" in m for m in said)
        assert any("training.stop: key 'p' is also training.pause's" in m for m in said)
        assert app._keymap == {}


async def test_a_key_of_one_screen_is_free_on_another(tmp_path, app_factory):
    app, _ = keymap_app(app_factory, tmp_path, '"training.pause" = "c"\n')  # c is Compiler's and Runs' own
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert notes(app) == [] and app._keymap == {"training.pause": "c"}


# ----- 5. every binding id can be rebound, and the README lists them -----

async def test_the_ids_of_compare_sweep_and_the_run_dialogs_can_be_rebound(tmp_path, app_factory):
    text = ('"compare.smooth_more" = "]"\n"sweep.open" = "enter"\n"delete.yes" = "Y"\n"tag.cancel" = "ctrl+g"\n'
            '"runs.sort" = "z"\n"report.write" = "W"\n')
    app, _ = keymap_app(app_factory, tmp_path, text)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert notes(app) == []
        assert set(app._keymap) == {"compare.smooth_more", "sweep.open", "delete.yes", "tag.cancel", "runs.sort",
                                    "report.write"}


async def test_an_unknown_action_points_to_the_readme_or_to_the_id_meant(tmp_path, app_factory):
    app, path = keymap_app(app_factory, tmp_path, '"bogus.action" = "x"\n"runs.sortt" = "z"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        said = notes(app)
        assert (f"{path}: bogus.action: unknown action (the README's Keymap section lists the ids); "
                "the default key stays") in said
        assert f"{path}: runs.sortt: unknown action (did you mean 'runs.sort'?); the default key stays" in said


def readme_keymap_ids() -> set[str]:
    """The ids the README's Keymap example names: "screen.config / .training" is screen.config, screen.training."""
    section = README.read_text().split("**Keymap.**")[1].split("```toml")[1].split("```")[0]
    ids: set[str] = set()
    prefix = ""
    for full, short in re.findall(r"\b([a-z_]+\.[a-z_]+)\b|(?<![a-z_])\.([a-z_]+)", section):
        prefix = full.split(".")[0] if full else prefix
        ids.add(full or f"{prefix}.{short}")
    return ids | {f"screen.{mode}.f" for mode in ("config", "training", "compiler", "report", "runs")}  # ".f"


async def test_the_readme_lists_every_binding_id(tmp_path, app_factory):
    from qstore_tui.keymap import binding_ids

    app = app_factory()
    async with app.run_test(size=(80, 24)):
        known = binding_ids(scope.bindings for scope in app._key_scopes())
    assert known - readme_keymap_ids() == set()


# ----- 6. an unquoted dotted id -----

async def test_an_unquoted_dotted_id_is_said_to_be_a_table_to_quote(tmp_path, app_factory):
    app, path = keymap_app(app_factory, tmp_path, 'screen.training = "9"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert (f'{path}: screen: a TOML table, not an action: an id with dots must be quoted, "screen.training" '
                '= ...; the default key stays') in notes(app)


# ----- 7. dialogs show the keys as bound -----

async def test_the_quit_dialog_and_the_help_hint_show_the_keys_of_the_keymap(tmp_path, app_factory):
    app, _ = keymap_app(app_factory, tmp_path, '"quit.stop" = "k"\n"quit.cancel" = "x"\n"help.close" = "x,y"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert "x or y closes this" in texts(app)
        await pilot.press("x")
        app.push_screen(QuitConfirmScreen("RUN", qpu=False))
        await pilot.pause()
        text = texts(app)
        assert "k  stop it" in text and "d  keep it running" in text and "x  cancel" in text
        assert str(app.screen.query_one("#stop", Button).label) == "Stop (k)"


async def test_the_default_keys_read_as_before(tmp_path, app_factory):
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        assert "Escape or ? closes this" in texts(app)
        await pilot.press("escape")
        app.push_screen(QuitConfirmScreen("RUN", qpu=False))
        await pilot.pause()
        assert "s  stop it" in texts(app) and "Escape  cancel" in texts(app)


async def test_the_cost_dialog_shows_the_dry_run_key_of_the_keymap(tmp_path, app_factory, monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", "test-key")  # a QPU config starts only with a key; nothing is sent here
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    config = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1", n_qubits=4, circuit_depth=1, epochs=1,
                            n_samples=20, batch_size=4)
    app, _ = keymap_app(app_factory, tmp_path, '"cost.dry_run" = "ctrl+g"\n', config=config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.action_start()
        await pilot.pause()
        assert isinstance(app.screen, CostConfirmScreen), notes(app)
        assert "Dry run (ctrl+g): IonQ prices" in str(app.screen.query_one("#dry-hint", Static).render())


# ----- 8. Enter on Runs, and two themes of one name -----

async def test_the_runs_help_says_enter_opens_a_run(tmp_path, app_factory):
    app = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5", "question_mark")
        assert re.search(r"^o, ⏎ +Open$", texts(app), re.MULTILINE)


def test_two_theme_files_of_one_name_are_a_problem_naming_both(tmp_path):
    (tmp_path / "b.toml").write_text('name = "dupe"\n[colors]\nprimary = "#ff0000"\n')
    (tmp_path / "c.toml").write_text('name = "dupe"\n[colors]\nprimary = "#00ff00"\n')
    themes, [problem] = load_themes([SHIPPED, tmp_path])
    assert problem.message == f"c.toml: theme name 'dupe' is also b.toml's (in {tmp_path})"
    assert problem.outcome == "c.toml is used" and themes["dupe"].primary == "#00ff00"
    assert load_themes([SHIPPED, SHIPPED.parent / "qstore_tui" / "theme_files"])[1] == []  # shipped twice: no problem
