"""`qstore-tui emulator ...`: the IonQ emulator's own command line (engine.backends.emulator), passed through."""

from __future__ import annotations

import argparse

from .command import Command


def run(args: argparse.Namespace) -> int:
    from engine.backends.emulator.__main__ import main_emulator

    return main_emulator(list(args.argv))


COMMAND = Command(name="emulator", help="serve the IonQ emulator on 127.0.0.1 (see: emulator --help)", run=run,
                  own_argv=True)
