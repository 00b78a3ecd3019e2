"""SIGHUP, the SSH session dropping, handled as the Ctrl-C it stands for in a process without the TUI.

A headless run or a sweep's runner turns its SIGHUP into its own SIGINT, so the run stops at a checkpoint (a
sweep's runner passes the interrupt on to its workers: engine.sweep.host) and resumes later, instead of dying
mid-step, its trials left `running`. Output goes to /dev/null first: the terminal is gone, and a write to it
would fail (EIO). Under `nohup`, which ignores SIGHUP, nothing changes and the work goes on. A process a script
started with `&` has SIGINT ignored (the shell keeps the terminal's Ctrl-C from its background jobs): its hangup
restores the interrupt first, or the SIGINT it sends itself would be ignored and the work go on, silenced.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def hangup_as_interrupt() -> None:
    """From now on one SIGHUP is a SIGINT to this process (later ones are ignored); kept ignored under nohup."""
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        return
    signal.signal(signal.SIGHUP, _on_hangup)


def _on_hangup(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _silence_output()
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:  # no terminal is left to send a Ctrl-C this would keep out
        signal.signal(signal.SIGINT, signal.default_int_handler)
    os.kill(os.getpid(), signal.SIGINT)


def _silence_output() -> None:
    """stdout and stderr onto /dev/null, at the descriptors, so that nothing written later fails on a hung-up
    terminal (EIO) or blocks on it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # what was buffered for the terminal is lost with it
                pass
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    finally:
        os.close(devnull)
