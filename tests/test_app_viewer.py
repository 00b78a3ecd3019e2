"""The attach viewer steers a headless run in another process (pause, resume, stop through the run
directory's control channel), and follows it through a kill and a resume."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.events import Checkpoint, Log, RunFinished, RunStarted
from engine.runs import read_events
from engine.runs.control import CONTROL_FILE, ControlChannel, ControlRefused, read_request, send_command

SETTINGS = ["backend=local", "n_qubits=3", "circuit_depth=1", "shots_per_circuit=0", "epochs=2000",
            "n_samples=40", "batch_size=8", "embeddings_to_store=false"]


def headless(args: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    return subprocess.Popen([sys.executable, "-m", "qstore_tui", "run", *args], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def steps(run_dir: Path) -> int:
    """Steps logged so far (polled: counted in the bytes, not by parsing every event again)."""
    return (run_dir / "events.jsonl").read_bytes().count(b'"kind":"step_metrics"')


async def until(pilot, condition, timeout: float = 30.0) -> float:
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, "condition not reached in time"
        await pilot.pause(0.05)
    return time.monotonic() - t0


def the_run(runs: Path, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dirs = [d for d in runs.glob("*") if (d / "events.jsonl").exists()] if runs.exists() else []
        if dirs and steps(dirs[0]) >= 1:
            return dirs[0]
        time.sleep(0.1)
    raise AssertionError("the headless run did not start")


async def test_the_viewer_pauses_resumes_and_stops_a_headless_run_and_follows_it_through_kill_and_resume(
        tmp_path, app_factory):
    runs = tmp_path / "runs"
    proc = headless(["--headless", "--runs-dir", str(runs), *(x for s in SETTINGS for x in ("--set", s))],
                    tmp_path)
    resumed = None
    try:
        run_dir = the_run(runs)
        app = app_factory(attach=run_dir, runs_dir=runs)
        async with app.run_test(size=(100, 30)) as pilot:
            view = lambda: app.bridge.view  # noqa: E731 - the bridge replaces its view on a re-follow
            await until(pilot, lambda: view().status == "running")
            footer = " ".join(b.binding.description for b in app.screen.active_bindings.values()
                          if b.binding.show and b.enabled)
            assert "Pause" in footer and "Stop" in footer  # the viewer's footer shows its controls

            await pilot.press("p")
            assert await until(pilot, lambda: view().status == "paused", 5) < 1.5  # obeyed within a second
            paused_at = steps(run_dir)
            time.sleep(0.6)
            assert steps(run_dir) <= paused_at + 1  # at most the step in flight
            assert stat.S_IMODE((run_dir / CONTROL_FILE).stat().st_mode) == 0o600
            await pilot.press("r")
            await until(pilot, lambda: view().status == "running" and steps(run_dir) > paused_at + 2, 10)

            # Killed: the viewer says so ...
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await until(pilot, lambda: view().status == "incomplete", 10)
            # ... and a new writer appending to the same events.jsonl is followed live, history and all.
            before = steps(run_dir)
            resumed = headless(["--resume", str(run_dir)], tmp_path)
            await until(pilot, lambda: view().status == "running" and view().step > 0
                        and len(view().losses) > before, 30)
            assert [e for e in read_events(run_dir) if isinstance(e, RunStarted)][-1].resumed_from_step
            await pilot.press("s")  # its actions work on the resumed run
            assert resumed.wait(20) == 4  # stopped by the viewer before its end: not finished, resumable
            await until(pilot, lambda: view().status == "stopped", 10)
        events = read_events(run_dir)
        assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
        assert isinstance([e for e in events if isinstance(e, (Checkpoint, RunStarted))][-1], Checkpoint)
        assert any(isinstance(e, Log) and e.message == "paused" for e in events)
    finally:
        for p in (proc, resumed):
            if p is not None and p.poll() is None:
                p.kill()


def test_the_control_file_is_obeyed_once_and_only_from_its_owner(tmp_path):
    calls: list[str] = []
    refused: list[str] = []
    channel = ControlChannel(tmp_path, {c: (lambda c=c: calls.append(c)) for c in ("pause", "resume", "stop")},
                             refused.append)
    assert channel.poll() is None
    send_command(tmp_path, "pause")
    assert channel.poll().command == "pause" and channel.poll() is None  # once
    send_command(tmp_path, "resume")
    channel.poll()
    assert calls == ["pause", "resume"]
    # An old request is not obeyed by the next session (a resumed run must not stop at once).
    send_command(tmp_path, "stop")
    assert ControlChannel(tmp_path, {}, refused.append).poll() is None
    os.chmod(tmp_path / CONTROL_FILE, 0o622)  # writable by others: refused, reported once
    with pytest.raises(ControlRefused, match="writable by group or others"):
        read_request(tmp_path)
    channel.poll()
    channel.poll()
    assert calls == ["pause", "resume"] and len(refused) == 1 and CONTROL_FILE in refused[0]
    (tmp_path / CONTROL_FILE).write_text('{"seq": 9, "command": "explode"}')
    os.chmod(tmp_path / CONTROL_FILE, 0o600)
    with pytest.raises(ControlRefused, match="command"):
        read_request(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_control_file_owned_by_another_user_is_refused(tmp_path):
    send_command(tmp_path, "stop")
    os.chown(tmp_path / CONTROL_FILE, 65534, 65534)  # nobody's now, mode still 0600
    with pytest.raises(ControlRefused, match="owned by uid 65534, not by this run's owner"):
        read_request(tmp_path)
