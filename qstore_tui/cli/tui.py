"""`qstore-tui` with no command: open the TUI (on a config from --config / --preset / --set, or the demo)."""

from __future__ import annotations

import argparse

from .command import Command
from .options import build_config, config_options, no_mouse_option, open_app, runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    """The top-level options: they are the TUI's, and subcommands that share them accept them before their name."""
    p.add_argument("--demo", action="store_true", help="open on the local simulator with a demo data set")
    no_mouse_option(p, top=True)
    runs_dir_option(p, top=True)
    config_options(p, top=True)


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    return open_app(config=config, runs_dir=runs_dir(args, config), demo=args.demo, no_mouse=args.no_mouse)


COMMAND = Command(name="tui", help="open the TUI (the default when no command is given)", run=run,
                  configure=configure)
