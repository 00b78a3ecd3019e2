"""`qstore-tui runs`: list the runs in the runs directory, newest first, as a plain table."""

from __future__ import annotations

import argparse
import sys

from .command import EXIT_OK, Command
from .options import runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    import time

    from engine.quoting import printable
    from engine.report.render import number_text
    from engine.runs import list_runs

    root = runs_dir(args)
    infos = list_runs(root)
    if not infos:
        print(f"no runs in {root}")
        return EXIT_OK
    rows = [("RUN", "STATUS", "BACKEND", "STEPS", "LOSS", "VAL ACC", "STARTED")]
    for r in infos:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)) if r.started_at else "-"
        rows.append((printable(r.run_id), r.status, r.backend, f"{r.steps}/{r.total_steps}",
                     "-" if r.final_loss is None else number_text(r.final_loss),
                     "-" if r.val_accuracy is None else f"{r.val_accuracy:.1%}", started))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"({len(infos)} run{'' if len(infos) == 1 else 's'} in {root})")
    for r in infos:
        if r.problem:  # listed from what could be read; said, not hidden
            print(f"warning: run {printable(r.run_id)}: {printable(r.problem)}", file=sys.stderr)
    return EXIT_OK


COMMAND = Command(name="runs", help="list runs, newest first", run=run, configure=configure)
