"""`qstore-tui attach RUN`: open the TUI on a running or finished headless run (it follows its events.jsonl)."""

from __future__ import annotations

import argparse

from .command import Command
from .options import no_mouse_option, open_app, runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id (or path to the run directory), or a sweep's study name")
    no_mouse_option(p)
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    from engine.runs import RunError, resolve_run

    root = runs_dir(args)
    try:
        run_dir = resolve_run(root, args.run)
    except RunError:
        from engine.sweep.summary import summary_path

        if not summary_path(root, args.run).is_file():
            raise
        from .sweep import follow_sweep  # RUN names a sweep: follow its trials until it finishes

        return follow_sweep(root, args.run, follow=True)
    return open_app(runs_dir=root, attach=run_dir, no_mouse=args.no_mouse)


COMMAND = Command(name="attach", help="open the TUI on a running or finished headless run", run=run,
                  configure=configure)
