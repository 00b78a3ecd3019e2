"""The real program in a pseudo-terminal (the app's own driver, not the pilot's), for tests that need a terminal:
a crash's last line, signals, a terminal that hangs up."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def read_until(fd: int, out: bytearray, pattern: bytes, timeout: float) -> bool:
    """Read the terminal into `out` until `pattern` shows, the timeout passes or the other side closes."""
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


@dataclass
class PtyApp:
    proc: subprocess.Popen[bytes]
    master: int  # -1 once hung up
    slave: int
    out: bytearray = field(default_factory=bytearray)

    def read_until(self, pattern: bytes, timeout: float) -> bool:
        return read_until(self.master, self.out, pattern, timeout)

    def drain(self, seconds: float = 0.3) -> None:
        """Whatever is still buffered."""
        read_until(self.master, self.out, b"\x00never", seconds)

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def hang_up(self) -> None:
        """Close the terminal's master side, as an SSH session dropping does."""
        os.close(self.master)
        self.master = -1


@contextmanager
def app_in_pty(tmp_path: Path, argv: list[str]) -> Iterator[PtyApp]:
    """`python argv...` on an 80x24 pseudo-terminal with its own user dirs and no API keys; killed if still
    running at the end."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "TEXTUAL_ANIMATIONS": "none"}
    env.pop("IONQ_API_KEY", None)
    env.pop("PINECONE_API_KEY", None)
    proc = subprocess.Popen([sys.executable, *argv], stdin=slave, stdout=slave, stderr=slave, env=env,
                            cwd=tmp_path, start_new_session=True)
    app = PtyApp(proc, master, slave)
    try:
        yield app
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if app.master >= 0:
            os.close(app.master)
        os.close(slave)
