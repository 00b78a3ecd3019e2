"""Undo and redo in the app's text fields (widgets/edit_input.py): Ctrl+Z in a field takes back the last
edit instead of suspending the app; outside a field it still suspends."""

from __future__ import annotations

import pytest

from qstore_tui.screens.config import ConfigScreen
from qstore_tui.widgets.config_field import ConfigField
from qstore_tui.widgets.edit_input import EditInput, _single_edit


@pytest.mark.parametrize("old, new, run", [("ab", "abc", 1), ("ab", "xab", 1), ("abc", "ac", -1), ("ab", "ab", 0),
                                           ("ab", "abcd", 0), ("ab", "ba", 0), ("abc", "axc", 0), ("", "a", 1)])
def test_a_single_insertion_or_deletion_is_told_from_other_edits(old, new, run):
    assert _single_edit(old, new) == run


def editor(screen: ConfigScreen, name: str) -> EditInput:
    widget = screen.query_one(f"#field-{name}", ConfigField).editor
    assert isinstance(widget, EditInput)
    return widget


async def test_ctrl_z_in_a_field_undoes_words_and_ctrl_y_redoes_them_and_the_config_follows(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    suspended: list[bool] = []
    app.action_suspend_process = lambda: suspended.append(True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await screen.action_show_group("optimization")
        field = editor(screen, "learning_rate")
        start, rate = field.value, app.config.learning_rate
        field.focus()
        await pilot.press("end", "backspace", "backspace", "backspace", "backspace")  # one run of deletions
        await pilot.press(*"0.2", "5")  # one run of typing
        await pilot.pause()
        assert field.value == "0.25" and app.config.learning_rate == 0.25
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert field.value == "" and app.config_problems  # the deletions' end: an empty field is refused
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert field.value == start and app.config.learning_rate == rate and not app.config_problems
        await pilot.press("ctrl+z")  # nothing left: a bell, the value stays
        await pilot.press("ctrl+y", "ctrl+y")
        await pilot.pause()
        assert field.value == "0.25" and app.config.learning_rate == 0.25
        await pilot.press("ctrl+y")
        assert field.value == "0.25"
        await pilot.press("ctrl+z", *"5")  # a new edit after an undo drops the redo steps
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert field.value == "5" and not suspended
        await pilot.press("escape", "ctrl+z")  # out of the field: the app's own Ctrl+Z, suspend
        await pilot.pause()
        assert suspended == [True] and field.value == "5"


async def test_a_space_starts_a_new_undo_step_and_a_paste_or_the_apps_own_change_is_one(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        field = app.screen.query_one("#path", EditInput)  # the config file box
        start = field.value
        field.focus()
        field.value = ""
        await pilot.press(*"ab cd")
        field.insert_text_at_cursor("-pasted")
        await pilot.pause()
        assert field.value == "ab cd-pasted"
        for want in ("ab cd", "ab", "", start):
            await pilot.press("ctrl+z")
            await pilot.pause()
            assert field.value == want
