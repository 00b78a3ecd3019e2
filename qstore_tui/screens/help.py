"""Help (`?`, or "help" in the palette): what the screen is for, its keys, and the global ones.

The key lists are read from the bindings themselves (with the user's keymap applied), so they can
never drift from what the keys do: there is no second, hand-written list.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..keymap import bound_keys, key_in_words
from .base import style_inputs
from .dismiss_once import DismissOnce


@dataclass(frozen=True)
class KeyLine:
    keys: str  # "1, f1"
    what: str  # "Config screen"
    action: str


def key_lines(node: DOMNode, keymap: dict[str, str]) -> list[KeyLine]:
    """One line per action bound on `node` (its own BINDINGS, merged over its classes), keys joined; a screen's
    `UNBOUND_KEYS` ((key, action) pairs, such as Enter on the runs table) join their action's line."""
    bindings: BindingsMap = node._bindings.copy()
    if keymap:
        bindings.apply_keymap(keymap)
    by_action: dict[str, tuple[list[str], Binding]] = {}
    for key, bound in bindings.key_to_bindings.items():
        for binding in bound:
            if binding.system:
                continue
            keys, _ = by_action.setdefault(binding.action, ([], binding))
            keys.append(node.app.get_key_display(Binding(key, binding.action)))
    for key, action in getattr(node, "UNBOUND_KEYS", ()):  # a widget's key that does a bound action too
        if action in by_action:
            by_action[action][0].append(node.app.get_key_display(Binding(key, action)))
    return [KeyLine(", ".join(keys), binding.description or binding.action.replace("_", " "), binding.action)
            for keys, binding in by_action.values()]


class HelpScreen(DismissOnce, ModalScreen[None]):
    """Keys of the screen below and of the app; Escape, `?` or q closes it."""

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-box {
            width: 76; max-width: 100%; height: auto; max-height: 100%;
            border: round $primary; background: $surface; padding: 0 1;
        }
        .purpose { color: $foreground; text-style: bold; margin-bottom: 1; }
        .heading { color: $accent; text-style: bold; }
        .keys { margin-bottom: 1; }
        .hint { color: $foreground-muted; }
    }
    """

    def __init__(self, below: Screen[object], *, title: str, purpose: str, screen_keys: bool = True) -> None:
        """`screen_keys=False` for a screen pushed over a mode's base screen (Compare, Sweep): there the
        1-5 keys do nothing until it is left, so its help does not offer them."""
        super().__init__()
        self.below = below
        self.title_text = title
        self.purpose = purpose
        self.screen_keys = screen_keys

    def compose(self) -> ComposeResult:
        keymap = dict(self.app._keymap)
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"Help: {self.title_text}"
            box.can_focus = False
            yield Static(self.purpose, classes="purpose", markup=False)
            own = key_lines(self.below, keymap)
            shared = _shared_actions(self.below)
            yield Static("This screen", classes="heading")
            yield Static(_table([line for line in own if line.action not in shared])
                         or "(no keys of its own)", classes="keys", markup=False)
            yield Static("Everywhere", classes="heading")
            app_lines = key_lines(self.app, keymap)
            if not self.screen_keys:
                app_lines = [line for line in app_lines if not line.action.startswith("show(")]
            yield Static(_table(_screen_keys_in_one(app_lines)
                                + [line for line in own if line.action in shared]), classes="keys", markup=False)
            closing = " or ".join(key_in_words(key) for key in bound_keys(self, "help.close")[:2])
            yield Static(f"{closing} closes this · in a field, Escape gives the keys back to the screen and "
                         "^z / ^y undo and redo",
                         classes="hint", markup=False)

    closing = False  # dismissed, its pop not finished: pushing it again now would leave it suspended on top

    def action_close(self) -> None:
        if self.app.screen is self:
            self.closing = True
        self.dismiss(None)

    _styled_for: tuple[int, frozenset[str], frozenset[str]] | None = None  # style_inputs when last closed

    def on_screen_suspend(self) -> None:
        self.closing = False
        self._styled_for = style_inputs(self.app)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Opened again (it is kept): Textual's restyle of the whole screen is skipped when nothing it
        depends on outside itself changed since it was closed (as for the mode screens, base.py)."""
        if self._styled_for is not None and self._styled_for == style_inputs(self.app):
            event.refresh_styles = False


def _shared_actions(screen: Screen[object]) -> set[str]:
    """Actions every screen has (Textual's focus and copy keys, Escape out of a field)."""
    shared: set[str] = set()
    for cls in type(screen).__mro__[1:]:
        if cls.__dict__.get("BINDINGS") and issubclass(cls, Screen) and cls is not ModalScreen:
            shared |= {b.action if isinstance(b, Binding) else b[1] for b in cls.__dict__["BINDINGS"]}
    return shared


def _screen_keys_in_one(lines: list[KeyLine]) -> list[KeyLine]:
    """The five screen keys as one line ("1, f1 Config · 2, f2 Training ..."), so help fits 80x24."""
    screens = [line for line in lines if line.action.startswith("show(")]
    if not screens:
        return lines
    joined = KeyLine("", " · ".join(f"{line.keys.replace(', ', '/')} {line.what.removesuffix(' screen')}"
                                     for line in screens), "show")
    return [joined, *(line for line in lines if not line.action.startswith("show("))]


def _table(lines: list[KeyLine]) -> str:
    if not lines:
        return ""
    width = min(24, max(len(line.keys) for line in lines))
    return "\n".join(f"{line.keys:<{width}}  {line.what}" if line.keys else line.what for line in lines)
