"""`qstore-tui attach RUN`: open the TUI on a running or finished headless run (it follows its events.jsonl).

`attach SWEEP` (a sweep's study name) opens the app's Sweep view on it. With `--headless`, or when there is no
terminal (a pipe, a script), neither opens the app: a run's progress is printed as it is written, until the run
ends, and a sweep's trials as they finish, until the sweep ends.
"""

from __future__ import annotations

import argparse

from . import options
from .command import Command
from .options import no_mouse_option, open_app, runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id (or path to the run directory), or a sweep's study name")
    p.add_argument("--headless", action="store_true",
                   help="print the run's progress (a sweep's trials) as it goes instead of opening the app")
    no_mouse_option(p)
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    from engine.runs import RunError, resolve_run

    root = runs_dir(args)
    try:
        run_dir = resolve_run(root, args.run)
    except RunError:
        from engine.sweep.summary import summary_path

        summary = summary_path(root, args.run)
        if not summary.is_file():
            raise
        if args.headless or not options.have_terminal():
            from .sweep import follow_sweep

            return follow_sweep(root, args.run, follow=True)
        return open_app(runs_dir=root, sweep=summary, no_mouse=args.no_mouse)
    if args.headless or not options.have_terminal():
        from .headless import follow_headless

        return follow_headless(run_dir)
    return open_app(runs_dir=root, attach=run_dir, no_mouse=args.no_mouse)


COMMAND = Command(name="attach", help="open the TUI on a running or finished headless run, or on a sweep",
                  run=run, configure=configure)
