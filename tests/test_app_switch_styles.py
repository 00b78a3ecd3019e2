"""A screen switch skips Textual's whole-screen restyle when nothing it depends on changed, and restyles
when something did (a theme changed while the screen was hidden)."""

from __future__ import annotations

from textual import events

from qstore_tui.screens.base import AppScreen
from qstore_tui.widgets.mode_bar import ModeBar


async def test_switch_restyles_only_after_a_change_made_while_hidden(app_factory):
    app = app_factory(theme="qstore-dark")
    restyled: list[bool] = []
    original = AppScreen.on_screen_resume

    def spy(screen: AppScreen, event: events.ScreenResume) -> None:
        original(screen, event)
        restyled.append(event.refresh_styles)

    async with app.run_test(size=(100, 32)) as pilot:
        AppScreen.on_screen_resume = spy  # type: ignore[method-assign]
        try:
            await pilot.pause()
            config_bar = app.screen.query_one(ModeBar)
            dark = config_bar.styles.background
            for key in ("2", "1"):  # Training is new (styled whole), Config comes back unchanged
                await pilot.press(key)
                await pilot.pause()
            assert restyled[-1] is False
            await pilot.press("2")
            await pilot.pause()
            app.theme = "qstore-light"  # while Config is hidden
            await pilot.pause()
            light = app.screen.query_one(ModeBar).styles.background
            assert light != dark
            await pilot.press("1")
            await pilot.pause()
            assert config_bar.styles.background == light  # the hidden screen caught up with the theme
        finally:
            AppScreen.on_screen_resume = original  # type: ignore[method-assign]
