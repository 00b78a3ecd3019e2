"""The footer shows the keys that work now, and is rebuilt only when they change (not at every focus move)."""

from __future__ import annotations

from textual.widgets import Input
from textual.widgets._footer import FooterKey


def shown(app) -> list[tuple[str, str]]:
    return [(key.key, key.description) for key in app.screen.query(FooterKey)]


async def test_focus_moves_keep_the_footer_and_a_text_field_changes_it(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = list(app.screen.query(FooterKey))
        assert ("q", "Quit") in shown(app) and ("question_mark", "Help") in shown(app)
        for _ in range(2):
            await pilot.press("tab")
            await pilot.pause(0.1)  # past the refresh that a rebuild waits for
        assert not isinstance(app.focused, Input)
        assert all(a is b for a, b in zip(before, app.screen.query(FooterKey), strict=True))  # not rebuilt
        while not isinstance(app.focused, Input):
            await pilot.press("tab")
            await pilot.pause()
        assert ("q", "Quit") not in shown(app)  # a text field takes q: the footer says so
        await pilot.press("escape")
        await pilot.pause()
        assert ("q", "Quit") in shown(app)
        app.set_keymap({"app.help": "f12"})
        await pilot.pause()
        assert ("f12", "Help") in shown(app)
