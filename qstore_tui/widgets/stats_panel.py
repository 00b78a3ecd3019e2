"""Training internals at a glance: throughput sparkline, cache hit rate, gradient norm, SPSA gains."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from ..figures import reduction_text
from ..view import SessionView

if TYPE_CHECKING:
    from engine.events import MitigationInfo, SpendUpdate


def _num(value: float | None, fmt: str = ".3g") -> str:
    return "-" if value is None else format(value, fmt)


def _rates(view: SessionView) -> str:
    """Template and bound-circuit hit rates: the two levels of the circuit cache."""
    c = view.cache
    if c is None:
        return "-"

    def rate(hits: int, misses: int) -> str:
        return f"{hits / (hits + misses):.0%}" if hits + misses else "-"

    return f"{rate(c.template_hits, c.template_misses)} tmpl, {rate(c.bound_hits, c.bound_misses)} bound"


def _details(view: SessionView) -> str:
    """The slower-moving numbers, shown on taller terminals: checkpoint, compiler, store, cost."""
    parts = []
    if view.checkpoint is not None:
        parts.append(f"checkpoint at step {view.checkpoint.step}")
    if view.compiler is not None:
        c = view.compiler
        parts.append(f"compiler {c.target}: {reduction_text(c.reduction_pct)} ({c.gates_out} native gates)")
    if view.store is not None:
        knn = "" if view.store.knn_accuracy is None else f", kNN {view.store.knn_accuracy:.0%}"
        parts.append(f"store {view.store.store}: {view.store.upserted} vectors{knn}")
    if view.cost is not None:
        parts.append(f"cost so far ${view.cost.usd:,.2f} ({view.cost.source})")
    if view.spend is not None:
        parts.append(_spend(view.spend))
    if view.mitigation is not None:
        parts.append(_mitigation(view.mitigation))
    if view.shots_spent:
        per = "" if view.shots_per_loss is None else f" ({view.shots_per_loss:,.0f} per unit of loss)"
        parts.append(f"shots {view.shots_spent:,}{per}")
    return "   ".join(parts)


def _spend(s: SpendUpdate) -> str:
    """Actual IonQ spend next to the estimate and the cap: what the run has really cost."""
    est = "" if s.estimate_usd is None else f" of est. ${s.estimate_usd:,.2f}"
    cap = "" if s.cap_usd is None else f", cap ${s.cap_usd:,.2f}"
    billed = "" if s.billed else " (estimated: not billed yet)"
    return f"spent ${s.spent_usd:,.2f}{est}{cap} over {s.jobs} job(s){billed}"


def _mitigation(m: MitigationInfo) -> str:
    ionq = f"IonQ {m.ionq}; " if m.ionq else ""
    return f"mitigation: {ionq}readout {m.readout}"


class StatsPanel(Vertical):
    """A sparkline of circuits/s over recent batches, then one line of optimizer and cache numbers."""

    DEFAULT_CSS = """
    StatsPanel {
        height: auto;
        border-top: solid $primary 60%;
        border-title-color: $foreground;
        #throughput { height: 2; margin: 0 1; }
        #numbers { height: auto; padding: 0 1; }
        #details { display: none; height: auto; padding: 0 1; color: $foreground-muted; }
    }
    """  # shown on tall screens by styles/app.tcss (a widget's own CSS cannot see the screen's classes)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "throughput"
        self._numbers = ""
        self._details = ""

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="throughput")
        yield Static("", id="numbers", markup=False)
        yield Static("", id="details", markup=False)

    def set_view(self, view: SessionView) -> None:
        points = list(view.throughput)
        spark = self.query_one("#throughput", Sparkline)
        if spark.data != points:
            spark.data = points
        spark.display = bool(points)
        now = f"{points[-1]:,.0f} circuits/s" if points else "- circuits/s"
        self.border_title = f"throughput {now}  ({view.circuits_done:,} circuits, {view.batches_done:,} batches)"
        numbers = (f"cache {_rates(view)}  |grad| {_num(view.grad_norm)}  "
                   f"SPSA a={_num(view.spsa_a)} c={_num(view.spsa_c)}  lr {_num(view.learning_rate)}")
        if numbers != self._numbers:
            self._numbers = numbers
            self.query_one("#numbers", Static).update(numbers)
        details = _details(view)
        if details != self._details:
            self._details = details
            self.query_one("#details", Static).update(details)
