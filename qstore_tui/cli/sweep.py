"""`qstore-tui sweep`: an Optuna study over TrainingConfig fields, each trial an ordinary run.

    qstore-tui sweep --config base.toml --space space.toml --trials 20 [--workers 2] [--sampler tpe]
                     [--prune median] [--study NAME] [--storage URL] [--yes]
    qstore-tui sweep --study NAME [--storage URL]          (resume: what is not given comes from the study)
    qstore-tui sweep --join NAME --storage postgresql://user@host/db [--workers K]   (another machine)
    qstore-tui sweep --status NAME [--follow]                                          (the study.json)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .command import EXIT_INTERRUPTED, EXIT_OK, Command
from .options import build_config, config_options, confirm_spend, path_argument, runs_dir, runs_dir_option

if TYPE_CHECKING:
    from engine.config import TrainingConfig
    from engine.sweep import StudyCost, SweepOptions, SweepSpec, SweepSummary

STORAGE_ENV = "QSTORE_SWEEP_STORAGE"
EXIT_INCOMPLETE = 4  # the sweep has trials waiting or running: not an error, but not done


def configure(p: argparse.ArgumentParser) -> None:
    config_options(p)
    p.add_argument("--space", type=path_argument, metavar="FILE", help="the search space (TOML)")
    p.add_argument("--trials", type=int, metavar="N", help="trials in the study")
    p.add_argument("--workers", type=int, default=None, metavar="K",
                   help="worker processes here (default: one per core)")
    p.add_argument("--sampler", choices=("tpe", "random", "grid"), default=None, help="default: tpe, or the study's")
    p.add_argument("--prune", choices=("median", "none"), default=None, help="default: median, or the study's")
    p.add_argument("--study", metavar="NAME",
                   help="study name (an existing one resumes; --space, --trials and the config default to its own)")
    p.add_argument("--join", metavar="NAME", help="run workers for a study created elsewhere (needs --storage)")
    p.add_argument("--status", metavar="NAME", help="print a sweep's trials from its study.json")
    p.add_argument("--follow", action="store_true", help="with --status: follow until the sweep finishes")
    p.add_argument("--storage", metavar="URL", default=None,
                   help=f"Optuna storage (default: SQLite in the runs directory; or ${STORAGE_ENV}); e.g. "
                        "postgresql://user@host/db with the password in PGPASSWORD or ~/.pgpass")
    p.add_argument("--yes", action="store_true", help="confirm a QPU study's estimated cost without asking")
    p.add_argument("--heartbeat", type=int, default=5, metavar="S",
                   help="trial heartbeat in seconds; a trial silent for 4x this (at least 60 s, which covers a cold "
                        "start's compile) is failed and retried once")
    runs_dir_option(p)


def run(args: argparse.Namespace) -> int:
    from engine.config import ConfigError

    modes = [m for m in ("join", "status") if getattr(args, m) is not None]  # an empty name is refused, not skipped
    if len(modes) > 1 or (modes and (args.space is not None or args.trials is not None)):
        raise ConfigError(None, "give one of: --space/--trials (a new or resumed sweep), --join NAME, --status NAME")
    if args.status is not None:
        return _status(args)
    if args.heartbeat < 1:
        raise ConfigError("heartbeat", f"must be >= 1 second, got {args.heartbeat}")
    if args.join is not None:
        return _join(args)
    return _start(args)


def _options(args: argparse.Namespace, root: Path) -> SweepOptions:
    from engine.config import ConfigError
    from engine.sweep import Heartbeat, SweepOptions

    if args.workers is not None and args.workers < 1:  # 0 is the engine's "one per core": not a typed --workers 0
        raise ConfigError("workers", f"must be >= 1, got {args.workers}")
    storage = args.storage or os.environ.get(STORAGE_ENV) or None
    return SweepOptions(runs_dir=root, storage_url=storage, workers=args.workers or 0,
                        heartbeat=Heartbeat.every(args.heartbeat))


def _start(args: argparse.Namespace) -> int:
    from engine.runs import new_run_id
    from engine.sweep import start_sweep
    from engine.sweep.runner import SweepCancelled
    from engine.sweep.study import check_study_name

    name = check_study_name(args.study if args.study is not None else f"sweep-{new_run_id()}")
    base = build_config(args)
    root = runs_dir(args, base)
    options = _options(args, root)
    spec = _spec(args, name, base, options)
    print(f"sweep {name}: {spec.trials} trials over {', '.join(spec.space.params)} ({spec.sampler}, prune "
          f"{spec.prune}), {options.n_workers} worker(s), storage {_masked(options.url)}")
    try:
        summary = start_sweep(spec, options, confirm=lambda cost: _confirm(cost, args.yes), on_progress=_Printer())
    except SweepCancelled as exc:  # the user answered no: nothing started, nothing charged; not a bug
        print(f"sweep {name} not started: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _finish(summary)


def _spec(args: argparse.Namespace, name: str, base: TrainingConfig | None, options: SweepOptions) -> SweepSpec:
    """The sweep's spec from the options; for an existing study, what they leave out is the study's own (its
    space, planned trials, base config, sampler and pruner: `--study NAME` alone resumes it). Grid refusals
    name the space file and come before the sweep is announced."""
    from engine.config import ConfigError
    from engine.sweep import SweepSpec, load_space
    from engine.sweep.runner import stored_spec
    from engine.sweep.study import check_grid, check_resume, check_trials

    if args.trials is not None:
        check_trials(args.trials)
    stored = stored_spec(name, options) if args.study is not None else None
    if stored is None and (args.space is None or args.trials is None):
        raise ConfigError("space" if args.space is None else "trials",
                          "a sweep needs --space FILE and --trials N (or --study NAME of an existing sweep)")
    if base is None:
        if stored is None:
            raise ConfigError("config", "a sweep needs a base config: --config FILE, --preset NAME or --set")
        base = stored.base
    if args.space is not None:
        space = load_space(args.space, base)
    else:
        assert stored is not None  # refused above
        space = stored.space
    trials = max(args.trials or 0, stored.trials if stored is not None else 0)
    sampler = args.sampler or (stored.sampler if stored is not None else "tpe")
    spec = SweepSpec(study=name, base=base, space=space, trials=trials, sampler=sampler,
                     prune=args.prune or (stored.prune if stored is not None else "median"),
                     max_cost_usd=base.max_cost_usd)
    if stored is not None:
        check_resume(spec, stored.attrs())
    if sampler == "grid":
        try:
            check_grid(space, trials)
        except ConfigError as exc:
            raise (exc.in_file(args.space) if args.space is not None else exc) from None
    return spec


def _join(args: argparse.Namespace) -> int:
    from engine.sweep import join_sweep
    from engine.sweep.runner import check_joinable

    root = runs_dir(args)
    options = _options(args, root)
    check_joinable(options)  # before the line that says it is joining
    print(f"joining sweep {args.join} with {options.n_workers} worker(s), storage {_masked(options.url)}")
    return _finish(join_sweep(args.join, options, on_progress=_Printer()))


def _masked(url: str) -> str:
    from engine.sweep import mask_url

    return mask_url(url)


def _confirm(cost: StudyCost, yes: bool) -> bool:
    return confirm_spend(f"estimated cost of the study: ${cost.total_usd:,.2f} ({cost.basis})", "sweep", yes)


class _Printer:
    """One line per trial as it finishes (from the summaries the runner polls)."""

    def __init__(self) -> None:
        self._done: set[int] = set()

    def __call__(self, summary: SweepSummary) -> None:
        for t in summary.trials:
            if t.state in ("waiting", "running") or t.number in self._done:
                continue
            self._done.add(t.number)
            value = "-" if t.value is None else f"{t.value:.4f}"
            extra = " (surplus, not run)" if t.surplus else f" ({t.error})" if t.error else ""
            retry = f" retry of {t.retry_of}" if t.retry_of is not None else ""
            duration = "" if t.duration_s is None else f" {t.duration_s:.1f}s"
            print(f"trial {t.number:>3} {t.state:<8} {summary.objective}={value}{duration}  "
                  f"run {t.run_id or '-'}{retry}{extra}", flush=True)


def _finish(summary: SweepSummary) -> int:
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items()))
    print(f"sweep {summary.study}: {counts}")
    if summary.stopped:
        print(f"stopped early: {summary.stopped}")
    if summary.best is not None:
        params = ", ".join(f"{k}={v}" for k, v in summary.best.params.items())
        print(f"best: trial {summary.best.number}, {summary.objective}={summary.best.value:.4f}, {params} "
              f"(run {summary.best.run_id})")
    if summary.importances:
        print("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in summary.importances.items()))
    return EXIT_OK if summary.finished else EXIT_INCOMPLETE


def _status(args: argparse.Namespace) -> int:
    return follow_sweep(runs_dir(args), args.status, follow=args.follow)


def follow_sweep(root: Path, study: str, *, follow: bool) -> int:
    """Print a sweep's trials from its study.json; with `follow`, as they finish, until the sweep ends or its
    runner is found gone (killed: nothing would update the file again)."""
    from engine.config import ConfigError
    from engine.sweep import read_summary, runner_gone, summary_path
    from engine.sweep.study import check_study_name

    path = summary_path(root, check_study_name(study, "status"))  # a folder of sweeps/, never '..' or ''

    if not path.is_file():
        raise ConfigError("status", f"no sweep {study!r} in {path.parent.parent} (no {path.name})")
    printer = _Printer()
    while True:
        try:
            summary = read_summary(path)
        except ValueError as exc:
            raise ConfigError("status", str(exc)) from None
        printer(summary)
        if summary.finished or not follow:
            break
        if runner_gone(summary):
            print(f"sweep {study}: its runner (pid {summary.writer_pid}) exited before the sweep finished; "
                  f"resume it with `{_resume_command(root, summary)}`", file=sys.stderr)
            break
        time.sleep(0.5)
    return _finish(summary)


def _resume_command(root: Path, summary: SweepSummary) -> str:
    """What resumes the sweep: its name (the study holds the rest), and its storage when not the default one."""
    from engine.sweep import default_storage_url, mask_url

    storage = "" if summary.storage == mask_url(default_storage_url(root)) else f" --storage {summary.storage}"
    return f"qstore-tui sweep --study {summary.study}{storage}"


COMMAND = Command(name="sweep", help="a hyperparameter sweep on Optuna (each trial a run)", run=run,
                  configure=configure, description=__doc__)
