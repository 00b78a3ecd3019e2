"""Focus is plainly visible on every kind of widget, in every shipped theme, under NO_COLOR.

"Plainly" means more than a shade: the rendered cells of the focused widget's rows differ in a
character (a mark, a border) or a text attribute (reverse, bold, underline). Those survive a
16-colour terminal and NO_COLOR, where a background tint collapses into its neighbour.
"""

from __future__ import annotations

from engine.tomlguard import loads
from qstore_tui.themes import default_theme_dirs


def shipped_themes() -> list[str]:
    return [loads(p.read_text())["name"] for d in default_theme_dirs()[:1] for p in sorted(d.glob("*.toml"))]


def cells(screen, region) -> list[tuple]:
    strips = screen._compositor.render_strips()
    out: list[tuple] = []
    for y in range(region.y, min(len(strips), region.y + max(1, min(region.height, 2)))):
        for segment in strips[y]:
            style = segment.style
            for ch in segment.text:
                out.append((ch,) if style is None else
                           (ch, bool(style.bold), bool(style.reverse), bool(style.underline)))
    return out


def one_of_each_kind(screen) -> list:
    seen: set[str] = set()
    picked = []
    for widget in screen.focus_chain:
        if widget.region and type(widget).__name__ not in seen:
            seen.add(type(widget).__name__)
            picked.append(widget)
    return picked


async def faint_widgets(pilot, screen, widgets, label: str) -> list[str]:
    faint = []
    for widget in widgets:
        widget.focus()
        await pilot.pause(0)  # every pending message handled (restyles included); no waiting for idle
        focused = cells(screen, widget.region)
        screen.set_focus(None)
        await pilot.pause(0)
        if cells(screen, widget.region) == focused:
            faint.append(f"{label}: {type(widget).__name__}#{widget.id}")
    return faint


async def test_every_kind_of_focused_widget_changes_more_than_a_shade_in_every_theme(tmp_path, monkeypatch, app_factory):
    """Every screen in the default theme; the Config screen (every kind of editor) in each other theme.
    The marks are text attributes and glyphs from app.tcss, the same in every theme; the themes only
    colour them, which is what the per-theme pass guards."""
    monkeypatch.setenv("NO_COLOR", "1")
    themes = shipped_themes()
    assert {"qstore-dark", "qstore-light", "qstore-high-contrast"} <= set(themes)
    app = app_factory(runs_dir=tmp_path)
    faint: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        for key in "23451":
            await pilot.press(key)
            await pilot.pause()
            faint += await faint_widgets(pilot, app.screen, one_of_each_kind(app.screen), f"screen {key}")
        for theme in themes:
            app.theme = theme
            await pilot.pause(0)
            faint += await faint_widgets(pilot, app.screen, one_of_each_kind(app.screen), theme)
    assert not faint, "focus only a shade: " + ", ".join(faint)
