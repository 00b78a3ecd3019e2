"""What every screen shares: the mode bar, the footer, the too-small message, and the file boxes' refusal of a FIFO."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from ..widgets.footer import KeyFooter
from ..widgets.mode_bar import ModeBar
from ..widgets.too_small import TooSmall, too_small

if TYPE_CHECKING:
    from ..app import QStoreApp
    from ..view import SessionView


TALL = 32  # rows from which screens show their second line of details


class LiveFocus:
    """A screen that refuses the focus for a widget being removed (or gone).

    Textual's `Widget.focus()` sets the focus later (call_later), and its removal clears the focus only if
    the widget had it when the removal began. A Config field's editor focused just as its group was swapped
    out therefore kept the screen's focus after it was removed: keys went to the detached editor, and 1-5
    and Escape never reached the app again (monkey seeds 36, 37).
    """

    def set_focus(self, widget: Widget | None, scroll_visible: bool = True, from_app_focus: bool = False) -> None:
        if widget is not None and (not widget.is_attached or widget._pruning or widget._closing):
            return
        super().set_focus(widget, scroll_visible, from_app_focus)  # type: ignore[misc]


class WorkerErrors:
    """A screen whose thread workers (listings, comparisons, compiles; `exit_on_error=False`) say when one fails
    with an error they did not expect: Textual keeps such an error on the worker, and the screen just never
    updated (a diverged run's compare overflowed, and the chart went on showing the old data). It is a bug, so
    the notification is the crash line, with a crash log."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        error = event.worker.error
        if event.state == WorkerState.ERROR and error is not None:
            from ..crash import crash_message, write_crash_log

            what = f"the {event.worker.group} view"
            app = cast("App[object]", cast(Widget, self).app)
            app.notify(crash_message(what, error, write_crash_log(error, what=what)), severity="error",
                       markup=False, timeout=30)


class AppScreen(WorkerErrors, LiveFocus, Screen[None]):
    """A mode's base screen. Subclasses yield their content from `compose_body` and draw from `show_view`."""

    MODE = ""
    PALETTE: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (title, help, action string) for the palette
    DEFAULT_CSS = """
    AppScreen {
        layout: vertical;
        #body { height: 1fr; }
        &.-too-small {
            #body, ModeBar, Footer { display: none; }
            TooSmall { display: block; }
        }
    }
    """
    BINDINGS = [Binding("escape", "leave_field", "Leave the field", show=False, id="screen.leave_field")]
    PURPOSE = ""  # one line on what the screen is for (the help screen's first line)
    ready = False  # composed and mounted: show_view may run
    _styled_for: tuple[int, frozenset[str], frozenset[str]] | None = None  # style_inputs when last hidden

    def action_leave_field(self) -> None:
        """Escape in a text input: the keys go back to the screen (1-5 switch screens again)."""
        if not isinstance(self.focused, Input):
            return
        home = self.query(self.AUTO_FOCUS) if self.AUTO_FOCUS else None
        target = home.first() if home else None
        if target is not None and target.focusable and not isinstance(target, Input):
            target.focus()
        else:
            self.set_focus(None)

    @property
    def qapp(self) -> QStoreApp:
        return cast("QStoreApp", self.app)

    def compose(self) -> ComposeResult:
        yield ModeBar(self.MODE)
        with Container(id="body"):
            yield from self.compose_body()
        yield TooSmall()
        yield KeyFooter(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        """Runs after the subclass's own on_mount (Textual calls the handler of every class in the MRO,
        subclass first, so subclasses never call super() in handlers); from here on updates draw."""
        self._check_size()
        if self.qapp.testing:
            for field in self.query(Input):
                field.cursor_blink = False
        self.ready = True
        self.show_view(self.qapp.bridge.view)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size()

    def on_screen_suspend(self) -> None:
        self._styled_for = style_inputs(self.app)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Hidden screens skip updates; catch up with the engine when shown again.

        Textual restyles the whole screen on every mode switch (a third of a switch's CPU). That is
        skipped when nothing outside the screen that its styles depend on (the CSS, the app's classes
        and pseudo-classes: theme, focus) changed while it was hidden; its own widgets restyle
        themselves whenever their classes or pseudo-classes change, hidden or not."""
        if self._styled_for is not None and self._styled_for == style_inputs(self.app):
            event.refresh_styles = False
        self._check_size()
        if self.ready:
            self.show_view(self.qapp.bridge.view)

    def _check_size(self) -> None:
        size = self.app.size
        small = too_small(size)
        self.set_class(small, "-too-small")
        self.set_class(size.height >= TALL, "-tall")
        if small:
            self.query_one(TooSmall).show_size(size)

    def show_view(self, view: SessionView) -> None:
        """Draw the session view; called at most ~10 times a second, only on the visible screen."""
        self.query_one(ModeBar).set_status(_status_line(view))


def special_file(path: Path) -> bool:
    """A FIFO, socket or device: open() would wait for a writer (or read forever), so a file box refuses it
    before opening. A folder is not one: its read says "is a directory"."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):  # missing, unreadable, a NUL in the name: the read itself says which
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def style_inputs(app: App[object]) -> tuple[int, frozenset[str], frozenset[str]]:
    """What a screen's styles depend on beyond its own widgets: the CSS generation (a theme or
    stylesheet change bumps it) and the app's classes and pseudo-classes."""
    return app._css_update_count, frozenset(app.classes), frozenset(app.get_pseudo_classes())


def _status_line(view: SessionView) -> str:
    if view.source == "none":
        return ""
    if view.total_steps:
        return f"{view.status} {view.step}/{view.total_steps}"
    return view.status
