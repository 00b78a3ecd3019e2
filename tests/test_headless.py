"""`qstore-tui run --headless` as a real process: SIGKILL and resume, Ctrl-C, exit codes, no leaked keys."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings
from engine.checkpoint import checkpoints_in, read_training_checkpoint
from engine.config import TrainingConfig
from engine.events import Checkpoint, Error, RunFinished, RunStarted, StepMetrics
from engine.runs import EVENTS_FILE, read_events
from engine.session import EngineSession
from qstore_tui.cli import main

# 80 training samples in steps of 4: 20 steps per epoch, 40 in all; a checkpoint every 3 steps.
LONG = dict(n_qubits=4, circuit_depth=1, n_samples=100, epochs=2, batch_size=4, shots_per_circuit=0,
            log_interval=1, checkpoint_interval=3, seed=11)
TINY = dict(n_qubits=4, circuit_depth=1, n_samples=20, epochs=2, batch_size=4, log_interval=1)


def _sets(settings):
    return [arg for k, v in settings.items() for arg in ("--set", f"{k}={v}")]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY", "IONQ_API_URL")}
    return {**env, **extra}


def _cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "qstore_tui", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or _env())


def _start(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "qstore_tui", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env or _env())


def _wait_for(run_dir_parent, kind, timeout=60.0):
    """The run directory once its events.jsonl has an event of `kind` (polled as `attach` would)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in run_dir_parent.iterdir() if run_dir_parent.exists() else []:
            path = d / EVENTS_FILE
            if path.exists() and f'"kind":"{kind}"'.encode() in path.read_bytes():
                return d
        time.sleep(0.005)
    raise AssertionError(f"no {kind} event within {timeout}s")


def test_a_run_killed_with_sigkill_resumes_and_loses_only_the_steps_after_its_checkpoint(tmp_path):
    runs = tmp_path / "runs"
    proc = _start("run", "--headless", "--runs-dir", str(runs), *_sets(LONG))
    run_dir = _wait_for(runs, "checkpoint")
    proc.kill()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = read_events(run_dir)
    assert not any(isinstance(e, RunFinished) for e in before), "the run ended before it was killed"
    # The resume point is the newest checkpoint file: the kill may land after its rename but before its event.
    last_checkpoint = read_training_checkpoint(checkpoints_in(run_dir / "checkpoints")[-1]).step
    assert last_checkpoint - [e for e in before if isinstance(e, Checkpoint)][-1].step in (0, LONG["checkpoint_interval"])

    resumed = _cli("run", "--resume", run_dir.name, "--runs-dir", str(runs))
    assert resumed.returncode == 0, resumed.stderr
    events = read_events(run_dir)
    [first, second] = [e for e in events if isinstance(e, RunStarted)]
    assert second.resumed_from_step == last_checkpoint >= 3
    assert events[-1].status == "completed" and events[-1].steps == 40
    redone = [e for e in events[events.index(second):] if isinstance(e, StepMetrics)]
    assert [s.step for s in redone] == list(range(last_checkpoint, 40))

    reference = EngineSession(TrainingConfig(**LONG), runs_dir=tmp_path / "ref")
    ref_final = asyncio.run(reference.run())
    ref_losses = {e.step: e.loss for e in read_events(reference.run_dir) if isinstance(e, StepMetrics)}
    for s in redone:
        assert abs(s.loss - ref_losses[s.step]) <= 1e-12, s.step
    assert abs(events[-1].final_loss - ref_final.final_loss) <= 1e-12
    report = reference.performance_report()
    assert f"Resumed: from step {last_checkpoint}" in resumed.stdout
    assert report.training.final_loss == pytest.approx(events[-1].final_loss, abs=1e-12)


def test_ctrl_c_stops_cleanly_with_a_checkpoint_and_exit_code_130(tmp_path):
    runs = tmp_path / "runs"
    proc = _start("run", "--headless", "--runs-dir", str(runs), *_sets(LONG))
    run_dir = _wait_for(runs, "step_metrics")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopping: writing a checkpoint" in err
    events = read_events(run_dir)
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "interrupted" and finished.steps < 40
    assert [e for e in events if isinstance(e, Checkpoint)][-1].step == finished.steps
    assert (run_dir / "checkpoints" / f"step-{finished.steps:06d}.json").is_file()
    assert "Status: interrupted" in out and (run_dir / "report.json").is_file()


def test_a_second_ctrl_c_abandons_the_step_and_still_ends_with_a_resumable_run(tmp_path):
    runs = tmp_path / "runs"
    proc = _start("run", "--headless", "--runs-dir", str(runs), *_sets(LONG))
    run_dir = _wait_for(runs, "checkpoint")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)  # impatient: the step in flight is not waited for
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err + out
    finished = read_events(run_dir)[-1]
    assert isinstance(finished, RunFinished) and finished.status == "interrupted"
    last = max(int(p.stem.split("-")[1]) for p in (run_dir / "checkpoints").glob("step-*.json"))
    assert last <= finished.steps and "Status: interrupted" in out  # resumable from its last checkpoint
    # the first Ctrl-C's checkpoint may already be written when the second arrives (a step boundary): both end well
    assert finished.message in (f"checkpoint written at step {finished.steps}",
                                "the step in flight was abandoned; the run resumes from its last checkpoint")
    assert "Ctrl-C again to abandon the step in flight" in err


def test_no_file_and_no_line_of_output_contains_the_api_keys(tmp_path, monkeypatch, capsys):
    ionq, pinecone = "canary-ionq-5b1e0c", "canary-pinecone-93d2aa"
    runs = tmp_path / "runs"
    r = _cli("run", "--headless", "--runs-dir", str(runs), *_sets({**TINY, "backend": "emulator",
                                                                  "shots_per_circuit": 20, "store_backend": "local"}),
             env=_env(IONQ_API_KEY=ionq, PINECONE_API_KEY=pinecone))  # local: with the key, Pinecone is the default
    assert r.returncode == 0, r.stderr
    monkeypatch.setenv("IONQ_API_KEY", ionq)
    monkeypatch.setenv("PINECONE_API_KEY", pinecone)
    run_dir = next(runs.iterdir())
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    assert main(["report", run_dir.name, "--runs-dir", str(runs), "--format", "json"]) == 0
    shown = capsys.readouterr()
    for text in (r.stdout, r.stderr, shown.out, shown.err):
        assert ionq not in text and pinecone not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.toml", "events.jsonl", "report.md", "report.json", "store.sqlite"}
    for path in files:
        data = path.read_bytes()
        assert ionq.encode() not in data and pinecone.encode() not in data, path


def test_a_rejected_api_key_exits_3_with_the_reason(tmp_path):
    with EmulatorServer(EmulatorSettings(api_keys=("the-only-valid-key",))) as server:
        r = _cli("run", "--headless", "--runs-dir", str(tmp_path),
                 *_sets({**TINY, "backend": "ionq", "ionq_api_url": server.base_url, "shots_per_circuit": 10}),
                 env=_env(IONQ_API_KEY="not-the-key"))
    assert r.returncode == 3
    assert "error: ionq: invalid IonQ API key" in r.stderr and "not-the-key" not in r.stdout + r.stderr
    errors = [e for e in read_events(next(tmp_path.iterdir())) if isinstance(e, Error)]
    assert [(e.source, e.message, e.fatal) for e in errors] == [("ionq", "invalid IonQ API key", True)]


def test_a_missing_key_is_a_configuration_error_naming_the_field(tmp_path):
    r = _cli("run", "--headless", "--runs-dir", str(tmp_path), *_sets({**TINY, "backend": "ionq",
                                                                       "shots_per_circuit": 10}))
    assert r.returncode == 2 and "quantum_api_key" in r.stderr
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
