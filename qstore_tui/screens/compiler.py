"""Compiler: a circuit (the model at its current parameters, one from the last batch, or an IonQ JSON file)
in qis and native form side by side, its counts, duration and success estimates on Aria and Forte, and a
verify action that shows the equivalence fidelity. Compiling and verifying run in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from engine.config.tomlio import NUL_IN_NAME
from engine.fileio import user_path, write_error

from ..figures import REDUCTION_ROW, reduction_cell
from ..messages import CompileFinished, VerifyFinished
from ..widgets.circuit_view import CircuitView, Layout
from ..widgets.edit_input import EditInput
from .base import AppScreen, special_file

if TYPE_CHECKING:
    from engine.circuits.ir import Circuit
    from engine.compiler import CompileResult, Estimate
    from engine.config import TrainingConfig

TARGETS = ("aria", "forte")
TARGET_TITLES = {"aria": "Aria", "forte": "Forte"}
SOURCES = (("model template", "template"), ("last batch", "batch"), ("IonQ JSON file", "file"))
MAX_VERIFY_QUBITS = 10  # verification multiplies full unitaries: 2**n x 2**n complex numbers
ROWS = ("1q gates", "2q gates", "depth", REDUCTION_ROW, "duration", "success p", "fidelity")
MESSAGE_LINES = 3  # the message area's max-height
HINT = "Choose a circuit and press c to compile it for Aria and Forte."


def _never() -> bool:
    return False


@dataclass
class CompiledView:
    """A source circuit and what each target made of it."""

    source: Circuit
    description: str
    results: dict[str, CompileResult] = field(default_factory=dict)
    estimates: dict[str, Estimate] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    fidelity: dict[str, float] = field(default_factory=dict)


class CircuitSourceError(ValueError):
    """No circuit to show from the chosen source; the message says why and what to do."""


def model_circuit(config: TrainingConfig, session: object | None) -> tuple[Circuit, str]:
    """The model's template bound at its current parameters (a live session's, else the initial ones)."""
    import numpy as np

    model = getattr(session, "model", None)
    if model is not None:
        batch = getattr(session, "last_batch", None)
        if batch is not None and batch.template is model.template:
            inputs, where = batch.inputs[0], "inputs of row 0 of the last batch"
        else:
            inputs, where = np.full(model.input_dim, 0.5), "inputs 0.5"
        how = f"current parameters, {where}"
    else:
        from engine.data import load_dataset, train_val_split
        from engine.model import QuantumModel

        train, _ = train_val_split(load_dataset(config), config.validation_split, config.seed)
        model = QuantumModel.from_config(config, train.n_features, train.n_classes or 1)
        model.fit_scaler(train.x)
        inputs, how = model.encode(train.x[:1])[0], "initial parameters, first training sample"
    t = model.template
    angles = t.bind_angles(model.split()[0][None, :], np.asarray(inputs, dtype=np.float64)[None, :])
    return t.circuit_from_angles(angles[0], t.label), f"{t.label} at its {how}"


def batch_circuit(session: object | None) -> tuple[Circuit, str]:
    batch = getattr(session, "last_batch", None)
    if batch is None:
        raise CircuitSourceError("no batch yet: start a run (the last batch of a live run is shown here)")
    t = batch.template
    return t.circuit_from_angles(batch.angles()[0], t.label), f"row 0 of the last batch ({len(batch)} circuits)"


def file_circuit(path_text: str) -> tuple[Circuit, str]:
    from engine.circuits import CircuitError, parse_circuit

    if not path_text.strip():
        raise CircuitSourceError("type the path of an IonQ JSON circuit file in the box")
    if "\0" in path_text:  # a paste: open() would say "embedded null byte", taken here for a JSON error
        raise CircuitSourceError(NUL_IN_NAME)
    try:
        path = user_path(path_text.strip())
    except ValueError as exc:
        raise CircuitSourceError(str(exc)) from None
    if special_file(path):  # a FIFO: the read would wait for a writer, and the compile never end
        raise CircuitSourceError(f"{path}: not a regular file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CircuitSourceError(f"{path}: cannot read: {write_error(path, exc).reason}") from None
    except ValueError as exc:
        raise CircuitSourceError(f"{path}: not JSON: {exc}") from None
    except RecursionError:  # json's decoder recurses per level: '[' * 2000 exceeds Python's recursion limit
        raise CircuitSourceError(f"{path}: not JSON: nested too deeply") from None
    try:
        circuit = parse_circuit(document)
    except CircuitError as exc:
        raise CircuitSourceError(f"{path}: {exc}") from None
    if circuit.gateset != "qis":
        raise CircuitSourceError(f"{path}: holds a native circuit; the compiler takes qis circuits")
    return circuit, str(path)


def compile_all(source: Circuit, description: str, superseded: Callable[[], bool] = _never) -> CompiledView:
    """Compile for Aria and Forte and estimate each; a target that refuses a gate records why. Once `superseded`
    says a newer request replaced this one, the targets left are skipped (nobody will see them)."""
    from engine.compiler import NativeGateCompiler, UnsupportedGateError, default_characterization, estimate

    view = CompiledView(source, description)
    for target in TARGETS:
        if superseded():
            break
        try:
            result = NativeGateCompiler(target=target).compile(source)
        except UnsupportedGateError as exc:
            view.errors[target] = str(exc)
            continue
        view.results[target] = result
        view.estimates[target] = estimate(result.circuit, default_characterization(target))
    return view


def verify_all(view: CompiledView, superseded: Callable[[], bool] = _never) -> dict[str, float]:
    """The fidelity of each target's circuit with the source; stops early, as compile_all does, once superseded."""
    from engine.compiler import verify

    if view.source.n_qubits > MAX_VERIFY_QUBITS:
        raise ValueError(f"verification compares full unitaries: at most {MAX_VERIFY_QUBITS} qubits, "
                         f"this circuit has {view.source.n_qubits}")
    fidelity = {}
    for target, r in view.results.items():
        if superseded():
            break
        fidelity[target] = verify(view.source, r.circuit, r.permutation, r.frames)
    return fidelity


def elide_middle(word: str, keep: int) -> str:
    """`word` as its first and last characters, `keep` in all, around an ellipsis."""
    head = (keep + 1) // 2
    return word[:head] + "…" + word[len(word) - (keep - head):]


def fit_lines(text: str, width: int, lines: int = MESSAGE_LINES) -> str:
    """`text` with the middle of its longest word (a path, in practice) elided until it wraps into `lines` lines
    of `width` cells: a long path must not push the reason after it out of the message area."""
    words = text.split(" ")
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word, keep = words[longest], len(words[longest])
    while keep > 1 and len(Content(text).wrap(width)) > lines:
        keep = max(1, keep - max(8, len(text) - lines * width))
        words[longest] = elide_middle(word, keep)
        text = " ".join(words)
    return text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


class CompilerScreen(AppScreen):
    MODE = "compiler"
    PURPOSE = "Compile a circuit for IonQ's native gates (Aria, Forte), compare it with its source and verify they are equal."
    AUTO_FOCUS = "#source"
    PALETTE = (
        ("Compiler: compile", "Compile the chosen circuit for Aria and Forte", "compile"),
        ("Compiler: verify", "Check the compiled circuits equal their source (fidelity)", "verify"),
        ("Compiler: gate lists / diagram", "Show the circuits as gate lists or as diagrams", "toggle_layout"),
        ("Compiler: native target", "Show the Aria or the Forte native circuit", "toggle_target"),
    )
    BINDINGS = [
        Binding("c", "compile", "Compile", id="compiler.compile"),
        Binding("v", "verify", "Verify", id="compiler.verify"),
        Binding("d", "toggle_layout", "Gates/Diagram", id="compiler.layout"),
        Binding("t", "toggle_target", "Aria/Forte", id="compiler.target"),
    ]
    DEFAULT_CSS = """
    CompilerScreen {
        #controls { height: 1; }
        #source { width: 20; }
        #path { width: 1fr; margin-left: 1; }
        #controls Button { margin-left: 1; }
        #message { height: auto; max-height: 3; padding: 0 1; color: $foreground-muted; }
        #message.-error { color: $error; text-style: bold; }
        #circuits { height: 1fr; }
        #stats { height: auto; max-height: 9; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.compiled: CompiledView | None = None
        self.layout_kind: Layout = "gates"
        self.target = "aria"
        self._request: Worker[None] | None = None  # the latest compile or verify: only its result is shown
        self._shown_message = HINT

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="controls"):
            yield Select(SOURCES, value="template", allow_blank=False, compact=True, id="source")
            yield EditInput("", placeholder="IonQ JSON file (for the file source)", compact=True, id="path")
            yield Button("Compile", compact=True, id="compile")
            yield Button("Verify", compact=True, id="verify")
        yield Static(HINT, id="message", markup=False)
        with Horizontal(id="circuits"):
            yield CircuitView("qis", id="qis")
            yield CircuitView("native", id="native")
        yield DataTable(id="stats", show_cursor=False, zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#stats", DataTable)
        table.add_column("", key="row", width=10)
        table.add_column("qis", key="qis")
        for target in TARGETS:
            table.add_column(TARGET_TITLES[target], key=target)
        self._show()

    # ----- actions -----

    def action_compile(self) -> None:
        """Build the chosen circuit and compile it (in a thread: the UI keeps answering)."""
        self._message("compiling…")
        source, path_text = str(self.query_one("#source", Select).value), self.query_one("#path", Input).value
        self._request = self._compile(source, path_text)

    def _superseded(self, message: CompileFinished | VerifyFinished) -> bool:
        """Whether a newer compile or verify replaced the one that sent this (exclusive=True only marks the old
        worker cancelled: its thread runs on and posts its result)."""
        return message.request is not self._request

    @work(thread=True, group="compiler", exclusive=True, exit_on_error=False)
    def _compile(self, source: str, path_text: str) -> None:
        worker = get_current_worker()
        bridge = self.qapp.bridge
        try:
            if source == "template":
                circuit, description = model_circuit(bridge.config or self.qapp.config, bridge.session)
            elif source == "batch":
                circuit, description = batch_circuit(bridge.session)
            else:
                circuit, description = file_circuit(path_text)
            result = compile_all(circuit, description, lambda: worker.is_cancelled)
        except (CircuitSourceError, ValueError) as exc:
            self.post_message(CompileFinished(None, str(exc), request=worker))
            return
        self.post_message(CompileFinished(result, request=worker))

    def on_compile_finished(self, message: CompileFinished) -> None:
        if self._superseded(message):
            return
        if message.error is not None:
            self._message(message.error, error=True)
            return
        self.compiled = message.result
        view = self.compiled
        assert view is not None
        problems = "; ".join(f"{TARGET_TITLES[t]}: {e}" for t, e in view.errors.items())
        self._message(view.description + (f" ({problems})" if problems else ""), error=bool(problems))
        self._show()

    def action_verify(self) -> None:
        """Equivalence fidelity of each compiled circuit with its source (1 = equal up to global phase)."""
        if self.compiled is None or not self.compiled.results:
            self._message("compile a circuit first (c)", error=True)
            return
        self._message("verifying…")
        self._request = self._verify(self.compiled)

    @work(thread=True, group="compiler", exclusive=True, exit_on_error=False)
    def _verify(self, view: CompiledView) -> None:
        worker = get_current_worker()
        try:
            fidelity = verify_all(view, lambda: worker.is_cancelled)
        except ValueError as exc:
            self.post_message(VerifyFinished(None, str(exc), request=worker))
            return
        if worker.is_cancelled:
            return  # partial: the view must not keep it, and the screen would drop it
        view.fidelity = fidelity
        self.post_message(VerifyFinished(min(fidelity.values()), request=worker))

    def on_verify_finished(self, message: VerifyFinished) -> None:
        if self._superseded(message):
            return
        if message.error is not None or message.fidelity is None:
            self._message(message.error or "verification failed", error=True)
            return
        equal = message.fidelity > 1 - 1e-9
        verdict = "equal to the source up to global phase" if equal else "NOT equal to the source"
        self._message(f"verified: fidelity {message.fidelity:.12f}, {verdict}", error=not equal)
        self._show()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A compile or verify that died of a bug (WorkerErrors notifies it): the message line must not go on
        saying "compiling…"."""
        if event.state == WorkerState.ERROR and event.worker is self._request:
            self._message("stopped by an internal error (see the notification)", error=True)

    def action_toggle_layout(self) -> None:
        self.layout_kind = "diagram" if self.layout_kind == "gates" else "gates"
        self._show()

    def action_toggle_target(self) -> None:
        self.target = "forte" if self.target == "aria" else "aria"
        self._show()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "compile":
            self.action_compile()
        elif event.button.id == "verify":
            self.action_verify()

    @on(Input.Submitted, "#path")
    def _path_submitted(self) -> None:
        self.query_one("#source", Select).value = "file"
        self.action_compile()

    # ----- drawing -----

    def _message(self, text: str, *, error: bool = False) -> None:
        """Show `text`; one too long for the message area shows its longest word shortened, and whole as the
        area's tooltip."""
        self._shown_message = text
        message = self.query_one("#message", Static)
        width = message.content_size.width
        fitted = fit_lines(text, width) if width > 0 else text
        message.update(fitted)
        message.tooltip = text if fitted != text else None
        message.set_class(error, "-error")

    def on_resize(self, event: events.Resize) -> None:
        """Fit the message to the new width (it was shortened for the old one, or not at all)."""
        message = self.query_one("#message", Static)
        self.call_after_refresh(self._message, self._shown_message, error=message.has_class("-error"))

    def _show(self) -> None:
        view = self.compiled
        native_title = f"native {TARGET_TITLES[self.target]}"
        qis = self.query_one("#qis", CircuitView)
        native = self.query_one("#native", CircuitView)
        result = view.results.get(self.target) if view else None
        qis.show(view.source if view else None, self.layout_kind)
        native.show(result.circuit if result else None, self.layout_kind, title=native_title,
                    empty=view.errors.get(self.target, "nothing compiled yet") if view else "nothing compiled yet")
        table = self.query_one("#stats", DataTable)
        table.clear()
        for row in ROWS:
            table.add_row(row, *self._cells(row), key=row)

    def _cells(self, row: str) -> list[str]:
        view = self.compiled
        if view is None:
            return ["-"] * (1 + len(TARGETS))
        one, two = view.source.counts()
        qis = {"1q gates": str(one), "2q gates": str(two), "depth": str(view.source.depth())}.get(row, "-")
        cells = [qis]
        for target in TARGETS:
            result = view.results.get(target)
            if result is None:
                cells.append("refused")
                continue
            s, est = result.stats, view.estimates[target]
            value = {
                "1q gates": str(s.n1q_out),
                "2q gates": str(s.n2q_out),
                "depth": str(s.depth_out),
                REDUCTION_ROW: reduction_cell(s.reduction_pct),
                "duration": _duration(est.duration_s),
                "success p": "unknown" if est.success_probability is None else f"{est.success_probability:.4f}",
                "fidelity": f"{view.fidelity[target]:.9f}" if target in view.fidelity else "v to verify",
            }[row]
            cells.append(value)
        return cells
