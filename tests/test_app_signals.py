"""SIGTERM, SIGHUP and a terminal that hangs up (an SSH session dropped) end the app like a quit, not like a kill: a
run training in it stops at a checkpoint, the process exits 130, the terminal is restored when it is still there.
Run for real in a pseudo-terminal (the app's own driver, not the pilot's)."""

from __future__ import annotations

import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import fcntl
import pytest

from test_app_crash import read_until

LONG_DEMO = ["--demo", "--set", "epochs=500", "--set", "use_native_gates=false"]


def _spawn(tmp_path: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "TEXTUAL_ANIMATIONS": "none"}
    env.pop("IONQ_API_KEY", None)
    env.pop("PINECONE_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "qstore_tui", "--runs-dir", str(tmp_path / "runs"), *args],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, start_new_session=True)
    return proc, master, slave


def _training(tmp_path: Path, out: bytearray, master: int, steps: int = 3, timeout: float = 60.0) -> Path:
    """The run's directory once its metrics have `steps` rows (the terminal's output drained meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        read_until(master, out, b"\x00never", 0.1)
        for metrics in (tmp_path / "runs").glob("*/metrics.csv"):
            if len(metrics.read_text().splitlines()) > steps:
                return metrics.parent
    raise AssertionError(f"no run trained within {timeout} s: {bytes(out[-1500:])!r}")


def _finished(run_dir: Path) -> dict[str, object]:
    last = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "run_finished", last
    return last


def _stopped_at_a_checkpoint(run_dir: Path) -> None:
    finished = _finished(run_dir)
    assert finished["status"] == "stopped"
    step = int(finished["steps"])  # type: ignore[call-overload]
    assert step > 0 and f"checkpoint written at step {step}" in str(finished["message"])
    assert (run_dir / "checkpoints" / f"step-{step:06d}.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_a_run_trains_stops_it_at_a_checkpoint_and_restores_the_terminal(tmp_path, sig):
    proc, master, slave = _spawn(tmp_path, LONG_DEMO)
    before = termios.tcgetattr(slave)
    out = bytearray()
    try:
        run_dir = _training(tmp_path, out, master)
        proc.send_signal(sig)
        read_until(master, out, b"resume it with", 30)
        code = proc.wait(timeout=30)
        read_until(master, out, b"\x00never", 0.3)
    finally:
        if proc.poll() is None:
            proc.kill()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    assert code == 130
    _stopped_at_a_checkpoint(run_dir)
    text = out.decode("utf-8", "replace")
    assert "\x1b[?1049l" in text  # the alternate screen left
    assert f"resume it with: qstore-tui run --resume {run_dir.name}" in " ".join(text.split())  # wrapped at 80
    assert after == before  # echo and line mode back: the shell after us is usable
    assert not (tmp_path / "state" / "qstore" / "crash").exists()


def test_a_terminal_that_hangs_up_stops_the_run_at_a_checkpoint_and_the_app_exits(tmp_path):
    """The pty's master closed, and no SIGHUP (the app is not the terminal's controlling process, as under nohup):
    its writes fail with EIO. Before, Textual's writer thread died on the first one and the app hung on its next."""
    proc, master, slave = _spawn(tmp_path, LONG_DEMO)
    out = bytearray()
    try:
        run_dir = _training(tmp_path, out, master)
        os.close(master)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(slave)
    assert code == 130
    _stopped_at_a_checkpoint(run_dir)
    assert not (tmp_path / "state" / "qstore" / "crash").exists()


def test_sigterm_with_no_run_exits_at_once(tmp_path):
    proc, master, slave = _spawn(tmp_path, [])
    out = bytearray()
    try:
        assert read_until(master, out, b"Config", 30), out[-2000:]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        read_until(master, out, b"\x00never", 0.3)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert code == 130
    assert "SIGTERM: the app closed" in out.decode("utf-8", "replace")


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
    assert out.write("frame 1") == 7 and out.lost and lost == [True]
    out.write("frame 2")
    out.flush()
    assert HungUp.writes == 1 and lost == [True]  # dropped, not retried; told once
