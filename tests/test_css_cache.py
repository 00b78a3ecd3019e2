"""qstore_tui.css_cache: a CSS source is parsed once per theme per process, and bad CSS still fails as before."""

from __future__ import annotations

import pytest
from textual.css import stylesheet as stylesheet_module
from textual.css.stylesheet import Stylesheet, StylesheetParseError

from qstore_tui import app as _app  # noqa: F401  (installs the cache, as the app does)
from qstore_tui import css_cache

CSS = "Label { color: $accent; padding: 1 2; }"


def _sheet(variables: dict[str, str], css: str = CSS) -> Stylesheet:
    sheet = Stylesheet(variables=variables)
    sheet.add_source(css, read_from=("test_css_cache.py", "CSS"))
    return sheet


def test_a_reparse_and_a_second_app_reuse_the_parsed_rules(monkeypatch):
    calls = []
    real_parse = stylesheet_module.parse

    def counted(scope, css, *args, **kwargs):
        calls.append(css)
        return real_parse(scope, css, *args, **kwargs)

    monkeypatch.setattr(stylesheet_module, "parse", counted)
    css_cache._cache.clear()
    sheet = _sheet({"accent": "#ff0000"})
    sheet.parse()
    first = sheet.rules
    sheet.reparse()  # what App.refresh_css does on every new screen and theme: a fresh Stylesheet
    other = _sheet({"accent": "#ff0000"})
    other.parse()
    assert calls.count(CSS) == 1  # Textual alone parses it three times
    assert [r.css for r in sheet.rules] == [r.css for r in first] == [r.css for r in other.rules]


def test_the_theme_is_part_of_the_key():
    red, blue = _sheet({"accent": "#ff0000"}), _sheet({"accent": "#0000ff"})
    red.parse()
    blue.parse()
    assert "#FF0000" in red.rules[0].css.upper() and "#0000FF" in blue.rules[0].css.upper()


def test_bad_css_is_never_cached_and_still_reports_its_error_every_time():
    for _ in range(2):
        sheet = _sheet({"accent": "#ff0000"}, "Label { colour: red; }")
        with pytest.raises(StylesheetParseError):
            sheet.parse()
    assert not any("colour" in key[0] for key in css_cache._cache)
