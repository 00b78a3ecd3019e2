"""What a `qstore-tui` subcommand is: a name, its options, and the function that runs it.

Each command module defines one `COMMAND`; `commands.py` lists them. Command modules import the engine only inside
their `run` functions, so `--help` stays fast and start-up never loads cirq or pinecone.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

EXIT_OK, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 2, 130  # a run's own code comes from engine.session.exit_code


def _no_options(parser: argparse.ArgumentParser) -> None:
    """A command without options of its own."""


@dataclass(frozen=True)
class Command:
    """One subcommand. `configure` adds its options to its subparser; `run` does the work and returns the exit code.

    A command with `own_argv` parses its own arguments (the emulator has its own parser): `main` hands it the
    words after its name untouched, as `args.argv`, and `configure` is not used.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    configure: Callable[[argparse.ArgumentParser], None] = _no_options
    description: str | None = None
    own_argv: bool = False
