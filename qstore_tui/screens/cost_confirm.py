"""The QPU cost: an estimate before the run, and the confirmation (with a cost cap) before any QPU run.

The confirmation also offers a dry run (issue 15): IonQ validates and prices every payload of a step
against the same cap, and nothing runs.

The estimate uses the same published prices and circuit count as the engine session (which, against
the real IonQ API, re-prices with IonQ's /jobs/estimate endpoint and refuses a run over the cap).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.config import ConfigError, TrainingConfig, parse_field
from engine.run_cost import estimate_run_cost

from ..keymap import first_key_in_words
from ..widgets.edit_input import EditInput
from .dismiss_once import DismissOnce


@dataclass(frozen=True)
class CostDecision:
    """What the cost dialog settled: the cap, and whether to start a dry run instead of the paid run."""

    cap_usd: float
    dry_run: bool


class CostConfirmScreen(DismissOnce, ModalScreen[CostDecision | None]):
    """Shows the estimate and asks for a cost cap; returns the decision, or None when cancelled.

    A config with `dry_run` set offers only the dry run: the paid run is turned on in the Config screen."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cost.cancel"),
        # Not a letter: the cap box has the focus and takes printable keys (ctrl+d is its delete-right).
        Binding("ctrl+t", "dry_run", "Dry run", id="cost.dry_run"),
    ]
    DEFAULT_CSS = """
    CostConfirmScreen {
        align: center middle;
        #dialog {
            width: 72;
            height: auto;
            border: thick $warning;
            background: $surface;
            padding: 1 2;
        }
        #title { text-style: bold; color: $warning; }
        #cap-row { height: 1; margin-top: 1; }
        #cap-row Label { width: 18; }
        #cap { width: 1fr; }
        #cap-error { color: $error; text-style: bold; height: auto; }
        #dry-hint { color: $foreground-muted; margin-top: 1; }
        #buttons { height: 1; margin-top: 1; align-horizontal: right; }
        #buttons Button { margin-left: 2; }
    }
    """

    def __init__(self, config: TrainingConfig) -> None:
        super().__init__()
        self.config = config
        self.cost = estimate_run_cost(config)

    def compose(self) -> ComposeResult:
        cost = self.cost
        assert cost is not None
        cap = "" if self.config.max_cost_usd is None else repr(self.config.max_cost_usd)
        dry_only = self.config.dry_run
        with Vertical(id="dialog"):
            yield Label(f"A dry run on {cost.target}: nothing runs" if dry_only
                        else f"This run uses {cost.target} and costs money", id="title")
            yield Static(f"{cost.line()}\n(${cost.per_circuit_usd:,.2f} per circuit; {cost.basis}).\n"
                         "The engine re-prices with IonQ before the first job and refuses a run over the cap.",
                         markup=False)
            with Horizontal(id="cap-row"):
                yield Label("Cost cap (USD):")
                yield EditInput(cap, placeholder=f"at least {cost.usd:,.2f}", compact=True, id="cap")
            yield Label("", id="cap-error", markup=False)
            yield Static(f"Dry run ({first_key_in_words(self, 'cost.dry_run')}): IonQ prices and checks the jobs, "
                         "runs nothing.", id="dry-hint", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Dry run", id="dry-run", variant="primary", compact=True)
                if not dry_only:
                    yield Button("Run on the QPU", id="confirm", variant="warning", compact=True)

    def on_mount(self) -> None:
        if getattr(self.app, "testing", False):
            self.query_one("#cap", Input).cursor_blink = False
        self.query_one("#cap", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        elif event.button.id == "dry-run":
            self.action_dry_run()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        """The paid run (a dry run when the config asks for one), with a valid cap at or above the estimate."""
        self._decide(dry_run=self.config.dry_run)

    def action_dry_run(self) -> None:
        """A dry run: the same cap check, since IonQ's price is checked against it; nothing runs."""
        self._decide(dry_run=True)

    def _decide(self, *, dry_run: bool) -> None:
        assert self.cost is not None
        error = self.query_one("#cap-error", Label)
        try:
            cap = parse_field("max_cost_usd", self.query_one("#cap", Input).value)
        except ConfigError as exc:
            error.update(f"max_cost_usd: {exc.reason}")
            return
        if cap is None:
            error.update("max_cost_usd: a QPU run needs a cost cap")
            return
        if cap < self.cost.usd:
            error.update(f"max_cost_usd: the estimate is ${self.cost.usd:,.2f}, over the cap of ${cap:,.2f}")
            return
        self.dismiss(CostDecision(cap, dry_run))

    def action_cancel(self) -> None:
        self.dismiss(None)
