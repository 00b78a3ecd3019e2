"""`qstore-tui export RUN --format csv|json`: a run's metrics (one row per reported step) to stdout or a file."""

from __future__ import annotations

import argparse

from .command import EXIT_OK, Command
from .options import path_argument, runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id (or path to the run directory)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=path_argument, metavar="FILE", default=None, help="write to FILE instead of stdout")
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    from engine import strict_json
    from engine.fileio import write_output_file
    from engine.runs import resolve_run, run_metrics
    from engine.runs.metrics import metrics_csv, metrics_json

    run_dir = resolve_run(runs_dir(args), args.run)
    rows = run_metrics(run_dir)
    if args.format == "json":
        text = strict_json.dumps({"run_id": run_dir.name, "metrics": metrics_json(rows)}, indent=1) + "\n"
    else:
        text = metrics_csv(rows)
    if args.out is None:
        print(text, end="")
    else:
        write_output_file(args.out, text.encode())
        print(f"wrote {args.out} ({len(rows)} rows)")
    return EXIT_OK


COMMAND = Command(name="export", help="export a run's metrics as CSV or JSON", run=run, configure=configure)
