"""One circuit in a scrollable box: as a gate list or as a wire diagram."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

from .circuit_text import diagram_lines, gate_lines

if TYPE_CHECKING:
    from engine.circuits.ir import Circuit

Layout = Literal["gates", "diagram"]


class CircuitView(ScrollableContainer, can_focus=True):
    """Scrolls both ways (diagrams are wide); the border title names the form and its size."""

    DEFAULT_CSS = """
    CircuitView {
        width: 1fr;
        height: 1fr;
        border: round $primary 60%;
        border-title-color: $foreground;
        &:focus { border: heavy $accent; border-title-style: bold reverse; }  /* a different line, not a shade */
        #text { width: auto; height: auto; }
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield Static("", id="text", markup=False)

    def show(self, circuit: Circuit | None, layout: Layout, *, title: str | None = None,
             empty: str = "nothing compiled yet") -> None:
        self.title = title or self.title
        text = self.query_one("#text", Static)
        if circuit is None:
            self.border_title = self.title
            text.update(empty)
            return
        self.border_title = f"{self.title}: {len(circuit.gates)} gates"
        lines = gate_lines(circuit) if layout == "gates" else diagram_lines(circuit)
        text.update("\n".join(lines) if lines else "(no gates)")
        self.scroll_home(animate=False)
