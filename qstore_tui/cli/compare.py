"""`qstore-tui compare RUN RUN ...`: the runs side by side, the fields that differ, groups with mean and band."""

from __future__ import annotations

import argparse
import sys

from .command import EXIT_OK, Command
from .options import path_argument, runs_dir, runs_dir_option


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (or paths to run directories)")
    p.add_argument("--group-by", metavar="FIELD", default=None,
                   help="group runs by a config field (e.g. learning_rate): each group's mean and band")
    p.add_argument("--band", choices=("minmax", "std"), default="minmax", help="group band: min-max or ±1 std")
    p.add_argument("--axis", choices=("step", "epoch"), default="step")
    p.add_argument("--smoothing", type=float, default=0.0, metavar="W",
                   help="TensorBoard's EMA smoothing weight in [0, 1) (default 0: raw)")
    p.add_argument("--format", choices=("text", "md", "csv", "json"), default="text")
    p.add_argument("--out", type=path_argument, metavar="FILE", default=None,
                   help="write the comparison to FILE (md: with the overlay plots beside it)")
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    from engine.config import ConfigError
    from engine.fileio import output_target, write_output_file
    from engine.quoting import printable
    from engine.runs import resolve_run
    from engine.runs.compare import compare_runs
    from engine.runs.compare_report import render_comparison

    if not 0.0 <= args.smoothing < 1.0:
        raise ConfigError("smoothing", f"must be in [0, 1), got {args.smoothing:g}")
    root = runs_dir(args)
    dirs = [resolve_run(root, r) for r in args.runs]
    try:
        cmp = compare_runs(dirs, axis=args.axis, smoothing=args.smoothing, group_by=args.group_by, band=args.band)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError("group_by" if args.group_by and "group" in str(exc) else None, str(exc)) from None
    for r in cmp.records:
        if r.problem:  # compared from what could be read; said, as `runs` says it
            print(f"warning: run {printable(r.run_id)}: {printable(r.problem)}", file=sys.stderr)
    text = render_comparison(cmp, args.format)
    if args.out is None:
        print(text, end="")
        return EXIT_OK
    target = output_target(args.out)
    if args.format == "md" and (target.is_file() or not target.exists()):  # plots beside a file, not beside /dev/null
        from engine.runs.plots import comparison_figures

        figures = comparison_figures(cmp, target.parent, stem=target.stem)
        text += "\n" + "\n".join(f"![{f.title}]({f.png.name})" for f in figures) + "\n"
    write_output_file(args.out, text.encode())
    print(f"wrote {args.out}")
    return EXIT_OK


COMMAND = Command(name="compare", help="compare runs: results, differing config fields, groups", run=run,
                  configure=configure,
                  description="Compare runs: their results, the config fields that differ, and with --group-by "
                              "each group's mean and band. --format md --out FILE also writes the overlay plots.")
