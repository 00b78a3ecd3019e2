"""SIGTERM, SIGHUP and a terminal that hangs up (an SSH session dropped) end the app like a quit, not like a kill: a
run training in it stops at a checkpoint, the process exits 130, the terminal is restored when it is still there.
Run for real in a pseudo-terminal (the app's own driver, not the pilot's)."""

from __future__ import annotations

import json
import os
import signal
import termios
import time
from pathlib import Path

import pytest

from pty_app import PtyApp, app_in_pty

LONG_DEMO = ["-m", "qstore_tui", "--runs-dir", "runs", "--demo", "--set", "epochs=500", "--set",
             "use_native_gates=false"]


def _training(tmp_path: Path, app: PtyApp, steps: int = 3, timeout: float = 60.0) -> Path:
    """The run's directory once its metrics have `steps` rows (the terminal's output drained meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.drain(0.1)
        for metrics in (tmp_path / "runs").glob("*/metrics.csv"):
            if len(metrics.read_text().splitlines()) > steps:
                return metrics.parent
    raise AssertionError(f"no run trained within {timeout} s: {bytes(app.out[-1500:])!r}")


def _stopped_at_a_checkpoint(run_dir: Path) -> None:
    finished = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert finished["kind"] == "run_finished" and finished["status"] == "stopped", finished
    step = int(finished["steps"])
    assert step > 0 and f"checkpoint written at step {step}" in finished["message"]
    assert (run_dir / "checkpoints" / f"step-{step:06d}.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_a_run_trains_stops_it_at_a_checkpoint_and_restores_the_terminal(tmp_path, sig):
    with app_in_pty(tmp_path, LONG_DEMO) as app:
        before = termios.tcgetattr(app.slave)
        run_dir = _training(tmp_path, app)
        app.proc.send_signal(sig)
        app.read_until(b"resume it with", 30)
        code = app.proc.wait(timeout=30)
        app.drain()
        after = termios.tcgetattr(app.slave)
    assert code == 130
    _stopped_at_a_checkpoint(run_dir)
    text = app.text()
    assert "\x1b[?1049l" in text  # the alternate screen left
    assert f"resume it with: qstore-tui run --resume {run_dir.name}" in " ".join(text.split())  # wrapped at 80
    assert after == before  # echo and line mode back: the shell after us is usable
    assert not (tmp_path / "state" / "qstore" / "crash").exists()


def test_a_terminal_that_hangs_up_stops_the_run_at_a_checkpoint_and_the_app_exits(tmp_path):
    """The pty's master closed, and no SIGHUP (the app is not the terminal's controlling process, as under nohup):
    its writes fail with EIO. Before, Textual's writer thread died on the first one and the app hung on its next."""
    with app_in_pty(tmp_path, LONG_DEMO) as app:
        run_dir = _training(tmp_path, app)
        app.hang_up()
        code = app.proc.wait(timeout=30)
    assert code == 130
    _stopped_at_a_checkpoint(run_dir)
    assert not (tmp_path / "state" / "qstore" / "crash").exists()


def test_sigterm_with_no_run_exits_at_once(tmp_path):
    with app_in_pty(tmp_path, ["-m", "qstore_tui", "--runs-dir", "runs"]) as app:
        assert app.read_until(b"Config", 30), app.out[-2000:]
        app.proc.send_signal(signal.SIGTERM)
        code = app.proc.wait(timeout=10)
        app.drain()
    assert code == 130
    assert "SIGTERM: the app closed" in app.text()


def test_the_drivers_output_drops_writes_once_the_terminal_is_gone_and_says_so_once():
    from qstore_tui.terminal_driver import _HangupSafeOutput

    class HungUp:
        writes = 0

        def write(self, text: str) -> int:
            HungUp.writes += 1
            raise OSError(5, "Input/output error")

        def flush(self) -> None:
            raise OSError(5, "Input/output error")

    lost: list[bool] = []
    out = _HangupSafeOutput(HungUp(), lambda: lost.append(True))  # type: ignore[arg-type]
    assert out.write("frame 1") == 7 and lost == [True]
    out.write("frame 2")
    out.flush()
    assert HungUp.writes == 1 and lost == [True]  # dropped, not retried; told once


async def test_two_signals_at_once_exit_130_with_the_resume_line_and_leave_no_stop_unawaited(tmp_path, app_factory):
    """The second signal exits at once, before the first one's stop worker has started: the app says how to resume,
    and the stop it scheduled is not left as a coroutine never awaited (Python warned about it on the terminal)."""
    import gc
    import warnings

    from test_app_help_quit import long_run, until

    app = app_factory(config=long_run(), runs_dir=tmp_path)
    messages: list[object] = []
    exit_app = app.exit
    app.exit = lambda *a, **k: (messages.append(k.get("message")), exit_app(*a, **k))[1]  # type: ignore[method-assign]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.run_test(size=(80, 24)) as pilot:
            app.action_start()
            await until(pilot, lambda: app.bridge.view.step >= 3)
            app._terminated(signal.SIGTERM)
            app._terminated(signal.SIGTERM)
            await until(pilot, lambda: not app.is_running)
        gc.collect()
    run_id = app.bridge.view.run_id
    assert app.return_code == 130 and app.crash is None
    assert messages == [
        f"SIGTERM: the app closed; run {run_id} interrupted; resume it with: qstore-tui run --resume {run_id} "
        f"(from its last checkpoint)"]
    assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_a_viewer_exits_on_a_signal_and_leaves_the_run_it_follows_alone(tmp_path, app_factory):
    from engine.runs.control import CONTROL_FILE
    from runs_fixtures import fake_run
    from test_app_help_quit import until

    run_dir = fake_run(tmp_path, "followed", losses=[1.0, 0.8, 0.6], status=None)  # another process's run
    app = app_factory(attach=run_dir, runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.bridge.view.source == "attach" and app.bridge.view.step == 3)
        app._terminated(signal.SIGTERM)
        await until(pilot, lambda: not app.is_running, 5)
    assert app.return_code == 130 and app.crash is None
    assert not (run_dir / CONTROL_FILE).exists()  # no stop was asked of the run


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_ctrl_z_suspends_the_app_and_it_repaints_when_continued(tmp_path):
    with app_in_pty(tmp_path, ["-m", "qstore_tui", "--runs-dir", "runs"]) as app:
        assert app.read_until(b"Config", 30), app.out[-2000:]
        app.drain()
        os.write(app.master, b"\x1a")  # Ctrl+Z
        deadline = time.monotonic() + 10
        while _state(app.proc.pid) != "T" and time.monotonic() < deadline:
            app.drain(0.05)
        assert _state(app.proc.pid) == "T"  # stopped, as a shell's job is
        app.drain()
        app.out.clear()
        app.proc.send_signal(signal.SIGCONT)  # what `fg` sends
        assert app.read_until(b"Config", 10), app.out[-2000:]  # painted again, without a key
        os.write(app.master, b"q")
        assert app.proc.wait(timeout=20) == 0
