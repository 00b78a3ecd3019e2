"""The `qstore-tui` command. Imports stay inside the commands so `--help` and start-up stay fast."""

from __future__ import annotations

import argparse
import sys

from engine import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qstore-tui",
        description="Train small variational quantum models on IonQ (or the embedded simulator) from a terminal.",
    )
    p.add_argument("--version", action="version", version=f"qstore-tui {__version__}")
    p.add_argument("--demo", action="store_true", help="open on the local simulator with a demo data set")
    p.add_argument("--no-mouse", action="store_true", help="disable mouse support (for some SSH/tmux setups)")
    p.add_argument("--runs-dir", default=None, help="where runs are kept (default: the user data directory)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from .demo import DemoApp

    DemoApp().run(mouse=not args.no_mouse)
    return 0
