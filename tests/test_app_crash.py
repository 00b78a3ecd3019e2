"""A crash that still happens: exit status 1, one line naming the error and its crash log, the terminal
restored. Run for real in a pseudo-terminal: the app's own driver, not the pilot's."""

from __future__ import annotations

import os
import re
import termios
import time
from pathlib import Path

from pty_app import app_in_pty

FORCE_CRASH = """
import sys
from qstore_tui.screens import runs

def boom(self, how):  # a bug behind a key: 'o' on the Runs screen
    raise RuntimeError("forced crash for the test")

runs.RunsScreen.action_open = boom
from qstore_tui.cli import main
sys.exit(main(["--runs-dir", sys.argv[1]]))
"""


def test_a_crash_exits_nonzero_prints_one_line_and_restores_the_terminal(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(FORCE_CRASH)
    with app_in_pty(tmp_path, [str(script), str(tmp_path / "runs")]) as app:
        before = termios.tcgetattr(app.slave)
        assert app.read_until(b"Config", 30), app.out[-2000:]
        time.sleep(0.3)
        os.write(app.master, b"5")  # the Runs screen
        time.sleep(0.5)
        os.write(app.master, b"o")  # the key with the bug behind it
        app.read_until(b"forced crash for the test (crash log", 20)
        code = app.proc.wait(timeout=20)
        app.drain()
        after = termios.tcgetattr(app.slave)

    assert code == 1
    text = app.text()
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
