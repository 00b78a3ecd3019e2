"""A crash that still happens: exit status 1, one line naming the error and its crash log, the terminal
restored. Run for real in a pseudo-terminal: the app's own driver, not the pilot's."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

FORCE_CRASH = """
import sys
from qstore_tui.screens import runs

def boom(self, how):  # a bug behind a key: 'o' on the Runs screen
    raise RuntimeError("forced crash for the test")

runs.RunsScreen.action_open = boom
from qstore_tui.cli import main
sys.exit(main(["--runs-dir", sys.argv[1]]))
"""


def read_until(fd: int, out: bytearray, pattern: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pattern not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                return pattern in out
            if not chunk:
                return pattern in out
            out += chunk
    return True


def test_a_crash_exits_nonzero_prints_one_line_and_restores_the_terminal(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(FORCE_CRASH)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    before = termios.tcgetattr(slave)
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "TEXTUAL_ANIMATIONS": "none"}
    env.pop("IONQ_API_KEY", None)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs")], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=tmp_path, start_new_session=True)
    out = bytearray()
    try:
        assert read_until(master, out, b"Config", 30), out[-2000:]
        time.sleep(0.3)
        os.write(master, b"5")  # the Runs screen
        time.sleep(0.5)
        os.write(master, b"o")  # the key with the bug behind it
        read_until(master, out, b"forced crash for the test (crash log", 20)
        code = proc.wait(timeout=20)
        read_until(master, out, b"\x00never", 0.3)  # whatever is still buffered
    finally:
        if proc.poll() is None:
            proc.kill()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)

    assert code == 1
    text = out.decode("utf-8", "replace")
    tail = text[text.rfind("\x1b[?1049l"):]  # what was printed after leaving the alternate screen
    assert "\x1b[?1049l" in text and "\x1b[?25h" in text[text.rfind("\x1b[?1049h"):]  # screen back, cursor shown
    lines = [line for line in re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", tail).splitlines() if line.strip()]
    assert len(lines) == 1, lines  # one line, no traceback
    match = re.fullmatch(r"error: internal error in the app: RuntimeError: forced crash for the test "
                         r"\(crash log: (.+)\)", lines[0].strip())
    assert match, lines[0]
    log = Path(match.group(1))
    assert log.is_relative_to(tmp_path / "state") and "Traceback" in log.read_text()
    assert "forced crash for the test" in log.read_text()
    # Echo and line mode are back as they were: the shell after us is usable.
    assert after[3] & (termios.ECHO | termios.ICANON) == before[3] & (termios.ECHO | termios.ICANON)
    assert after == before
