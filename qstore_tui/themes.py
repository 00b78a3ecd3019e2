"""Theme files (`themes/*.toml`) into Textual themes, validated before anything is registered.

A theme file is a `name`, `dark`, a `[colors]` table (primary is required) and an optional
`[variables]` table of Textual theme variables. Every colour goes through `Color.parse`; unknown
keys and unknown variables are errors, because a typo would otherwise be ignored silently. A bad
file (a FIFO named *.toml too, refused before it is opened) never stops the app: `load_themes` returns it
as a `ThemeProblem` that the app shows as a notification, and the app keeps the default theme.

Files are looked up in the repository's `themes/` (a source checkout), in the installed package's
`qstore_tui/theme_files/` (a wheel), and in the user's config dir (`~/.config/qstore/themes`).
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.design import ColorSystem
from textual.theme import Theme

from engine.fileio import write_error
from engine.tomlguard import TomlError
from engine.tomlguard import loads as toml_loads

from .screens.base import special_file

DEFAULT_THEME = "qstore-dark"
SHIPPED_THEMES = ("qstore-dark", "qstore-light", "qstore-high-contrast")  # themes/*.toml, listed first
FALLBACK_THEME = "textual-dark"  # built into Textual: used when even the default file is bad
_STYLE_WORDS = {"none", "bold", "b", "italic", "i", "underline", "u", "reverse", "dim", "strike", "not"}


def _check_colour(value: str, *, alpha: bool) -> str:
    """A colour as Textual's `Color.parse` reads it; with `alpha`, optionally followed by a percentage
    ("#81a1c1 35%"), which a [variables] value (CSS) may have and a [colors] one may not: Textual parses those
    with `Color.parse` alone, and the first frame in that theme crashed."""
    parts = value.split() if alpha else [value]
    if not 1 <= len(parts) <= 2 or (len(parts) == 2 and not re.fullmatch(r"\d{1,3}%", parts[1])):
        raise ValueError(f"not a colour: {value!r}")
    try:
        Color.parse(parts[0])
    except ColorParseError:
        raise ValueError(f"not a colour: {value!r}") from None
    return value


def _known_variables() -> frozenset[str]:
    return frozenset(ColorSystem(primary="#000000").generate())


class ThemeColors(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None

    @field_validator("*")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _check_colour(value, alpha=False)


class ThemeFile(BaseModel):
    """The contents of one theme file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    dark: bool = True
    luminosity_spread: float = Field(0.15, ge=0, le=1)
    text_alpha: float = Field(0.95, ge=0, le=1)
    colors: ThemeColors
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("variables")
    @classmethod
    def _variables(cls, variables: dict[str, str]) -> dict[str, str]:
        known = _known_variables()
        for key, value in variables.items():
            if key not in known:
                raise ValueError(f"unknown theme variable {key!r}")
            if key.endswith("text-style"):
                if not set(value.split()) <= _STYLE_WORDS:
                    raise ValueError(f"{key}: not a text style: {value!r}")
            else:
                try:
                    _check_colour(value, alpha=True)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
        return variables

    def to_theme(self) -> Theme:
        return Theme(
            name=self.name,
            dark=self.dark,
            luminosity_spread=self.luminosity_spread,
            text_alpha=self.text_alpha,
            variables=dict(self.variables),
            **self.colors.model_dump(),
        )


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""

    def __init__(self, path: Path, message: str):
        self.path = path
        self.reason = message
        super().__init__(f"{path.name}: {message}")


@dataclass(frozen=True)
class ThemeProblem:
    path: Path
    message: str
    outcome: str = "using the default theme"  # what the app does about it


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    msg = err.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif err.get("type") == "missing":
        msg = "missing"
    return f"{where}: {msg}" if where else msg


def load_theme_file(path: Path) -> Theme:
    """One theme file as a Textual Theme; raises ThemeFileError naming the file and the key."""
    if special_file(path):  # a FIFO named *.toml: open() would wait for a writer, and the app never start
        raise ThemeFileError(path, "cannot read: not a regular file")
    try:
        document: Any = toml_loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeFileError(path, f"cannot read: {write_error(path, exc).reason}") from None
    except UnicodeDecodeError as exc:
        raise ThemeFileError(path, f"cannot read: {exc}") from None
    except TomlError as exc:  # bad syntax, or nesting deep enough to exhaust tomllib's recursion
        raise ThemeFileError(path, str(exc)) from None
    try:
        return ThemeFile.model_validate(document).to_theme()
    except ValidationError as exc:
        raise ThemeFileError(path, _describe(exc)) from None


def default_theme_dirs() -> list[Path]:
    """Shipped themes (checkout, then installed package), then the user's own."""
    dirs = [Path(__file__).resolve().parent.parent / "themes"]
    packaged = importlib.resources.files("qstore_tui") / "theme_files"  # themes/ as shipped in the wheel
    if isinstance(packaged, Path):
        dirs.append(packaged)
    dirs.append(platformdirs.user_config_path("qstore", appauthor=False) / "themes")
    return dirs


def load_themes(dirs: Iterable[Path]) -> tuple[dict[str, Theme], list[ThemeProblem]]:
    """Every `*.toml` in `dirs`: a later directory overrides an earlier one by theme name (the user's own
    replace shipped ones); two files of one directory with the same name are a problem, the later one used."""
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    seen: set[Path] = set()
    for directory in dirs:
        if not directory.is_dir() or directory.resolve() in seen:
            continue
        seen.add(directory.resolve())
        named_here: dict[str, Path] = {}
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(ThemeProblem(path, str(exc)))
                continue
            if (twin := named_here.get(theme.name)) is not None:
                problems.append(ThemeProblem(path, f"{path.name}: theme name {theme.name!r} is also {twin.name}'s "
                                                   f"(in {directory})", outcome=f"{path.name} is used"))
            named_here[theme.name] = path
            themes[theme.name] = theme
    return themes, problems
