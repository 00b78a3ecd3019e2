"""Focus is plainly visible on every kind of widget, in every shipped theme, under NO_COLOR and in 16 colours.

"Plainly" means more than a shade: the rendered cells of the focused widget's rows differ in a
character (a mark, a border) or a text attribute (reverse, bold, underline). Those survive a
16-colour terminal and NO_COLOR, where a background tint collapses into its neighbour.
"""

from __future__ import annotations

from pathlib import Path

from rich.color import ColorSystem
from rich.style import Style
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Button, DataTable, OptionList, Select, Static

import qstore_tui
from engine.tomlguard import loads
from qstore_tui.themes import default_theme_dirs, load_themes
from qstore_tui.widgets.config_field import ConfigField
from qstore_tui.widgets.log_pane import LogPane


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


# ----- 16 colours -----


def _standard(colour) -> int | str:
    """What a 16-colour terminal shows (TEXTUAL_COLOR_SYSTEM=standard: rich downgrades each colour)."""
    return "default" if colour is None else colour.downgrade(ColorSystem.STANDARD).number


def cells_16(screen, region) -> list[tuple]:
    """Each cell as a 16-colour terminal draws it: glyph, the colours seen (after reverse; a blank cell has
    no visible foreground), bold where there is a glyph to embolden, underline."""
    out: list[tuple] = []
    for strip in screen._compositor.render_strips()[region.y:region.bottom]:
        x = 0
        for segment in strip:
            style = segment.style or Style()
            for ch in segment.text:
                if region.x <= x < region.right:
                    fg, bg = _standard(style.color), _standard(style.bgcolor)
                    if style.reverse:
                        fg, bg = bg, fg
                    ink = bool(ch.strip())
                    out.append((ch, fg if ink else None, bg, bool(style.bold) and ink, bool(style.underline)))
                x += 1
    return out


def plainly_different(a: list[tuple], b: list[tuple]) -> bool:
    """A glyph, bold or underline differs, or a colour differs by more than its bright/normal shade."""
    for x, y in zip(a, b, strict=True):
        if x[0] != y[0] or x[3:] != y[3:]:
            return True
        for p, q in zip(x[1:3], y[1:3]):
            if p != q and not (isinstance(p, int) and isinstance(q, int) and p % 8 == q % 8):
                return True
    return False


class Tinted(Static, can_focus=True):
    """A focus drawn only as a background tint: what the check must catch (it proves the check can fail)."""

    DEFAULT_CSS = "Tinted { height: 1; } Tinted:focus { background: $primary 15%; }"


class EveryKind(App[None]):
    """One of each focusable kind the screens use, with the app's stylesheet, so that each theme's colours
    can be checked quickly (a whole screen restyles for every focus change)."""

    CSS_PATH = str(Path(qstore_tui.__file__).parent / "styles" / "app.tcss")

    def compose(self) -> ComposeResult:
        yield ConfigField("dry_run", kind="bool", value="false", description="")
        yield ConfigField("backend", kind="choice", value="local", description="", choices=("local", "ionq"))
        yield ConfigField("epochs", kind="text", value="5", description="")
        yield Select([("a", "a"), ("b", "b")], compact=True, value="a")
        yield Button("Load", compact=True)
        yield OptionList("model", "backend", compact=True)
        yield DataTable()
        yield LogPane()
        with VerticalScroll(id="report-scroll"):
            yield Static("report")
        yield Tinted("tinted")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("run", "status")
        table.add_row("alpha", "completed")
        self.query_one(LogPane).write("a line")


async def test_focus_stays_plain_in_16_colours_in_every_theme(monkeypatch):
    """A 16-colour terminal (TEXTUAL_COLOR_SYSTEM=standard) gets each colour as rich downgrades it, the
    nearest of 16: a tint becomes no change, and a reverse of two colours that map to one shows nothing.
    Every kind, every shipped theme."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    themes, problems = load_themes(default_theme_dirs()[:1])
    assert not problems and set(shipped_themes()) <= set(themes)
    app = EveryKind()
    faint: list[str] = []
    async with app.run_test(size=(80, 30)) as pilot:
        for theme in themes.values():
            app.register_theme(theme)
        for name in shipped_themes():
            app.theme = name
            screen = app.screen
            widgets = [w for w in screen.focus_chain if w.region]
            marked = {w: w.parent if isinstance(w.parent, ConfigField) else w for w in widgets}  # name too
            screen.set_focus(None)
            await pilot.pause(0)
            unfocused = {w: cells_16(screen, marked[w].region) for w in widgets}
            for widget in widgets:
                widget.focus()
                await pilot.pause(0)
                if not plainly_different(cells_16(screen, marked[widget].region), unfocused[widget]):
                    faint.append(f"{name}: {type(widget).__name__}")
            assert len(widgets) >= 10, [type(w).__name__ for w in widgets]
    assert faint == [f"{name}: Tinted" for name in shipped_themes()], \
        "focus only a shade in 16 colours: " + ", ".join(f for f in faint if not f.endswith("Tinted"))
