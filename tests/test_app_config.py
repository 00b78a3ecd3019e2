"""The Config screen: inline validation, presets, TOML load and save, masked secrets, the QPU cost dialog."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, Select, Static

from engine.config import PRESETS, TrainingConfig, load_config
from engine.run_cost import estimate_run_cost, planned_circuits
from qstore_tui.screens.config import ConfigScreen
from qstore_tui.screens.cost_confirm import CostConfirmScreen
from qstore_tui.widgets.choice import Choice
from qstore_tui.widgets.config_field import ConfigField, FieldError

CANARY = "canary-key-2c91f0d7aa3b4e55"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", CANARY)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


def field(screen: ConfigScreen, name: str) -> ConfigField:
    return screen.query_one(f"#field-{name}", ConfigField)


def error_text(screen: ConfigScreen, name: str) -> str | None:
    errors = screen.query(f"#error-{name}").results(FieldError)
    return next((str(e.render()) for e in errors if e.display), None)


async def type_into(pilot, screen: ConfigScreen, name: str, text: str) -> None:
    editor = field(screen, name).editor
    assert isinstance(editor, Input)
    editor.focus()
    editor.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def test_a_bad_value_shows_its_message_next_to_the_field_and_blocks_start(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await screen.action_show_group("optimization")
        await type_into(pilot, screen, "learning_rate", "-1")
        assert error_text(screen, "learning_rate") == "must be > 0, got -1"
        assert field(screen, "learning_rate").has_class("-invalid")
        assert "learning_rate (optimization)" in str(screen.query_one("#status", Static).render())
        before = app.config

        app.action_start()
        await pilot.pause()
        assert app.bridge.session is None and app.config is before
        assert any("learning_rate" in n.message for n in app._notifications)

        await type_into(pilot, screen, "learning_rate", "0.05")
        assert error_text(screen, "learning_rate") is None
        assert app.config.learning_rate == 0.05 and app.config_problems == {}


async def test_rules_between_fields_point_at_the_field_they_concern(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await screen.action_show_group("execution")
        await type_into(pilot, screen, "shots_per_circuit", "0")  # fine on the local backend
        assert app.config.shots_per_circuit == 0 and not app.config_problems
        await screen.action_show_group("backend")
        backend = field(screen, "backend").editor
        assert isinstance(backend, Choice)
        backend.focus()
        await pilot.press("right")  # local -> ionq
        await pilot.pause()
        assert app.config_problems == {
            "shots_per_circuit": "0 (exact expectations) needs backend 'local', got backend 'ionq'"}
        await screen.action_show_group("execution")
        assert error_text(screen, "shots_per_circuit").startswith("0 (exact expectations) needs backend 'local'")


async def test_values_typed_survive_switching_groups(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await screen.action_show_group("model")
        await type_into(pilot, screen, "n_qubits", "99")
        await screen.action_show_group("optimization")
        await screen.action_show_group("model")
        assert field(screen, "n_qubits").editor.value == "99"
        assert error_text(screen, "n_qubits") == "must be <= 16, got 99"


@pytest.mark.parametrize("preset", list(PRESETS))
async def test_picking_a_preset_fills_the_form(tmp_path, preset, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#preset", Select).value = preset
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.config.model_dump() == TrainingConfig.preset(preset).model_dump()
        await screen.action_show_group("optimization")
        assert field(screen, "epochs").editor.value == str(PRESETS[preset]["epochs"])


async def test_a_preset_from_the_command_palette(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p", *"preset research", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.config.epochs == PRESETS["research"]["epochs"]
        assert app.config.shots_per_circuit == PRESETS["research"]["shots_per_circuit"]


async def test_save_and_load_toml_without_secrets(tmp_path, app_factory):
    path = tmp_path / "run.toml"
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await screen.action_show_group("optimization")
        await type_into(pilot, screen, "epochs", "7")
        path_box = screen.query_one("#path", Input)
        path_box.value = str(path)
        await pilot.press("ctrl+s")
        await pilot.pause()
        text = path.read_text()
        assert CANARY not in text and "quantum_api_key" not in text
        assert load_config(path).epochs == 7

        path.write_text(text.replace("epochs = 7", "epochs = 3"))
        await pilot.press("ctrl+o")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.config.epochs == 3
        assert field(screen, "epochs").editor.value == "3"


async def test_a_bad_toml_file_is_reported_next_to_the_file_box(tmp_path, app_factory):
    path = tmp_path / "bad.toml"
    path.write_text("[optimization]\nlearning_rate = -2\n")
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#path", Input).value = str(path)
        before = app.config
        screen.action_load()
        await pilot.pause()
        await app.workers.wait_for_complete()  # the file is read in a thread
        await pilot.pause()
        message = str(screen.query_one("#file-message", Static).render())
        assert message == f"{path}: learning_rate: must be > 0, got -2"
        assert app.config is before


async def test_a_file_name_with_a_nul_or_an_unknown_users_home_is_said_next_to_the_box_and_in_the_compiler(
        tmp_path, app_factory):
    """open() raises ValueError ('embedded null byte') for such a name: it was a crash of the app on Ctrl+O."""
    from textual import events

    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        box = screen.query_one("#path", Input)
        box.focus()
        box.value = ""
        box.post_message(events.Paste(f"{tmp_path}/a\0b.toml"))
        await pilot.pause()
        assert "\0" in box.value
        for key in ("ctrl+o", "ctrl+s"):
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            message = str(screen.query_one("#file-message", Static).render())
            assert message.endswith("not a file name: it holds a NUL character (type the path again)"), message
        box.value = "~qstore-no-such-user/x.toml"  # Path.expanduser raised RuntimeError: a crash too
        for key in ("ctrl+o", "ctrl+s"):
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            message = str(screen.query_one("#file-message", Static).render())
            assert message == "'~qstore-no-such-user/x.toml': there is no user 'qstore-no-such-user'", message
        assert app.is_running and app.return_code is None
        from qstore_tui.screens.compiler import CircuitSourceError, file_circuit

        with pytest.raises(CircuitSourceError, match="holds a NUL character"):
            file_circuit("circuit\0.json")
        with pytest.raises(CircuitSourceError, match="there is no user 'qstore-no-such-user'"):
            file_circuit("~qstore-no-such-user/c.json")


async def test_secrets_are_masked_and_come_from_the_environment(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        key = field(screen, "quantum_api_key").editor
        assert isinstance(key, Input) and key.password and key.value == ""
        assert key.placeholder == "•••• from env IONQ_API_KEY"  # keys come from the environment
        assert app.config.quantum_api_key.get_secret_value() == CANARY
        assert CANARY not in app.export_screenshot() and CANARY[-4:] not in app.export_screenshot()
        await pilot.pause()


async def test_a_qpu_run_needs_a_confirmed_cost_cap(tmp_path, app_factory):
    config = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1", n_qubits=4, circuit_depth=1, epochs=1,
                            n_samples=20, batch_size=4)
    cost = estimate_run_cost(config)
    assert cost is not None and cost.circuits == planned_circuits(config) == 4 * 4 * 3 + 20
    assert cost.usd == pytest.approx(cost.circuits * (0.30 + 0.03 * 1000))
    app = app_factory(config=config, runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_start()
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, CostConfirmScreen)
        text = app.export_screenshot().replace("&#160;", " ")
        assert f"${cost.usd:,.2f}" in text

        dialog.query_one("#cap", Input).value = str(cost.usd / 2)
        dialog.action_confirm()
        await pilot.pause()
        assert app.screen is dialog  # a cap below the estimate is refused, with the reason
        assert "over the cap" in str(dialog.query_one("#cap-error").render())

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfigScreen)
        assert app.bridge.session is None and app.config.max_cost_usd is None


async def test_an_ionq_api_url_without_its_version_is_refused_with_a_message(tmp_path, app_factory):
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await screen.action_show_group("backend")
        await type_into(pilot, screen, "ionq_api_url", "https://api.ionq.co")
        assert error_text(screen, "ionq_api_url").startswith("must end with the API version /v0.4")
        assert "ionq_api_url" in app.config_problems


async def test_dry_run_is_a_visible_toggle_and_the_cost_dialog_offers_a_dry_run_that_runs_nothing(tmp_path,
                                                                                             app_factory):
    """dry_run drew an empty dark bar (a Switch squeezed to one row): now `[ ] off` / `[x] on`, flipped by the
    keyboard, focus marked by more than a shade. Issue 15: the cost dialog offers a dry run before a QPU run
    (ctrl+t); it runs against IonQ's API (the emulator) on loopback: priced, nothing executed. One app for both
    (an app start is the dear part of a pilot test)."""
    from engine.backends.emulator import EmulatorServer, EmulatorSettings
    from engine.events import DryRunReport, RunFinished, StepMetrics
    from engine.runs import read_events
    from qstore_tui.widgets.toggle import Toggle

    with EmulatorServer(EmulatorSettings(api_keys=(CANARY,), seed=0)) as server:
        config = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1", ionq_api_url=server.base_url,
                                n_qubits=2, circuit_depth=1, n_samples=12, epochs=1, batch_size=3,
                                shots_per_circuit=100, embeddings_to_store=False)
        app = app_factory(config=config, runs_dir=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await screen.action_show_group("backend")
            editor = field(screen, "dry_run").editor
            assert isinstance(editor, Toggle)

            def row() -> dict:
                strip = screen._compositor.render_strips()[editor.region.y]
                return {seg.text.strip(): seg.style for seg in strip if seg.text.strip().startswith("[")}

            editor.focus()  # at 80x24 the field is below the fold: focus scrolls to it
            await pilot.pause()
            assert list(row()) == ["[ ] off"]
            await pilot.press("space")
            await pilot.pause()
            assert app.config.dry_run is True and not app.config_problems
            focused = row()["[x] on"]
            screen.set_focus(None)
            await pilot.pause()
            unfocused = row()["[x] on"]
            assert focused.reverse and not unfocused.reverse  # more than a shade: survives 16 colours, NO_COLOR
            editor.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert app.config.dry_run is False and list(row()) == ["[ ] off"]

            app.action_start()
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, CostConfirmScreen) and dialog.query("#dry-run") and dialog.query("#confirm")
            await pilot.press("ctrl+t")  # no cap typed yet: refused, naming the field
            assert app.screen is dialog and "max_cost_usd" in str(dialog.query_one("#cap-error").render())
            await pilot.press(*"5000", "ctrl+t", "ctrl+t")  # twice within a refresh: dismissed once
            deadline = asyncio.get_running_loop().time() + 30
            while app.bridge.view.finished is None:
                assert asyncio.get_running_loop().time() < deadline, "the dry run did not end"
                await pilot.pause(0.05)
            assert app.is_running and app.current_mode == "training"
            assert app.config.max_cost_usd == 5000.0 and app.config.dry_run is False  # for this start only
            events = read_events(app.bridge.run_dir)
        counters = server.counters()
    (report,) = [e for e in events if isinstance(e, DryRunReport)]
    assert report.executed == 0 and report.planned_usd > 0 and counters.jobs_executed == 0
    assert not [e for e in events if isinstance(e, StepMetrics)]
    assert [e.status for e in events if isinstance(e, RunFinished)] == ["completed"]


async def test_loads_in_quick_succession_swap_the_form_in_turn_and_cancel_nothing(tmp_path, app_factory):
    """Two loads (a preset, a file) before the first form swap finished: an exclusive worker cancelled the first
    swap midway, which cancelled the removed fields' own tasks; the app's teardown then met that CancelledError
    (the monkey test saw the app stop silently)."""
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        for epochs in (3, 4, 5, 6):
            screen._load_form(TrainingConfig(epochs=epochs))
        await app.workers.wait_for_complete()
        await pilot.pause()
        tasks = [w._task for w in screen.query("#fields *") if w._task is not None]
        assert tasks and not any(t.cancelled() for t in tasks)
        assert app.is_running


async def test_a_message_for_a_field_being_swapped_out_is_not_mounted_beside_its_replacement(tmp_path, app_factory):
    """Monkey seed 10: a problem shown while a group swap was removing the old fields mounted the old field's
    message line after removal had begun, so it outlived the removal and the new field's line had the same id
    (DuplicateIds ended the app)."""
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await screen.action_show_group("monitoring")
        swap = asyncio.create_task(screen.action_show_group("monitoring"))
        await asyncio.sleep(0)  # the swap is inside its removal: the old fields are being pruned
        screen.show_problems([("log_interval", "must be >= 1, got 0")])
        await swap
        await pilot.pause()
        assert len(screen.query("#error-log_interval")) == 1
        assert error_text(screen, "log_interval") == "must be >= 1, got 0"


async def test_an_editor_focused_as_its_form_is_swapped_out_does_not_keep_the_keys(tmp_path, app_factory):
    """Monkey seeds 36, 37: a field's editor focused (Textual focuses later, in call_later) just as a group swap
    removed it kept the screen's focus after removal. Keys then went to the detached editor, and 1-5 never
    reached the app again, Escape included."""
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await screen.action_show_group("monitoring")
        old = field(screen, "log_interval").editor
        swap = asyncio.create_task(screen.action_show_group("monitoring"))
        await asyncio.sleep(0)  # the old fields are being pruned, still attached
        screen.set_focus(old)  # what Widget.focus's deferred callback does when it lands in that window
        await swap
        await pilot.pause()
        assert app.focused is None or app.focused.is_attached, f"focus stayed on a removed {app.focused!r}"
        await pilot.press("2")
        assert app.current_mode == "training"


async def test_a_runs_dir_other_than_the_apps_is_refused_at_start_not_ignored(tmp_path, app_factory):
    """The run went to the app's folder while its config.toml named the typed one, which was never created."""
    app = app_factory(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await screen.action_show_group("monitoring")
        await type_into(pilot, screen, "runs_dir", str(tmp_path / "elsewhere"))
        assert app.config.runs_dir == tmp_path / "elsewhere" and not app.config_problems
        app.action_start()
        await pilot.pause()
        assert app.bridge.session is None
        assert any(f"runs_dir: the app keeps its runs in {tmp_path / 'runs'}" in n.message
                   and f"--runs-dir {tmp_path / 'elsewhere'}" in n.message for n in app._notifications)
        await type_into(pilot, screen, "runs_dir", str(tmp_path / "runs"))  # its own folder: no objection
        app.action_start()
        await pilot.pause()
        assert app.bridge.session is not None
        app.bridge.stop()
        await app.workers.wait_for_complete()
