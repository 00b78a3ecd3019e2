"""`qstore-tui run`: train headless (progress, then the report) or in the TUI; `--resume RUN` continues a run."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import options
from .command import EXIT_INTERRUPTED, Command
from .options import (build_config, config_options, confirm_spend, no_mouse_option, open_app, runs_dir,
                      runs_dir_option)

if TYPE_CHECKING:
    from engine.config import TrainingConfig


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", help="train without a UI")
    p.add_argument("--resume", metavar="RUN",
                   help="continue a stopped or killed run from its last checkpoint (always headless)")
    p.add_argument("--dry-run", action="store_true",
                   help="IonQ validates and prices every payload of a step (dry_run jobs); nothing runs or is "
                        "charged; the report says what the run would cost")
    p.add_argument("--yes", action="store_true",
                   help="start a headless run on a QPU target without asking (its max_cost_usd still caps it)")
    no_mouse_option(p)
    config_options(p)
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    from engine.config import ConfigError, TrainingConfig
    from engine.runs import resolve_run
    from engine.session import EngineSession

    from .headless import run_headless

    config = build_config(args)
    if args.dry_run:
        if args.resume is not None:
            raise ConfigError("dry_run", "--dry-run prices a new run; it cannot be combined with --resume")
        config = (config or TrainingConfig()).with_overrides({"dry_run": "true"})
    if args.resume is not None:
        if config is not None:
            raise ConfigError(None, "--resume continues with the run's own config.toml; "
                                    "it cannot be combined with --config, --preset or --set")
        session = EngineSession.from_run_dir(resolve_run(runs_dir(args), args.resume))
    else:
        if config is None:
            config = TrainingConfig()
        if not args.headless and options.have_terminal():
            return open_app(config=config, runs_dir=runs_dir(args, config), no_mouse=args.no_mouse)
        if not args.headless:  # `run > log.txt`, a script, cron: it trains, and says how
            print("no terminal (stdin or stdout is a pipe or a file): training headless, as with --headless",
                  file=sys.stderr, flush=True)
        if not _cost_confirmed(config, args.yes):
            return EXIT_INTERRUPTED
        session = EngineSession(config, runs_dir=runs_dir(args, config))
    return run_headless(session)


def _cost_confirmed(config: TrainingConfig, yes: bool) -> bool:
    """A new headless run on a QPU target asks once, as the Config screen's dialog and `sweep` do: the estimate
    and the cap, then y/N. A resumed run was confirmed when it started, and a dry run is not charged."""
    import sys

    from engine.run_cost import estimate_run_cost

    cost = estimate_run_cost(config)
    if cost is None or config.dry_run:
        return True
    config.check_runnable()  # a missing cap or key is said first, not a confirmation the run would refuse anyway
    cap = "" if config.max_cost_usd is None else f"; cap ${config.max_cost_usd:,.2f}"
    if config.max_cost_usd is not None and cost.usd > config.max_cost_usd:
        # the published table's figure; IonQ's /jobs/estimate, asked as the run starts, is the one enforced
        cap += (" (over the cap by this estimate: IonQ's own estimate, asked as the run starts, decides, and the "
                "run stops with a checkpoint before its spend would pass the cap)")
    if confirm_spend(f"{cost.line()} ({cost.basis}){cap}", "run", yes):
        return True
    print(f"run not started: its estimated cost of ${cost.usd:,.2f} was not confirmed", file=sys.stderr)
    return False


COMMAND = Command(
    name="run", help="train: headless with a progress bar and a report, or in the TUI", run=run, configure=configure,
    description="Train a model. With --headless no UI is opened: a progress line, then the report. Ctrl-C stops "
                "cleanly (checkpoint, events flushed, IonQ jobs cancelled) and exits with 130.",
)
