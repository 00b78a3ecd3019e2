"""Snapshots of every screen at 80x24 and 120x40, and of the error states, from fixed data.

Fixed data: the Training and Report screens replay a fixed list of events (what a run on the IonQ
simulator emits, with fixed timestamps); the Runs screen lists run directories written from fixed
events; secrets come from a canary environment key that must never appear on screen.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.config import TrainingConfig
from engine.events import (
    BatchExecuted, CacheStats, Checkpoint, CompilerStats, EpochFinished, Error, JobUpdate, Log, RunFinished,
    RunStarted, StepMetrics, _Event,
)
from engine.runs import create_run_dir
from helpers import deterministic_app
from qstore_tui.themes import default_theme_dirs

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
RUN_ID = "20231114-221320-5eed"
CANARY = "canary-key-7f3c9a0e51d24b86"
SIZES = [(80, 24), (120, 40)]
SHIPPED_THEMES = default_theme_dirs()[:1]


def fixed_clock() -> float:
    return T0 + 600.0


def stamp(events: list[_Event], start: float = T0, every: float = 0.75) -> list[_Event]:
    for i, event in enumerate(events, start=1):
        event.seq, event.time = i, start + i * every
    return events


def training_events(steps_done: int = 18, total_steps: int = 24, epochs: int = 3, finished: bool = False
                    ) -> list[_Event]:
    """A run on the IonQ simulator part-way through: jobs, batches, metrics, epochs, cache and compiler stats."""
    per_epoch = total_steps // epochs
    out: list[_Event] = [RunStarted(
        run_id=RUN_ID, backend="ionq", target="simulator", n_qubits=4, n_params=18, total_steps=total_steps,
        features={"use_batch_api": True, "use_native_gates": True, "enable_smart_caching": True},
    )]
    out.append(CompilerStats(target="aria", compiles=1, gates_in=15, gates_out=13, n1q_out=10, n2q_out=3,
                             reduction_pct=58.1, compile_ms=12.5))
    for s in range(steps_done):
        epoch = s // per_epoch
        out.append(JobUpdate(job_id=f"job-{s:04d}-7c1e", circuits=24, status="completed",
                             queue_s=0.4 + 0.05 * (s % 5), run_s=0.21 + 0.01 * (s % 3)))
        out.append(BatchExecuted(
            batch_id=s, circuits=24, chunks=1, shots=1000, total_ms=620.0 + 15 * (s % 4),
            throughput_cps=38.0 + 6 * math.sin(s / 2), purpose="spsa",
            stage_ms={"bind": 0.4, "compile": 0.1, "submit": 30.0, "queue": 400.0, "execute": 210.0,
                      "post_process": 0.6},
        ))
        out.append(StepMetrics(
            epoch=epoch, step=s, total_steps=total_steps, loss=0.45 + 0.25 * math.exp(-s / 6) + 0.02 * math.sin(s),
            accuracy=min(0.95, 0.5 + 0.025 * s), grad_norm=0.9 * math.exp(-s / 12), spsa_a=0.0102 / (s + 3.4) ** 0.602,
            spsa_c=0.1 / (s + 1) ** 0.101, learning_rate=0.01, circuits=24,
        ))
        if (s + 1) % per_epoch == 0:
            out.append(EpochFinished(epoch=epoch, train_loss=0.5 - 0.03 * epoch, train_accuracy=0.7 + 0.05 * epoch,
                                     val_loss=0.52 - 0.03 * epoch, val_accuracy=0.68 + 0.05 * epoch))
            out.append(Checkpoint(step=s + 1, epoch=epoch, path=f"checkpoints/step-{s + 1:06d}.json"))
            out.append(CacheStats(template_hits=s, template_misses=1, bound_hits=6 * s, bound_misses=24 * (s + 1),
                                  evictions=0, bytes_held=281_000, time_saved_ms=41.5 * s))
    if finished:
        out.append(RunFinished(status="completed", steps=steps_done, final_loss=0.47, final_accuracy=0.9,
                               val_accuracy=0.78, wall_s=75.0))
    else:
        out.append(Log(level="warning", message="ionq: job job-0018-7c1e queued longer than 1.0s"))
        out.append(JobUpdate(job_id="job-0018-7c1e", circuits=24, status="started", queue_s=1.3))
        out.append(JobUpdate(job_id="job-0019-7c1e", circuits=24, status="submitted"))
    return stamp(out)


def auth_error_events() -> list[_Event]:
    """What a session emits when IonQ refuses the key: the check happens before any job."""
    return stamp([
        Error(source="ionq", message="invalid IonQ API key", fatal=True),
        RunFinished(status="failed", steps=0, wall_s=0.4, message="invalid IonQ API key"),
    ])


def snapshot_config() -> TrainingConfig:
    return TrainingConfig(backend="ionq", quantum_target="simulator", n_qubits=4, circuit_depth=1, epochs=3,
                          batch_size=8, n_samples=40)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", CANARY)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def runs_dir(env, tmp_path, monkeypatch):
    """A relative path in a fresh directory, so the 'N runs in <dir>' line is the same everywhere."""
    monkeypatch.chdir(tmp_path)
    path = Path("runs")
    path.mkdir()
    return path


def app_for(runs_dir: Path, **kw):
    kw.setdefault("theme_dirs", SHIPPED_THEMES)
    return deterministic_app(runs_dir=runs_dir, clock=fixed_clock, **kw)


async def no_secret_on_screen(pilot) -> None:
    await pilot.pause()
    assert CANARY not in pilot.app.export_screenshot()
    assert CANARY[-4:] not in pilot.app.export_screenshot()


def replay(events: list[_Event], mode: str):
    async def run_before(pilot) -> None:
        pilot.app.bridge.replay(events, config=snapshot_config())
        pilot.app.action_show(mode)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()  # the Report screen builds in a thread
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES)
class TestConfigScreen:
    def test_default(self, snap_compare, runs_dir, size):
        assert snap_compare(app_for(runs_dir), terminal_size=size, run_before=no_secret_on_screen)

    def test_qpu_target_shows_the_cost(self, snap_compare, runs_dir, size):
        config = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1", n_qubits=4, circuit_depth=1,
                                max_cost_usd=2500.0)
        assert snap_compare(app_for(runs_dir, config=config), terminal_size=size, run_before=no_secret_on_screen)


@pytest.mark.parametrize("size", SIZES)
class TestTrainingScreen:
    def test_run_in_progress(self, snap_compare, runs_dir, size):
        assert snap_compare(app_for(runs_dir), terminal_size=size,
                            run_before=replay(training_events(), "training"))

    def test_no_run_yet(self, snap_compare, runs_dir, size):
        assert snap_compare(app_for(runs_dir), terminal_size=size, press=["2"])


@pytest.mark.parametrize("size", SIZES)
class TestCompilerScreen:
    def test_model_template_compiled_and_verified(self, snap_compare, runs_dir, size):
        config = TrainingConfig(n_qubits=3, circuit_depth=1, n_samples=20)

        async def run_before(pilot) -> None:
            pilot.app.action_show("compiler")
            await pilot.pause()
            await pilot.press("c")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("v")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()

        assert snap_compare(app_for(runs_dir, config=config), terminal_size=size, run_before=run_before)

    def test_diagram(self, snap_compare, runs_dir, size):
        config = TrainingConfig(n_qubits=3, circuit_depth=1, n_samples=20)

        async def run_before(pilot) -> None:
            pilot.app.action_show("compiler")
            await pilot.pause()
            await pilot.press("c")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("d", "t")

        assert snap_compare(app_for(runs_dir, config=config), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestReportScreen:
    def test_report_of_a_finished_run(self, snap_compare, runs_dir, size):
        assert snap_compare(app_for(runs_dir), terminal_size=size,
                            run_before=replay(training_events(steps_done=24, finished=True), "report"))


@pytest.mark.parametrize("size", SIZES)
class TestRunsScreen:
    def test_runs_directory(self, snap_compare, runs_dir, size):
        write_run(runs_dir, RUN_ID, training_events(steps_done=24, finished=True))
        write_run(runs_dir, "20231114-230000-0b1d", stamp(training_events(steps_done=5)[:-3], start=T0 + 3000))
        async def run_before(pilot) -> None:
            await pilot.press("5")
            await pilot.app.workers.wait_for_complete()  # the listing runs in a thread
            await pilot.pause()

        assert snap_compare(app_for(runs_dir), terminal_size=size, run_before=run_before)


def write_run(runs_dir: Path, run_id: str, events: list[_Event]) -> Path:
    run_dir = create_run_dir(runs_dir, run_id, snapshot_config())
    with open(run_dir / "events.jsonl", "w") as handle:
        for event in events:
            handle.write(event.model_dump_json() + "\n")
    return run_dir


class TestErrorStates:
    def test_bad_configuration_value(self, snap_compare, runs_dir):
        async def run_before(pilot) -> None:
            await pilot.app.screen.action_show_group("optimization")
            field = pilot.app.screen.query_one("#field-learning_rate Input")
            field.focus()
            field.value = "-1"
            await pilot.pause()

        app = app_for(runs_dir)
        assert snap_compare(app, run_before=run_before)
        assert app.config_problems == {"learning_rate": "must be > 0, got -1"}

    def test_invalid_theme_file(self, snap_compare, runs_dir):
        themes = Path("themes")
        themes.mkdir()
        (themes / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = "not-a-colour"\n')
        app = app_for(runs_dir, theme_dirs=[*SHIPPED_THEMES, themes])
        assert snap_compare(app)
        assert app.theme == "qstore-dark"

    def test_ionq_authentication_error(self, snap_compare, runs_dir):
        assert snap_compare(app_for(runs_dir), run_before=replay(auth_error_events(), "training"))

    @pytest.mark.parametrize("size", [(79, 24), (80, 23), (60, 15)])
    def test_terminal_too_small(self, snap_compare, runs_dir, size):
        assert snap_compare(app_for(runs_dir), terminal_size=size)


class TestThemes:
    @pytest.mark.parametrize("theme", ["qstore-light", "qstore-high-contrast"])
    def test_training_screen_in_theme(self, snap_compare, runs_dir, theme):
        assert snap_compare(app_for(runs_dir, theme=theme), run_before=replay(training_events(), "training"))


class TestHelpAndDialogs:
    def test_help_screen(self, snap_compare, runs_dir):
        assert snap_compare(app_for(runs_dir), run_before=replay(training_events(), "training"),
                            press=["question_mark"])

    def test_quit_dialog_during_a_qpu_run(self, snap_compare, runs_dir):
        from qstore_tui.screens.quit_confirm import QuitConfirmScreen

        async def run_before(pilot) -> None:
            await replay(training_events(), "training")(pilot)
            pilot.app.push_screen(QuitConfirmScreen(RUN_ID, qpu=True))
            await pilot.pause()

        assert snap_compare(app_for(runs_dir), run_before=run_before)

    @pytest.mark.parametrize("theme", ["qstore-dark", "qstore-light", "qstore-high-contrast"])
    def test_focused_field_in_theme(self, snap_compare, runs_dir, theme):
        async def run_before(pilot) -> None:
            await pilot.app.screen.action_show_group("optimization")
            pilot.app.screen.query_one("#field-learning_rate Input").focus()
            await pilot.pause()

        assert snap_compare(app_for(runs_dir, theme=theme), run_before=run_before)
