"""`qstore-tui report RUN`: print a run's performance report as text, Markdown or JSON."""

from __future__ import annotations

import argparse

from .command import EXIT_OK, Command
from .options import runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id (or path to the run directory)")
    p.add_argument("--format", choices=("text", "md", "json"), default="text")
    p.add_argument("--write", action="store_true",
                   help="(re)write report.md, report.html and report.json with the loss and accuracy plots")
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    import sys

    from engine.runs import load_run_config, resolve_run
    from engine.runs.report_files import run_report

    run_dir = resolve_run(runs_dir(args), args.run)
    if args.write:
        from engine.runs.report_files import write_report_files

        for path in write_report_files(run_dir).paths():
            print(f"wrote {path}")
        return EXIT_OK
    report = run_report(run_dir, load_run_config(run_dir))
    if args.format == "json":
        sys.stdout.write(report.to_json_bytes().decode() + "\n")  # json.dumps(indent=2)'s text, lazily
    elif args.format == "md":
        print(report.to_markdown(), end="")
    else:
        print(report.to_text())
    return EXIT_OK


COMMAND = Command(name="report", help="print a run's performance report", run=run, configure=configure)
