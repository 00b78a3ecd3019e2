"""The `qstore-tui` command: the TUI, headless runs, attach, runs, report, and the IonQ emulator.

Exit codes: 0 success, 1 an internal error, 2 bad configuration (the message names the field) or a
bad run name, 3 a backend, store or authentication error, 130 interrupted (after a checkpoint).
Imports stay inside the commands, so `--help` is fast and start-up never loads cirq or pinecone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import __version__

if TYPE_CHECKING:
    from engine.config import TrainingConfig
    from engine.session import EngineSession

EXIT_OK, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 2, 130  # a run's own code comes from engine.session.exit_code


def _runs_dir_option(p: argparse.ArgumentParser, *, top: bool) -> None:
    # On subcommands the default is SUPPRESS, so `qstore-tui --runs-dir X runs` keeps X.
    p.add_argument("--runs-dir", type=Path, metavar="DIR", default=None if top else argparse.SUPPRESS,
                   help="where runs are kept (default: the user data directory, e.g. ~/.local/share/qstore/runs)")


def _config_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    unset = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    p.add_argument("--config", type=Path, metavar="FILE", default=unset(None), help="a TOML config file")
    p.add_argument("--preset", metavar="NAME", default=unset(None), help="development, production or research")
    p.add_argument("--set", action="append", default=unset([]), metavar="KEY=VALUE", dest="overrides",
                   help="set one config field (repeatable), e.g. --set epochs=3")


def _no_mouse_option(p: argparse.ArgumentParser, *, top: bool) -> None:
    p.add_argument("--no-mouse", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="disable mouse support (for some SSH/tmux setups)" if top else argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qstore-tui",
        description="Train small variational quantum models on IonQ (or the embedded simulator) from a terminal.",
    )
    p.add_argument("--version", action="version", version=f"qstore-tui {__version__}")
    p.add_argument("--demo", action="store_true", help="open on the local simulator with a demo data set")
    _no_mouse_option(p, top=True)
    _runs_dir_option(p, top=True)
    _config_options(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="train: headless with a progress bar and a report, or in the TUI",
                         description="Train a model. With --headless no UI is opened: a progress line, then the "
                                     "report. Ctrl-C stops cleanly (checkpoint, events flushed, IonQ jobs "
                                     "cancelled) and exits with 130.")
    run.add_argument("--headless", action="store_true", help="train without a UI")
    run.add_argument("--resume", metavar="RUN",
                     help="continue a stopped or killed run from its last checkpoint (always headless)")
    _no_mouse_option(run, top=False)
    _config_options(run, top=False)
    _runs_dir_option(run, top=False)

    attach = sub.add_parser("attach", help="open the TUI on a running or finished headless run")
    attach.add_argument("run", metavar="RUN", help="run id (or path to the run directory)")
    _no_mouse_option(attach, top=False)
    _runs_dir_option(attach, top=False)

    runs = sub.add_parser("runs", help="list runs, newest first")
    _runs_dir_option(runs, top=False)

    report = sub.add_parser("report", help="print a run's performance report")
    report.add_argument("run", metavar="RUN", help="run id (or path to the run directory)")
    report.add_argument("--format", choices=("text", "md", "json"), default="text")
    _runs_dir_option(report, top=False)

    sub.add_parser("emulator", add_help=False, help="serve the IonQ emulator on 127.0.0.1 (see: emulator --help)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "emulator":
        from engine.backends.emulator.__main__ import main_emulator

        return main_emulator(argv[1:])
    args = build_parser().parse_args(argv)
    from engine.config import ConfigError
    from engine.runs import RunError

    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "attach":
            return _cmd_attach(args)
        if args.command == "runs":
            return _cmd_runs(args)
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_tui(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:  # before a session could install its own handler: nothing to checkpoint
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# ------------------------------------------------------------------------------------------ helpers


def _runs_dir(args: argparse.Namespace, config: TrainingConfig | None = None) -> Path:
    from engine.runs import default_runs_dir

    if args.runs_dir is not None:
        return Path(args.runs_dir).expanduser()
    if config is not None and config.runs_dir is not None:
        return config.runs_dir
    return default_runs_dir()


def build_config(args: argparse.Namespace) -> TrainingConfig | None:
    """The config from --config / --preset / --set, or None when none of them was given."""
    from engine.config import ConfigError, TrainingConfig, load_config

    if args.config is not None and args.preset is not None:
        raise ConfigError("preset", "give --config FILE or --preset NAME, not both")
    overrides: dict[str, str] = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(None, f"--set takes KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    if args.config is None and args.preset is None and not overrides:
        return None
    if args.config is not None:
        config = load_config(args.config)
    elif args.preset is not None:
        config = TrainingConfig.preset(args.preset)
    else:
        config = TrainingConfig()
    return config.with_overrides(overrides) if overrides else config


def _make_app(**kw: Any) -> Any:
    from qstore_tui.app import make_app

    return make_app(**kw)


# ----------------------------------------------------------------------------------------- commands


def _cmd_tui(args: argparse.Namespace) -> int:
    config = build_config(args)
    app = _make_app(config=config, runs_dir=_runs_dir(args, config), demo=args.demo, no_mouse=args.no_mouse)
    app.run(mouse=not args.no_mouse)
    return EXIT_OK


def _cmd_attach(args: argparse.Namespace) -> int:
    from engine.runs import resolve_run

    runs_dir = _runs_dir(args)
    run_dir = resolve_run(runs_dir, args.run)
    app = _make_app(runs_dir=runs_dir, attach=run_dir, no_mouse=args.no_mouse)
    app.run(mouse=not args.no_mouse)
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace) -> int:
    import time

    from engine.runs import list_runs

    runs_dir = _runs_dir(args)
    infos = list_runs(runs_dir)
    if not infos:
        print(f"no runs in {runs_dir}")
        return EXIT_OK
    rows = [("RUN", "STATUS", "BACKEND", "STEPS", "LOSS", "VAL ACC", "STARTED")]
    for r in infos:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)) if r.started_at else "-"
        rows.append((r.run_id, r.status, r.backend, f"{r.steps}/{r.total_steps}",
                     "-" if r.final_loss is None else f"{r.final_loss:.4f}",
                     "-" if r.val_accuracy is None else f"{r.val_accuracy:.1%}", started))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"({len(infos)} runs in {runs_dir})")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from engine.report import build_report
    from engine.runs import is_running, load_run_config, read_events, resolve_run

    run_dir = resolve_run(_runs_dir(args), args.run)
    report = build_report(read_events(run_dir), load_run_config(run_dir))
    if report.run.status == "incomplete" and is_running(run_dir):
        report.run.status = "running"  # the report so far of a run another process is writing
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    elif args.format == "md":
        print(report.to_markdown(), end="")
    else:
        print(report.to_text())
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from engine.runs import resolve_run
    from engine.session import EngineSession

    config = build_config(args)
    if args.resume is not None:
        if config is not None:
            from engine.config import ConfigError

            raise ConfigError(None, "--resume continues with the run's own config.toml; "
                                    "it cannot be combined with --config, --preset or --set")
        runs_dir = _runs_dir(args)
        session = EngineSession.from_run_dir(resolve_run(runs_dir, args.resume))
    else:
        if config is None:
            from engine.config import TrainingConfig

            config = TrainingConfig()
        if not args.headless:
            app = _make_app(config=config, runs_dir=_runs_dir(args, config), no_mouse=args.no_mouse)
            app.run(mouse=not args.no_mouse)
            return EXIT_OK
        session = EngineSession(config, runs_dir=_runs_dir(args, config))
    return run_headless(session)


# ----------------------------------------------------------------------------------------- headless


def run_headless(session: EngineSession) -> int:
    """Run the session to its end with a progress display; print the report; return the exit code."""
    import asyncio

    return asyncio.run(_headless(session))


async def _headless(session: EngineSession) -> int:
    import asyncio
    import signal

    from engine.session import exit_code

    loop = asyncio.get_running_loop()
    queue = session.bus.subscribe(maxsize=100_000)
    progress = _Progress(tty=sys.stdout.isatty() and os.environ.get("TERM") != "dumb")
    print(f"run {session.run_id} ({session.config.backend}) in {session.run_dir}", flush=True)
    interrupts = 0

    def on_signal() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            print("\nstopping: writing a checkpoint, cancelling IonQ jobs in flight "
                  "(Ctrl-C again to abandon the step in flight)", file=sys.stderr, flush=True)
            loop.create_task(session.stop(interrupted=True))
        else:
            session.abort()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    async def consume() -> None:
        while True:
            progress.update(await queue.get())

    consumer = loop.create_task(consume())
    try:
        with progress:
            await session.run()
            consumer.cancel()
            while not queue.empty():
                progress.update(queue.get_nowait())
    finally:
        consumer.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print(session.performance_report().to_text())
    print(f"report: {session.run_dir / 'report.md'} and report.json", flush=True)
    return exit_code(session)


class _Progress:
    """Step progress: a rich progress bar on a terminal, throttled plain lines otherwise."""

    PLAIN_EVERY_S = 1.0

    def __init__(self, *, tty: bool):
        self.tty = tty
        self._bar: Any = None
        self._task: Any = None
        self._last_line = 0.0

    def __enter__(self) -> "_Progress":
        if self.tty:
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
            self._task = self._bar.add_task("training", total=None, info="starting")
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _line(self, text: str, *, force: bool = False) -> None:
        import time

        now = time.monotonic()
        if force or now - self._last_line >= self.PLAIN_EVERY_S:
            self._last_line = now
            print(text, flush=True)

    def _note(self, text: str, *, stream: Any = None) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=stream or sys.stdout, flush=True)

    def update(self, event: Any) -> None:
        from engine.events import Checkpoint, EpochFinished, Error, Log, RunFinished, RunStarted, StepMetrics

        if isinstance(event, RunStarted):
            resumed = f", resuming at step {event.resumed_from_step}" if event.resumed_from_step else ""
            self._note(f"{event.backend} / {event.target}: {event.n_qubits} qubits, {event.n_params} parameters, "
                       f"{event.total_steps} steps{resumed}")
            if self._bar is not None:
                self._bar.update(self._task, total=event.total_steps, completed=event.resumed_from_step)
        elif isinstance(event, StepMetrics):
            acc = "" if event.accuracy is None else f" acc {event.accuracy:.1%}"
            info = f"epoch {event.epoch + 1} loss {event.loss:.4f}{acc}"
            if self._bar is not None:
                self._bar.update(self._task, total=event.total_steps, completed=event.step + 1, info=info)
            else:
                self._line(f"step {event.step + 1}/{event.total_steps} {info}",
                           force=event.step + 1 == event.total_steps)
        elif isinstance(event, EpochFinished):
            val = "" if event.val_accuracy is None else f", val acc {event.val_accuracy:.1%}"
            self._note(f"epoch {event.epoch + 1}: train loss {event.train_loss:.4f}{val}")
        elif isinstance(event, Checkpoint) and self._bar is None:
            self._line(f"checkpoint at step {event.step}")
        elif isinstance(event, Log) and event.level in ("warning", "error"):
            self._note(f"{event.level}: {event.message}", stream=sys.stderr)
        elif isinstance(event, Error):
            self._note(f"error: {event.source}: {event.message}", stream=sys.stderr)
        elif isinstance(event, RunFinished):
            detail = f" ({event.message})" if event.message else ""
            self._note(f"run {event.status} after {event.steps} steps in {event.wall_s:.1f}s{detail}")
