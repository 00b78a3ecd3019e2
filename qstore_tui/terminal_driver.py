"""Textual's Linux driver, made to survive its terminal going away (an SSH session dropped, a tmux pane killed).

When the terminal hangs up, writes to it fail with EIO. Textual's writer thread then dies on the first one, its
bounded queue fills, and the app's next write blocks forever: the app hung instead of stopping its run. Here the
driver's output drops writes once the terminal is gone and reports the loss once, from whichever thread saw it, to
the app's `terminal_lost`: the app then stops as on SIGHUP, whether or not the signal reaches it (nohup ignores
it). A read error on the input side is the same loss, not a panic. Textual is pinned; `_file` and
`_run_input_thread` are its driver's own names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Protocol, runtime_checkable

from textual.drivers.linux_driver import LinuxDriver


@runtime_checkable
class TerminalOwner(Protocol):
    def terminal_lost(self) -> None:
        """Called once, from any thread, when the terminal has gone away."""


class _HangupSafeOutput:
    """The terminal's output stream as the writer thread sees it: an OSError marks the terminal lost, and from then
    on writes are dropped (there is nobody to show them to)."""

    def __init__(self, file: IO[str], on_lost: Callable[[], None]) -> None:
        self._file = file
        self._on_lost = on_lost
        self._lost = threading.Event()

    def lose(self) -> None:
        if not self._lost.is_set():
            self._lost.set()
            self._on_lost()

    def write(self, text: str) -> int:
        if not self._lost.is_set():
            try:
                self._file.write(text)
            except OSError:
                self.lose()
        return len(text)

    def flush(self) -> None:
        if not self._lost.is_set():
            try:
                self._file.flush()
            except OSError:
                self.lose()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True


class HangupSafeLinuxDriver(LinuxDriver):
    """LinuxDriver whose output and input treat a hung-up terminal as lost, telling the app (a TerminalOwner)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        assert self._file is not None, "no stderr to draw on"
        self._output = _HangupSafeOutput(self._file, self._lost)
        self._file = self._output  # type: ignore[assignment]

    def _lost(self) -> None:
        if isinstance(self._app, TerminalOwner):
            self._app.terminal_lost()

    def _run_input_thread(self) -> None:
        try:
            self.run_input_thread()
        except OSError:  # EIO from a hung-up terminal: not a bug to panic over
            self._output.lose()
