"""The argument parser: the top-level (TUI) options, then one subparser per registered command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from engine import __version__

from . import tui
from .command import Command
from .commands import COMMANDS


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qstore-tui",
        description="Train small variational quantum models on IonQ (or the embedded simulator) from a terminal.",
    )
    p.add_argument("--version", action="version", version=f"qstore-tui {__version__}")
    tui.configure(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        if command.own_argv:  # listed for --help; main() passes its words through before parsing
            sub.add_parser(command.name, add_help=False, help=command.help)
            continue
        command.configure(sub.add_parser(command.name, help=command.help, description=command.description))
    return p


def parse_command_line(argv: list[str], commands: Sequence[Command] = COMMANDS) -> tuple[Command, argparse.Namespace]:
    """The command that argv names (the TUI when none) and its parsed arguments; SystemExit for --help or bad usage."""
    own = {c.name: c for c in commands if c.own_argv}
    if argv and argv[0] in own:
        return own[argv[0]], argparse.Namespace(command=argv[0], argv=argv[1:])
    args = build_parser(commands).parse_args(argv)
    by_name = {c.name: c for c in commands}
    return by_name.get(args.command, tui.COMMAND), args
