"""Theme files: the shipped ones load and stay readable; a bad one is named precisely and never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from qstore_tui.themes import ThemeFileError, default_theme_dirs, load_theme_file, load_themes

SHIPPED = default_theme_dirs()[0]
XTERM_CUBE = {0x00, 0x5F, 0x87, 0xAF, 0xD7, 0xFF}
XTERM_GREYS = {8 + 10 * i for i in range(24)}


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def in_xterm_256(hex_colour: str) -> bool:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return {r, g, b} <= XTERM_CUBE or (r == g == b and r in XTERM_GREYS)


def test_the_shipped_themes_load():
    themes, problems = load_themes([SHIPPED])
    assert problems == []
    assert {"qstore-dark", "qstore-light", "qstore-high-contrast"} <= set(themes)
    assert themes["qstore-dark"].dark and not themes["qstore-light"].dark


@pytest.mark.parametrize("name", ["dark", "light", "high-contrast"])
def test_text_is_readable_on_the_background(name):
    theme = load_theme_file(SHIPPED / f"{name}.toml")
    assert contrast(theme.foreground, theme.background) >= 7.0  # WCAG AAA for body text


def test_the_high_contrast_theme_is_exact_in_256_colours():
    theme = load_theme_file(SHIPPED / "high-contrast.toml")
    colours = [theme.primary, theme.secondary, theme.accent, theme.warning, theme.error, theme.success,
               theme.foreground, theme.background, theme.surface, theme.panel, *theme.variables.values()]
    assert all(in_xterm_256(c) for c in colours), [c for c in colours if not in_xterm_256(c)]
    for accent in (theme.primary, theme.warning, theme.error, theme.success):
        assert contrast(accent, theme.background) >= 4.5


@pytest.mark.parametrize(("text", "message"), [
    ('name = "x"\n[colors]\nprimary = "not-a-colour"\n', "colors.primary: not a colour: 'not-a-colour'"),
    ('name = "x"\n[colors]\nsecondary = "#fff"\n', "colors.primary: missing"),
    ('name = "x"\n[colors]\nprimary = "#fff"\nprimery = "#000"\n', "colors.primery: unknown key"),
    ('name = "x"\n[colors]\nprimary = "#fff"\n[variables]\nfooter-kye = "#000"\n',
     "variables: unknown theme variable 'footer-kye'"),
    ('name = "Bad Name"\n[colors]\nprimary = "#fff"\n', "name: String should match pattern"),
    ('name = "x"\n[colors\nprimary = "#fff"\n', "invalid TOML"),
])
def test_a_bad_theme_file_names_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError) as err:
        load_theme_file(path)
    assert str(err.value).startswith("mine.toml: ")
    assert message in str(err.value)


def test_good_files_load_next_to_a_bad_one(tmp_path):
    (tmp_path / "bad.toml").write_text('name = "bad"\n[colors]\nprimary = "nope"\n')
    (tmp_path / "mine.toml").write_text('name = "mine"\ndark = false\n[colors]\nprimary = "#005f87"\n')
    themes, problems = load_themes([SHIPPED, tmp_path])
    assert "mine" in themes and "bad" not in themes
    assert [p.path.name for p in problems] == ["bad.toml"]


async def test_the_app_notifies_a_bad_theme_and_keeps_the_default(tmp_path, app_factory):
    (tmp_path / "bad.toml").write_text('name = "bad"\n[colors]\nprimary = "nope"\n')
    app = app_factory(runs_dir=tmp_path / "runs", theme="bad", theme_dirs=[SHIPPED, tmp_path])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "qstore-dark"
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("bad.toml: colors.primary: not a colour") for m in messages)
        assert any("unknown theme 'bad'" in m for m in messages)


async def test_a_user_theme_can_be_chosen(tmp_path, app_factory):
    (tmp_path / "mine.toml").write_text('name = "mine"\ndark = false\n[colors]\nprimary = "#005f87"\n')
    app = app_factory(runs_dir=tmp_path / "runs", theme="mine", theme_dirs=[SHIPPED, tmp_path])
    async with app.run_test(size=(80, 24)):
        assert app.theme == "mine" and not app.current_theme.dark


def test_the_shipped_theme_directory_is_found_from_the_package():
    assert (Path(__file__).resolve().parent.parent / "themes") == SHIPPED
