"""The Compiler screen: the model template or an IonQ JSON file, compiled for Aria and Forte, and verified."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Input, Select

from engine.circuits import parse_circuit
from engine.compiler import NativeGateCompiler, verify
from engine.config import TrainingConfig
from qstore_tui.screens.compiler import CompilerScreen
from qstore_tui.widgets.circuit_text import diagram_lines, gate_lines

BELL = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}


def cell(screen: CompilerScreen, row: str, column: str) -> str:
    return str(screen.query_one("#stats", DataTable).get_cell(row, column))


async def compiled(pilot, keys: str) -> CompilerScreen:
    await pilot.press(*keys)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CompilerScreen)
    return screen


async def test_verify_the_model_template_at_its_parameters(tmp_path, app_factory):
    config = TrainingConfig(n_qubits=3, circuit_depth=1, n_samples=20)
    app = app_factory(config=config, runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await compiled(pilot, "3c")
        view = screen.compiled
        assert view is not None and set(view.results) == {"aria", "forte"}
        one, two = view.source.counts()
        assert (cell(screen, "1q gates", "qis"), cell(screen, "2q gates", "qis")) == (str(one), str(two))
        assert two == 2  # the linear entangler of 3 qubits
        for target in ("aria", "forte"):
            assert cell(screen, "2q gates", target) == str(view.results[target].stats.n2q_out)
        assert cell(screen, "fidelity", "aria") == "v to verify"

        screen = await compiled(pilot, "v")
        for target in ("aria", "forte"):
            expected = verify(view.source, view.results[target].circuit, view.results[target].permutation,
                              view.results[target].frames)
            assert expected > 1 - 1e-9
            assert cell(screen, "fidelity", target) == f"{expected:.9f}"
        assert "equal to the source up to global phase" in str(screen.query_one("#message").render())


async def test_an_ionq_json_file_side_by_side(tmp_path, app_factory):
    path = tmp_path / "bell.json"
    path.write_text(json.dumps(BELL))
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        screen = app.screen
        screen.query_one("#source", Select).value = "file"
        screen.query_one("#path", Input).value = str(path)
        screen = await compiled(pilot, "c")
        assert (cell(screen, "1q gates", "qis"), cell(screen, "2q gates", "qis"), cell(screen, "depth", "qis")) == (
            "1", "1", "2")
        native = NativeGateCompiler("aria").compile(parse_circuit(BELL)).circuit
        shown = str(screen.query_one("#native #text").render())
        assert shown == "\n".join(gate_lines(native))
        assert "ms(" in shown

        screen = await compiled(pilot, "dt")  # diagrams, Forte
        shown = str(screen.query_one("#native #text").render())
        forte = NativeGateCompiler("forte").compile(parse_circuit(BELL)).circuit
        assert shown == "\n".join(diagram_lines(forte)) and "ZZ(" in shown
        assert str(screen.query_one("#qis #text").render()).splitlines()[0].startswith("q0: ─H─")


async def test_a_bad_circuit_file_names_the_gate_and_field(tmp_path, app_factory):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "rx", "target": 1}]}))
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        screen = app.screen
        screen.query_one("#source", Select).value = "file"
        screen.query_one("#path", Input).value = str(path)
        screen = await compiled(pilot, "c")
        message = str(screen.query_one("#message").render())
        assert message.startswith(str(path)) and "1" in message and "rotation" in message
        assert screen.query_one("#message").has_class("-error")
        assert screen.compiled is None


async def test_the_last_batch_needs_a_run(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        app.screen.query_one("#source", Select).value = "batch"
        screen = await compiled(pilot, "c")
        assert "no batch yet" in str(screen.query_one("#message").render())


def test_the_diagram_puts_gates_that_share_no_qubit_in_one_column():
    circuit = parse_circuit({"qubits": 3, "circuit": [
        {"gate": "h", "target": 0}, {"gate": "x", "target": 2}, {"gate": "cnot", "control": 0, "target": 2},
    ]})
    lines = diagram_lines(circuit)
    assert lines[0] == "q0: ─H──●──"
    assert lines[1] == "        │"
    assert lines[2] == "q1: ────┼──"
    assert lines[4] == "q2: ─X──X──"
