"""Resuming a run whose files were damaged or edited: a clear message, the right exit code, nothing lost."""

import asyncio
import shutil

import pytest

from engine.checkpoint import checkpoints_in
from engine.config import TrainingConfig
from engine.events import Log, RunFinished, RunStarted
from engine.runs import read_events
from engine.session import EngineSession
from helpers import stopped_at
from qstore_tui.cli import main

SETTINGS = dict(n_qubits=2, circuit_depth=1, n_samples=20, batch_size=2, epochs=2, shots_per_circuit=0,
                checkpoint_interval=2, seed=4)


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run stopped after its first epoch: checkpoints at steps 4, 6, 8 (8 steps per epoch), store written."""
    runs = tmp_path_factory.mktemp("runs")
    session = EngineSession(TrainingConfig(**SETTINGS), runs_dir=runs)

    async def run_one_epoch():
        task = asyncio.create_task(session.run())
        while session.trainer is None or session.trainer.state.step < 8:
            await asyncio.sleep(0.001)
        await session.stop()
        return await task

    assert asyncio.run(run_one_epoch()).status == "stopped"
    return session.run_dir


@pytest.fixture
def run_copy(stopped_run, tmp_path):
    copy = tmp_path / "runs" / stopped_run.name
    shutil.copytree(stopped_run, copy)
    return copy


def test_a_damaged_newest_checkpoint_is_set_aside_and_the_run_resumes_from_the_one_before(run_copy, capsys):
    folder = run_copy / "checkpoints"
    *_, before, newest = checkpoints_in(folder)
    newest.write_text('{"format": "qstore-checkpoint/1", "step": "eight"}')
    assert main(["run", "--resume", run_copy.name, "--runs-dir", str(run_copy.parent)]) == 0
    err = capsys.readouterr().err
    assert f"checkpoint {newest} is damaged" in err and f"set aside as {newest.name}.damaged" in err
    assert (folder / f"{newest.name}.damaged").read_text().endswith('"eight"}')
    events = read_events(run_copy)
    started = [e for e in events if isinstance(e, RunStarted)][-1]
    assert started.resumed_from_step == int(before.stem.split("-")[1])
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    assert any(isinstance(e, Log) and e.level == "warning" and "is damaged" in e.message for e in events)


def test_a_config_edited_against_its_checkpoint_exits_2_naming_the_fields(run_copy, capsys):
    config = run_copy / "config.toml"
    text = config.read_text()
    config.write_text(text.replace("n_qubits = 2", "n_qubits = 3").replace("batch_size = 2", "batch_size = 4"))
    assert main(["run", "--resume", run_copy.name, "--runs-dir", str(run_copy.parent)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: n_qubits: step-" in err and "was made with 2, config.toml now has 3" in err
    assert "batch_size:" in err and "dimension mismatch" not in err and "Traceback" not in err


def test_a_garbage_store_is_set_aside_with_a_warning_and_the_run_goes_on(run_copy, capsys):
    store = run_copy / "store.sqlite"
    for side in ("store.sqlite-wal", "store.sqlite-shm"):
        (run_copy / side).unlink(missing_ok=True)
    store.write_bytes(b"this is not a database")
    assert main(["run", "--resume", run_copy.name, "--runs-dir", str(run_copy.parent)]) == 0
    err = capsys.readouterr().err
    assert f"store {store} is damaged (not an SQLite file): set aside as {store}.damaged" in err
    assert (run_copy / "store.sqlite.damaged").read_bytes() == b"this is not a database"
    assert read_events(run_copy)[-1].status == "completed"


RESUMABLE = TrainingConfig(n_qubits=2, circuit_depth=1, n_samples=20, epochs=3, batch_size=4, shots_per_circuit=0,
                           checkpoint_interval=1, log_interval=1, seed=3, embeddings_to_store=False,
                           use_native_gates=False)


async def test_a_resume_whose_event_log_lost_its_tail_says_the_steps_between_are_lost(tmp_path):
    """A copy cut short (or a disk error) left events.jsonl at step 3 and the checkpoint at step 8: the resume
    reported a clean 'completed 8 of 8' with the curves silently missing five steps."""
    session = await stopped_at(RESUMABLE, tmp_path, 7)
    log = session.run_dir / "events.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    cut = next(i for i, ln in enumerate(lines) if '"kind":"step_metrics"' in ln and '"step":3,' in ln)
    log.write_text("".join(lines[:cut + 1]))
    resumed = EngineSession.from_run_dir(session.run_dir)
    await resumed.run()
    warnings = [e.message for e in read_events(session.run_dir) if isinstance(e, Log) and e.level == "warning"]
    assert any("ends at step 4 but step-00000" in w and "the events of the steps between are lost" in w
               for w in warnings), warnings


async def test_a_refused_resume_leaves_the_run_as_it_was_not_failed_with_no_steps(tmp_path):
    """config.toml's data edited after a stop: the resume is refused (exit 2), and it had appended a RunFinished
    'failed, 0 steps' and rewritten the report, so `runs` said failed and attach exited 3."""
    from engine.runs import run_record
    from engine.session import exit_code

    session = await stopped_at(RESUMABLE, tmp_path, 4)
    before = run_record(session.run_dir)
    report = (session.run_dir / "report.md").read_bytes()
    config = session.run_dir / "config.toml"
    config.write_text(config.read_text().replace("n_samples = 20", "n_samples = 24"))
    torn = session.run_dir / "checkpoints" / ".step-000009.json.x1y2z3.tmp"  # a kill mid-write leaves one
    torn.write_text("{")
    refused = EngineSession.from_run_dir(session.run_dir)
    await refused.run()
    assert exit_code(refused) == 2 and "data_fingerprint: the training data differs" in str(refused.error)
    after = run_record(session.run_dir)
    assert (after.status, after.steps) == (before.status, before.steps) == ("stopped", before.steps)
    assert (session.run_dir / "report.md").read_bytes() == report
    assert not torn.exists()  # a resume holds the run's lock: no write is in flight, the temporary file is stale
