"""A small app that runs one demo batch on the local simulator and shows what came back."""

from __future__ import annotations

import time

import numpy as np
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from engine.backends import LocalSimulatorBackend
from engine.circuits import CircuitBatch, TemplateBuilder


def demo_batch(n_qubits: int = 8, layers: int = 2, rows: int = 200, seed: int = 7) -> CircuitBatch:
    """The model template (RY(pi x) encoding, RY/RZ layers, CNOT chain) with random numbers."""
    b = TemplateBuilder(n_qubits, n_inputs=n_qubits)
    for q in range(n_qubits):
        b.gate("ry", q, angles=(b.input(q, np.pi),))
    for _ in range(layers):
        for q in range(n_qubits):
            b.gate("ry", q, angles=(b.trainable(),))
            b.gate("rz", q, angles=(b.trainable(),))
        for q in range(n_qubits - 1):
            b.gate("cnot", q + 1, controls=(q,))
    t = b.build("demo")
    rng = np.random.default_rng(seed)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.random((rows, n_qubits)))


class DemoApp(App):
    TITLE = "qstore-tui"
    SUB_TITLE = "demo batch on the local simulator"
    BINDINGS = [("r", "rerun", "Run again"), ("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("running…", id="summary")
        yield DataTable(id="results")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("circuit", *(f"<Z{q}>" for q in range(8)))
        self.action_rerun()

    def action_rerun(self) -> None:
        self.run_worker(self._run(), exclusive=True, group="demo", exit_on_error=False)

    async def _run(self) -> None:
        batch = demo_batch()
        backend = LocalSimulatorBackend(seed=1)
        t0 = time.perf_counter()
        result = await backend.run(batch, shots=1000, seed=1)
        dt = time.perf_counter() - t0
        z = result.expectations_z()
        self.query_one("#summary", Static).update(
            f"{len(batch)} circuits, 8 qubits x 2 layers, 1000 shots each: {dt * 1000:.1f} ms "
            f"({len(batch) / dt:,.0f} circuits/s)")
        table = self.query_one(DataTable)
        table.clear()
        for i in range(min(20, len(batch))):
            table.add_row(str(i), *(f"{v:+.3f}" for v in z[i]))
