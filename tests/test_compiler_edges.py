"""Compiler fixes: a superseded compile or verify never replaces the latest one on screen; compile memory is
linear in the circuit; huge rotation angles compile exactly; a long error keeps its reason on an 80x24 screen."""

from __future__ import annotations

import json
import random
import threading
import tracemalloc

import numpy as np
import pytest
from textual.content import Content
from textual.widgets import Input, Select, Static

from engine.circuits import Circuit, TemplateBuilder, parse_circuit
from engine.compiler import NativeGateCompiler, verify
from engine.compiler.crosscheck import crosscheck
from qstore_tui.screens import compiler as compiler_screen
from qstore_tui.screens.compiler import CompilerScreen, compile_all

BELL = {"qubits": 2, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]}
GHZ = {"qubits": 3, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1},
                                {"gate": "cnot", "control": 1, "target": 2}]}
HUGE = (1e15, 1e17, 1e300, -1e17, -1e300)
EXACT = 1 - 1e-12


def write(tmp_path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


async def press_compile(pilot, path: str) -> CompilerScreen:
    screen = pilot.app.screen
    screen.query_one("#source", Select).value = "file"
    screen.query_one("#path", Input).value = path
    screen.set_focus(None)
    await pilot.press("c")
    await pilot.pause()
    return screen


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def message(screen: CompilerScreen) -> str:
    return str(screen.query_one("#message", Static).render())


def held(function, release: threading.Event, when):
    """`function`, made to wait for `release` on the calls `when` picks: the slow request of a race."""
    def wrapper(*args, **kwargs):
        if when(*args):
            release.wait(10)
        return function(*args, **kwargs)
    return wrapper


# ----- 1. a superseded request never reaches the screen -----

async def test_a_slow_compile_superseded_by_a_quick_one_leaves_the_quick_one_shown(tmp_path, app_factory,
                                                                                  monkeypatch):
    slow, quick = write(tmp_path, "ghz.json", GHZ), write(tmp_path, "bell.json", BELL)
    release = threading.Event()
    monkeypatch.setattr(compiler_screen, "file_circuit",
                        held(compiler_screen.file_circuit, release, lambda path: path == slow))
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await press_compile(pilot, slow)
        screen = await press_compile(pilot, quick)
        while screen.compiled is None:
            await pilot.pause(0.05)
        release.set()
        await settle(pilot)
        assert screen.compiled.description == quick
        assert screen.compiled.source.n_qubits == 2 and message(screen) == quick


async def test_a_verify_superseded_by_a_compile_does_not_label_the_new_circuit(tmp_path, app_factory, monkeypatch):
    first, second = write(tmp_path, "ghz.json", GHZ), write(tmp_path, "bell.json", BELL)
    release = threading.Event()
    monkeypatch.setattr(compiler_screen, "verify_all",
                        held(compiler_screen.verify_all, release, lambda view, *_: view.description == first))
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        screen = await press_compile(pilot, first)
        await settle(pilot)
        await pilot.press("v")
        await press_compile(pilot, second)
        while screen.compiled.description != second:
            await pilot.pause(0.05)
        release.set()
        await settle(pilot)
        assert message(screen) == second
        assert screen.compiled.fidelity == {}


def test_a_superseded_compile_stops_before_the_targets_left():
    view = compile_all(parse_circuit(BELL), "bell", superseded=lambda: True)
    assert view.results == {} and view.errors == {}


# ----- 2. memory linear in the circuit -----

def random_circuit(n_qubits: int, n_gates: int, seed: int = 5) -> Circuit:
    rng = random.Random(seed)
    circuit = Circuit(n_qubits)
    for _ in range(n_gates):
        a, b = rng.sample(range(n_qubits), 2)
        if rng.random() < 0.4:
            circuit.add("cnot", b, controls=(a,))
        else:
            circuit.add(rng.choice(("rx", "ry", "rz")), a, params=(rng.uniform(-3, 3),))
    return circuit


@pytest.mark.parametrize("target", ["aria", "forte"])
def test_compile_memory_is_linear_in_the_circuit(target):
    circuit = random_circuit(16, 3000)
    tracemalloc.start()
    try:
        result = NativeGateCompiler(target).compile(circuit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    k = sum(len(g.params) for g in result.circuit.gates)
    assert k > 3400  # a K x K identity of the native angles would be over 88 MiB
    assert peak < 48 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MiB for {k} native angles"


# ----- 3. huge angles compile exactly -----

def two_qubit_gate(name: str, angle: float) -> Circuit:
    circuit = Circuit(2).add("h", 0)
    if name in ("xx", "yy", "zz"):
        return circuit.add(name, 0, 1, params=(angle,))
    return circuit.add(name, 1, controls=(0,), params=(angle,))


def assert_exact(source: Circuit, target: str) -> None:
    r = NativeGateCompiler(target).compile(source)
    assert verify(source, r.circuit, r.permutation, r.frames) > EXACT
    assert crosscheck(source, r.circuit, sdk="cirq", permutation=r.permutation, frames=r.frames) > EXACT


@pytest.mark.parametrize("target", ["aria", "forte"])
@pytest.mark.parametrize("name", ["rx", "ry", "rz", "xx", "yy", "zz"])
@pytest.mark.parametrize("angle", HUGE)
def test_a_huge_angle_on_a_controlled_rotation_or_a_pair_gate_compiles_exactly(angle, name, target):
    assert_exact(two_qubit_gate(name, angle), target)


@pytest.mark.parametrize("controls", [2, 3, 4])
@pytest.mark.parametrize("angle", [1e17, -1e300])
def test_a_huge_angle_with_several_controls_compiles_exactly(angle, controls):
    circuit = Circuit(controls + 1)
    for q in range(controls):
        circuit.add("h", q)
    circuit.add("ry", controls, controls=tuple(range(controls)), params=(angle,))
    assert_exact(circuit, "aria")


def test_a_template_with_a_huge_constant_plus_a_trainable_angle_binds_exactly():
    b = TemplateBuilder(2)
    b.gate("h", 0).gate("rx", 1, controls=(0,), angles=(b.trainable() + 1e17,))
    compiled = NativeGateCompiler("forte").compile_template(b.build())
    native, angles, frames = compiled.bind_with_frames([[32.0]])  # 1e17 + 32 is a float: the source is exact too
    source = compiled.source.bind([[32.0]])[0]
    assert verify(source, native.circuit_from_angles(angles[0]), compiled.permutation, frames[0]) > EXACT


# ----- 4. a long error keeps its reason on 80x24 -----

async def test_a_long_path_in_an_error_is_shortened_so_the_reason_stays_visible(tmp_path, app_factory):
    deep = tmp_path.joinpath(*["a_rather_long_folder_name"] * 6) / "circuit.json"
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        screen = await press_compile(pilot, str(deep))
        await settle(pilot)
        area = screen.query_one("#message", Static)
        lines = Content(message(screen)).wrap(area.content_size.width)
        assert len(lines) <= 3 and str(lines[-1]).endswith("cannot read: no such file or directory")
        shown = message(screen)
        assert "…" in shown and shown.endswith("/circuit.json: cannot read: no such file or directory")
        assert area.tooltip == f"{deep}: cannot read: no such file or directory"

        await pilot.resize_terminal(200, 24)
        await pilot.pause()
        await pilot.pause()
        assert message(screen) == f"{deep}: cannot read: no such file or directory" and area.tooltip is None


@pytest.mark.parametrize("target", ["aria", "forte"])
def test_a_circuit_read_as_a_template_compiles_and_binds_in_memory_linear_in_it(target):
    # a slot per angle: the dense (slots, native expressions) maps were 8,000 x 16,000 floats at 8,000 gates
    from engine.circuits.template import Template

    t, row = Template.from_circuit(random_circuit(16, 3000))
    tracemalloc.start()
    try:
        compiled = NativeGateCompiler(target).compile_template(t)
        native, angles = compiled.bind(row[None, :])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert t.n_trainable > 1500 and angles.shape == (1, native.n_angles)
    assert peak < 24 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MiB"  # dense: 33 MiB at 3,000 gates, 1 GB at 8,000


def test_a_slot_map_held_by_its_entries_binds_as_the_dense_one(monkeypatch):
    from engine.circuits.library import ry_rz_ladder
    from engine.compiler import build

    t = ry_rz_ladder(4, 2)
    rng = np.random.default_rng(3)
    params, inputs = rng.uniform(-2, 2, (5, t.n_trainable)), rng.uniform(-1, 1, (5, t.n_inputs))
    for target in ("aria", "forte"):
        monkeypatch.setattr(build, "DENSE_SLOT_MAP", 2**20)
        dense = NativeGateCompiler(target).compile_template(t)
        monkeypatch.setattr(build, "DENSE_SLOT_MAP", 0)
        sparse = NativeGateCompiler(target).compile_template(t)
        assert isinstance(sparse._p.af_p, build.SlotMap) and isinstance(dense._p.af_p, np.ndarray)
        for a, b in zip(dense.bind_with_frames(params, inputs)[1:], sparse.bind_with_frames(params, inputs)[1:]):
            assert np.max(np.abs(a - b)) < 1e-12
