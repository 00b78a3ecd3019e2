"""Options shared by several commands (--runs-dir, --config/--preset/--set, --no-mouse) and what they resolve to.

Top-level and subcommand copies of an option differ only in their default: on a subcommand it is SUPPRESS, so
`qstore-tui --runs-dir X runs` keeps the X given before the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import TrainingConfig
    from qstore_tui.app import QStoreApp


def path_argument(text: str) -> Path:
    """An option's path: an empty one (`--runs-dir=`, `--config "$UNSET"`) is refused, not read as "."."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def runs_dir_option(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    p.add_argument("--runs-dir", type=path_argument, metavar="DIR", default=None if top else argparse.SUPPRESS,
                   help="where runs are kept (default: the user data directory, e.g. ~/.local/share/qstore/runs)")


def config_options(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    unset = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    p.add_argument("--config", type=path_argument, metavar="FILE", default=unset(None), help="a TOML config file")
    p.add_argument("--preset", metavar="NAME", default=unset(None), help="development, production or research")
    p.add_argument("--set", action="append", default=unset([]), metavar="KEY=VALUE", dest="overrides",
                   help="set one config field (repeatable), e.g. --set epochs=3")


def no_mouse_option(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    p.add_argument("--no-mouse", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="disable mouse support (for some SSH/tmux setups)" if top else argparse.SUPPRESS)


def runs_dir(args: argparse.Namespace, config: TrainingConfig | None = None) -> Path:
    """--runs-dir, else the config's runs_dir, else the user data directory."""
    from engine.runs import default_runs_dir

    from engine.config import ConfigError
    from engine.fileio import user_path

    if args.runs_dir is not None:
        try:
            return user_path(args.runs_dir)
        except ValueError as exc:
            raise ConfigError("runs_dir", f"--runs-dir {exc}") from None
    if config is not None and config.runs_dir is not None:
        return config.runs_dir
    return default_runs_dir()


def build_config(args: argparse.Namespace) -> TrainingConfig | None:
    """The config from --config / --preset / --set, or None when none of them was given."""
    from engine.config import SECRET_FIELDS, ConfigError, TrainingConfig, load_config

    if args.config is not None and args.preset is not None:
        raise ConfigError("preset", "give --config FILE or --preset NAME, not both")
    overrides: dict[str, str] = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(None, f"--set takes KEY=VALUE, got {item!r}")
        if key.strip() in SECRET_FIELDS:  # as config files: a command line shows in `ps` and in crash logs
            raise ConfigError(key.strip(), f"secrets are never read from the command line; set env "
                                           f"{SECRET_FIELDS[key.strip()]}")
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


NO_TERMINAL = ("the app needs a terminal, and stdin or stdout is not one (a pipe, a file, a script); without one, "
               "`qstore-tui run --headless` trains and `qstore-tui attach RUN` prints a run's progress")


def have_terminal() -> bool:
    """Is there a terminal for the app to draw on: stdin and stdout both one, or textual-serve's web driver (which
    speaks over pipes)? Without one the app would write escape codes into a pipe and wait for keys that never come."""
    return "TEXTUAL_DRIVER" in os.environ or (sys.stdin.isatty() and sys.stdout.isatty())


def open_app(*, runs_dir: Path, no_mouse: bool, config: TrainingConfig | None = None,
             attach: Path | None = None, demo: bool = False, sweep: Path | None = None) -> int:
    """Build the app (looked up at call time, so tests can replace `qstore_tui.app.make_app`) and run it.
    `sweep` (a study.json) opens the app on that sweep's Sweep view."""
    from engine.config import ConfigError
    from qstore_tui import app

    if not have_terminal():
        raise ConfigError(None, NO_TERMINAL)

    tui: QStoreApp = app.make_app(config=config, runs_dir=runs_dir, attach=attach, demo=demo, no_mouse=no_mouse,
                                  sweep=sweep)
    tui.run(mouse=not no_mouse)
    return tui.return_code or 0  # 1 after a crash (the app printed its one line and wrote the crash log)


def confirm_spend(estimate: str, what: str, yes: bool) -> bool:
    """Print the estimate, then ask y/N once before `what` ("run", "sweep") spends on a QPU; --yes answers for
    the user, and without a terminal it is needed (ConfigError naming it), as the Config screen's dialog asks."""
    import sys

    from engine.config import ConfigError

    print(estimate)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError("yes", f"a {what} on a QPU target needs confirmation: run it in a terminal or pass --yes")
    return input(f"start the {what}? [y/N] ").strip().lower() in ("y", "yes")
