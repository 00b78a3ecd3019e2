"""App-wide behaviour: screen keys, the command palette, the too-small message, NO_COLOR, demo and attach
start-up, and the background work a real (non-test) app does after its first frame."""

from __future__ import annotations

import asyncio
import gc
import re

import pytest

from engine.config import TrainingConfig
from engine.session import EngineSession
from qstore_tui.app import make_app, screen_class
from qstore_tui.widgets.too_small import TooSmall


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


async def test_digits_and_function_keys_switch_screens(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current_mode == "config"
        for key, mode in (("2", "training"), ("3", "compiler"), ("4", "report"), ("5", "runs"), ("1", "config"),
                          ("f5", "runs"), ("f4", "report"), ("f3", "compiler"), ("f2", "training"), ("f1", "config")):
            await pilot.press(key)
            assert app.current_mode == mode, key


async def test_every_key_action_is_also_a_palette_command(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for expected in ("Screen: Config", "Screen: Training", "Screen: Compiler", "Screen: Report", "Screen: Runs",
                         "Training: start", "Training: pause", "Training: resume", "Training: stop",
                         "Theme: qstore-dark", "Theme: qstore-light", "Theme: qstore-high-contrast"):
            assert expected in titles
        by_app = {"pause", "resume", "stop", "app.start"}  # the Training screen's keys call the app's actions
        for mode in app.MODES:
            cls = screen_class(mode)
            actions = {action for _, _, action in cls.PALETTE} | by_app
            for binding in cls.BINDINGS:
                assert binding.action in actions, (mode, binding.key)
            for title, _, _ in cls.PALETTE:
                assert title in titles


async def test_a_palette_command_switches_the_theme(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "qstore-dark"
        await pilot.press("ctrl+p", *"Theme: qstore-light", "enter")
        await pilot.pause()
        assert app.theme == "qstore-light"


@pytest.mark.parametrize("size", [(79, 24), (80, 23), (40, 10)])
async def test_a_small_terminal_gets_a_message_until_it_grows(tmp_path, size, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=size) as pilot:
        message = app.screen.query_one(TooSmall)
        assert message.display and app.screen.has_class("-too-small")
        assert str(message.render()).startswith(f"Terminal too small: need 80x24, have {size[0]}x{size[1]}")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not message.display and not app.screen.has_class("-too-small")
        await pilot.press("2")  # every screen knows
        assert not app.screen.has_class("-too-small")
        await pilot.resize_terminal(70, 30)
        await pilot.pause()
        assert app.screen.has_class("-too-small")


async def test_no_color_renders_in_greys_only(tmp_path, monkeypatch, app_factory):
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        svg = app.export_screenshot()
    colours = set(re.findall(r"fill: #([0-9a-f]{6})", svg)) - {"c5c8c6"}  # the SVG frame's own text colour
    assert colours
    assert all(c[0:2] == c[2:4] == c[4:6] for c in colours), colours


async def test_demo_starts_a_local_run_on_the_training_screen(tmp_path, app_factory, monkeypatch):
    monkeypatch.setenv("PINECONE_API_KEY", "pc-demo-key")  # the key makes Pinecone the default store: not the demo's
    app = app_factory(demo=True, runs_dir=tmp_path)
    assert app.config.backend == "local" and app.config.store_backend == "local"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.current_mode == "training" and app.bridge.view.source == "live"
        app.action_stop()
        await app.workers.wait_for_complete()
        assert app.bridge.view.status in ("stopped", "completed")


async def test_attach_at_start_up_shows_the_run(tmp_path, app_factory):
    config = TrainingConfig(backend="local", n_qubits=4, circuit_depth=1, shots_per_circuit=0, epochs=1,
                            n_samples=20, batch_size=8, embeddings_to_store=False)
    session = EngineSession(config, runs_dir=tmp_path)
    await session.run()
    app = app_factory(attach=session.run_dir, runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.current_mode == "training"
        assert app.bridge.view.source == "attach" and app.bridge.view.status == "completed"
        assert app.bridge.view.run_id == session.run_id


async def test_a_real_app_composes_its_screens_after_the_first_frame(tmp_path):
    thresholds = gc.get_threshold()
    app = make_app(runs_dir=tmp_path)  # not testing: background composing and the idle collector are on
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            assert gc.get_threshold()[2] > thresholds[2]  # full collections wait for idle moments
            for _ in range(100):
                if all(app._screen_stacks.get(mode) for mode in app.MODES):
                    break
                await asyncio.sleep(0.05)
            assert all(app._screen_stacks.get(mode) for mode in app.MODES)
            await pilot.press("3")
            assert app.current_mode == "compiler" and app.screen.ready
    finally:
        gc.unfreeze()
    assert gc.get_threshold() == thresholds
