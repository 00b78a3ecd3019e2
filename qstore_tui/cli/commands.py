"""The subcommands of `qstore-tui`, in the order `--help` lists them. A new command: a module with a COMMAND, one line here."""

from __future__ import annotations

from . import attach, emulator, report, run, runs, serve
from . import compare, export, sweep
from .command import Command

COMMANDS: tuple[Command, ...] = (
    run.COMMAND,
    attach.COMMAND,
    runs.COMMAND,
    report.COMMAND,
    emulator.COMMAND,
    serve.COMMAND,
    compare.COMMAND,
    export.COMMAND,
    sweep.COMMAND,
)
