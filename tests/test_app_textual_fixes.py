"""Two crashes of the pinned Textual that an exploratory pass found (qstore_tui/textual_fixes.py): page keys on
a list never laid out, and a click on a widget being removed. Each ended the app with an uncaught exception."""

from __future__ import annotations

import pytest
from textual import events
from textual.geometry import Offset
from textual.widgets import Label, OptionList

from helpers import deterministic_app


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)


@pytest.mark.parametrize("keys", [("pageup",), ("pagedown",), ("3", "pageup", "pagedown", "enter", "pageup")],
                         ids=["config-pageup", "config-pagedown", "compiler-select-menu"])
async def test_page_keys_on_a_terminal_too_small_to_draw_the_list_do_nothing(tmp_path, keys):
    # at 20x6 the screen shows "too small" and the group list behind it, never laid out, keeps the focus
    app = deterministic_app(runs_dir=tmp_path)
    async with app.run_test(size=(20, 6)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, OptionList)
        await pilot.press(*keys)
        await pilot.pause()
        assert app.is_running and app.crash is None
        await pilot.resize_terminal(100, 30)
        await pilot.press("escape", "1", "down")
        await pilot.pause()
        assert app.is_running and app.crash is None


async def test_page_keys_in_a_command_palette_four_rows_high_do_nothing(tmp_path):
    app = deterministic_app(runs_dir=tmp_path)
    async with app.run_test(size=(80, 4)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press("s", "pageup", "pagedown")
        await pilot.pause(0.3)
        assert app.is_running and app.crash is None


async def test_a_click_on_a_widget_just_removed_is_a_click_on_nothing(tmp_path):
    # the Config screen remounts a group's fields at each highlight: a click that the screen's map still
    # places on a removed field's label began a text selection in its container, None by then
    app = deterministic_app(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        removed = Label("gone")
        screen = app.screen
        screen._compositor.get_widget_and_offset_at = lambda x, y: (removed, Offset(0, 0))
        assert screen.get_widget_and_offset_at(30, 8) == (None, None)
        for kind in (events.MouseDown, events.MouseUp):
            event = kind(None, 30, 8, 0, 0, 1, False, False, False, screen_x=30, screen_y=8)
            event.set_sender(app)
            app._driver.send_message(event)
        await pilot.pause()
        assert app.is_running and app.crash is None
