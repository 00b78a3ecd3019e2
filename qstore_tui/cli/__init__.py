"""The `qstore-tui` command: the TUI, headless runs, attach, runs, report, and the IonQ emulator.

Exit codes: 0 success, 1 an internal error, 2 bad configuration (the message names the field) or a
bad run name, 3 a backend, store or authentication error, 130 interrupted (after a checkpoint).
Imports stay inside the commands, so `--help` is fast and start-up never loads cirq or pinecone.

Layout: `parser.py` builds the parser from `commands.COMMANDS`; each command is one module (`run.py`,
`attach.py`, ...) defining a `Command`; `options.py` holds the options several commands share.
"""

from __future__ import annotations

import sys

from .boundary import install_thread_hook, run_guarded, sigterm_as_interrupt
from .command import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, Command
from .headless import run_headless
from .options import build_config
from .parser import build_parser, parse_command_line

__all__ = ["main", "build_parser", "build_config", "run_headless", "Command",
           "EXIT_OK", "EXIT_CONFIG", "EXIT_INTERRUPTED"]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command it names inside the one error boundary (cli/boundary.py)."""
    if argv is None:  # the real program (tests pass argv and keep their own thread hooks)
        install_thread_hook()
    command, args = parse_command_line(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        sigterm_as_interrupt(command, args)
    return run_guarded(command, args)
