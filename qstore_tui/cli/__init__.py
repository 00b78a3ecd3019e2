"""The `qstore-tui` command: the TUI, headless runs, attach, runs, report, and the IonQ emulator.

Exit codes: 0 success, 1 an internal error, 2 bad configuration (the message names the field) or a
bad run name, 3 a backend, store or authentication error, 130 interrupted (after a checkpoint).
Imports stay inside the commands, so `--help` is fast and start-up never loads cirq or pinecone.

Layout: `parser.py` builds the parser from `commands.COMMANDS`; each command is one module (`run.py`,
`attach.py`, ...) defining a `Command`; `options.py` holds the options several commands share.
"""

from __future__ import annotations

import sys

from .command import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, Command
from .headless import run_headless
from .options import build_config
from .parser import build_parser, parse_command_line

__all__ = ["main", "build_parser", "build_config", "run_headless", "Command",
           "EXIT_OK", "EXIT_CONFIG", "EXIT_INTERRUPTED"]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command it names: the one place that turns errors into exit codes."""
    command, args = parse_command_line(list(sys.argv[1:] if argv is None else argv))
    from engine.config import ConfigError
    from engine.runs import RunError

    try:
        return command.run(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:  # before a session could install its own handler: nothing to checkpoint
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
