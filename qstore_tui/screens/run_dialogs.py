"""The Runs screen's dialogs: confirm deleting a run, type tags for a run. Both dismiss once."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..widgets.edit_input import EditInput
from .dismiss_once import DismissOnce

_CSS = """
    align: center middle;
    #dialog { width: 64; max-width: 100%; height: auto; border: thick $warning; background: $surface;
              padding: 1 2; }
    #buttons { height: auto; margin-top: 1; }
    #buttons Button { margin-right: 2; }
"""


class DeleteRunScreen(DismissOnce, ModalScreen[bool]):
    """Delete a run directory for good? Result True only on an explicit yes (y or the Delete button)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete", id="delete.yes"),
        Binding("escape,n", "answer(False)", "Cancel", id="delete.cancel"),
    ]
    DEFAULT_CSS = "DeleteRunScreen {" + _CSS + "}"

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Delete run {self.run_id}? Its events, checkpoints and report are removed.",
                         markup=False)
            with Horizontal(id="buttons"):
                yield Button("Delete (y)", id="yes", variant="error", compact=True)
                yield Button("Cancel", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # a stray Enter cancels

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TagRunScreen(DismissOnce, ModalScreen[list[str] | None]):
    """Tags to add to a run, separated by spaces or commas; Escape adds none."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="tag.cancel")]
    DEFAULT_CSS = "TagRunScreen {" + _CSS.replace("$warning", "$primary") + "}"

    def __init__(self, run_id: str, tags: list[str]) -> None:
        super().__init__()
        self.run_id = run_id
        self.tags = tags

    def compose(self) -> ComposeResult:
        now = ", ".join(self.tags) or "none"
        with Vertical(id="dialog"):
            yield Static(f"Tag run {self.run_id} (now: {now}). Enter adds, Escape cancels.", markup=False)
            yield EditInput(placeholder="tag another-tag", id="tags")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss([t for t in event.value.replace(",", " ").split() if t])

    def action_cancel(self) -> None:
        self.dismiss(None)
