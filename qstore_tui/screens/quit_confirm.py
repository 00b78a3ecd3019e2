"""Quit while a run trains: stop it with a checkpoint, keep it running headless and detach, or cancel.

A stray `q` must never lose a run. The choice is the dialog's result: "stop", "detach" or None.
"""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..keymap import first_key_in_words
from .dismiss_once import DismissOnce

QuitChoice = Literal["stop", "detach"]


class QuitConfirmScreen(DismissOnce, ModalScreen[QuitChoice | None]):
    """Asks what to do with the run before the app closes."""

    BINDINGS = [
        Binding("s", "choose('stop')", "Stop with checkpoint", id="quit.stop"),
        Binding("d", "choose('detach')", "Detach, keep running", id="quit.detach"),
        Binding("escape,c", "choose('')", "Cancel", id="quit.cancel"),
    ]
    DEFAULT_CSS = """
    QuitConfirmScreen {
        align: center middle;
        #dialog { width: 72; max-width: 100%; height: auto; border: thick $warning; background: $surface;
                  padding: 1 2; }
        #title { text-style: bold; color: $warning; }
        #buttons { height: auto; margin-top: 1; }
        #buttons Button { margin-right: 2; }
    }
    """

    def __init__(self, run_id: str, *, qpu: bool) -> None:
        super().__init__()
        self.run_id = run_id
        self.qpu = qpu

    def compose(self) -> ComposeResult:
        money = " on a QPU (jobs in flight are billed)" if self.qpu else ""
        stop, detach, cancel = (first_key_in_words(self, f"quit.{what}") for what in ("stop", "detach", "cancel"))
        with Vertical(id="dialog"):
            yield Static(f"Run {self.run_id} is still going{money}", id="title", markup=False)  # wraps
            yield Static(f"{stop}  stop it: checkpoint, cancel jobs in flight, then quit (resume it later)\n"
                         f"{detach}  keep it running headless and quit: attach again with "
                         f"`qstore-tui attach {self.run_id}`\n"
                         f"{cancel}  cancel: back to the app", markup=False)
            with Horizontal(id="buttons"):
                yield Button(f"Stop ({stop})", id="stop", variant="warning", compact=True)
                yield Button(f"Detach ({detach})", id="detach", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # Enter on a stray key press changes nothing

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(event.button.id if event.button.id in ("stop", "detach") else "")

    def action_choose(self, choice: str) -> None:
        self.dismiss("stop" if choice == "stop" else "detach" if choice == "detach" else None)
