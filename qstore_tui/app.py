"""The App: five screens as modes, the engine bridge, themes, keys and the command palette.

`make_app` builds it for the CLI and for tests alike (posting's pattern): tests pass `testing=True`
(no cursor blink, no animations), a fixed `clock` and their own `runs_dir`.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.messages import ExitApp
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from engine.config import ConfigError, TrainingConfig
from engine.fileio import error_text

from . import css_cache, textual_fixes
from .bridge import BridgeBusy, EngineBridge
from .messages import EngineProblem, RunEnded, SessionUpdated
from .screens.base import AppScreen
from .screens.config import ConfigScreen
from .screens.cost_confirm import CostDecision
from .themes import DEFAULT_THEME, FALLBACK_THEME, SHIPPED_THEMES, default_theme_dirs, load_themes
from .widgets.mode_bar import SCREENS

if TYPE_CHECKING:
    from .keymap import Scope

css_cache.install()
textual_fixes.install()

# The first screen is imported with the app; the others (and their widgets) when first shown, so the
# first frame comes sooner.
_SCREEN_CLASSES = {
    "config": ("config", "ConfigScreen"),
    "training": ("training", "TrainingScreen"),
    "compiler": ("compiler", "CompilerScreen"),
    "report": ("report", "ReportScreen"),
    "runs": ("runs", "RunsScreen"),
}


def screen_class(mode: str) -> type[AppScreen]:
    module, name = _SCREEN_CLASSES[mode]
    return getattr(importlib.import_module(f"{__package__}.screens.{module}"), name)


def _factory(mode: str) -> Callable[[], Screen]:
    return lambda: screen_class(mode)()


SIGNAL_EXIT_CODE = 130  # as the headless run's after a signal: interrupted
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # kill or a service stop; the SSH session dropped
PREWARM_GAP_S = 0.1  # between screens composed in the background after the first frame

_MODE_KEYS = [
    binding
    for n, (mode, title) in enumerate(SCREENS, start=1)
    for binding in (Binding(str(n), f"show('{mode}')", f"{title} screen", show=False, id=f"screen.{mode}"),
                    Binding(f"f{n}", f"show('{mode}')", f"{title} screen", show=False, id=f"screen.{mode}.f"))
]


class IdleCollector:
    """Full garbage collections when nobody is typing, not in the middle of a key press.

    Textual's rendering leaves ~20k objects of cyclic garbage a second while the Training screen
    updates; a full (generation 2) collection of that takes 100-300 ms, with the UI frozen. Automatic
    full collections are turned off; `tick` runs one when no key came for a second (at most every
    `MIN_GAP_S`), or at the latest every `MAX_DEFER_S` (young generations are collected as usual). The app and the engine,
    once loaded, are frozen out of the collector's walk (`gc.freeze`).
    """

    TICK_S = 0.5
    IDLE_S = 1.0
    MIN_GAP_S = 5.0
    MAX_DEFER_S = 30.0

    def __init__(self) -> None:
        self._thresholds = gc.get_threshold()
        self._last_key = self._last_full = time.monotonic()

    def install(self) -> None:
        gen0, gen1, _ = self._thresholds
        gc.set_threshold(gen0, gen1, 10**9)

    def restore(self) -> None:
        gc.set_threshold(*self._thresholds)

    def key_pressed(self) -> None:
        self._last_key = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        since = now - self._last_full
        if (since >= self.MIN_GAP_S and now - self._last_key >= self.IDLE_S) or since >= self.MAX_DEFER_S:
            gc.collect()
            self._last_full = now


class QStoreApp(App[None]):
    """The qstore control room."""

    TITLE = "qstore-tui"
    CSS_PATH = "styles/app.tcss"
    MODES = {"config": ConfigScreen, **{mode: _factory(mode) for mode in _SCREEN_CLASSES if mode != "config"}}
    BINDINGS = [*_MODE_KEYS, Binding("q", "quit", "Quit", id="app.quit"),
                Binding("question_mark", "help", "Help", id="app.help"),
                # as in a shell: to the background (a run in the app waits, stopped with the process), `fg` back
                Binding("ctrl+z", "suspend_process", "Suspend", show=False, id="app.suspend")]

    def __init__(
        self,
        *,
        config: TrainingConfig,
        runs_dir: Path | None,
        attach: Path | None,
        demo: bool,
        no_mouse: bool,
        clock: Callable[[], float],
        theme: str | None,
        testing: bool,
        theme_dirs: Sequence[Path],
        keymap_file: Path | None = None,
        sweep: Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.runs_dir = runs_dir or config.resolved_runs_dir
        self.attach_to = attach
        self.sweep_to = sweep  # a sweep's study.json: `attach SWEEP` opens its Sweep view over Runs
        self.demo = demo
        self.no_mouse = no_mouse
        self.clock = clock
        self.testing = testing
        self.requested_theme = theme
        self.theme_dirs = list(theme_dirs)
        self.keymap_file = keymap_file
        self.config_problems: dict[str, str] = {}  # field -> message, kept by the Config screen
        self._frozen_for: object | None = None
        self.crash: BaseException | None = None  # the exception that ended the app, if one did
        self._after_run: str | None = None  # the quit dialog's choice, carried out when the run has stopped
        self._prewarming = False  # a background screen is being composed (see exit)
        self._signalled = False  # asked to close from outside (a signal, serve's page gone): the run is stopping
        self._outside_exit_code = 0  # the exit code the app then ends with
        self._hung_up = False  # SIGHUP or the terminal lost (terminal_driver): one hangup, however it is told
        self._terminal_gone = False  # its writes fail: nothing more is printed to it
        self._signal_handlers: list[signal.Signals] = []
        self._exit_after_prewarm: tuple[int, RenderableType | None] | None = None  # (return code, message)
        # Not in tests: there many apps come and go in one process, and the policy is process-wide.
        self._collector = None if testing else IdleCollector()
        self.bridge = EngineBridge(self, runs_dir=self.runs_dir, clock=clock)
        if testing:
            self.animation_level = "none"

    # ----- start-up -----

    def run(self, *, mouse: bool | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Run in the terminal; without mouse reporting when made with `no_mouse` (SSH, tmux copy mode).

        A crash ends the app as Textual ends it (the terminal restored), then prints one line: what
        went wrong and where its crash log (the traceback) is; `return_code` is then non-zero."""
        result = super().run(mouse=not self.no_mouse if mouse is None else mouse, **kwargs)
        if self.crash is not None:
            from .crash import crash_message, write_crash_log

            path = write_crash_log(self.crash, what="the app", run_dir=self.bridge.run_dir,
                                   context=[f"screen: {self.current_mode}"])
            if not self._terminal_gone:  # else the crash log is all there is
                print(crash_message("the app", self.crash, path), file=sys.stderr, flush=True)
        return result

    def _handle_exception(self, error: Exception) -> None:
        """An exception no handler caught: keep it for the crash log instead of a traceback on screen."""
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self._terminal_gone or (self.crash is not None and not self.testing):
            self._exit_renderables.clear()  # the one line and the crash log replace the traceback
        super()._print_error_renderables()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if not self._screen_stacks.get(self._current_mode):
                return  # shutting down (the stacks are closed): nobody left to take the key
            if self._collector is not None:
                self._collector.key_pressed()
        try:
            await super().on_event(event)  # a key's action runs here, in the app's own task
        except asyncio.CancelledError:
            if _own_cancellation():
                raise

    def on_unmount(self) -> None:
        if self._collector is not None:
            self._collector.restore()
        loop = asyncio.get_running_loop()
        for sig in self._signal_handlers:
            loop.remove_signal_handler(sig)
        self._signal_handlers.clear()

    def _install_signal_handlers(self) -> None:
        """SIGTERM and SIGHUP end the app as a quit does, not as a kill: without this a signal killed the
        process with the terminal left raw and a run in the app lost since its last checkpoint."""
        loop = asyncio.get_running_loop()
        for sig in TERMINATING_SIGNALS:
            try:
                loop.add_signal_handler(sig, self._terminated, sig)
            except (ValueError, RuntimeError):  # not the main thread's loop: the signal keeps its handler
                return
            self._signal_handlers.append(sig)

    def get_driver_class(self) -> type[Driver]:
        """Textual's Linux driver, made to survive the terminal hanging up (terminal_driver); any other driver
        (the web driver of `serve`, the headless one of tests) as Textual picks it."""
        from textual.drivers.linux_driver import LinuxDriver

        driver = super().get_driver_class()
        if driver is LinuxDriver:
            from .terminal_driver import HangupSafeLinuxDriver

            return HangupSafeLinuxDriver
        return driver

    def terminal_lost(self) -> None:
        """From the driver's threads: the terminal hung up; handled as SIGHUP, on the app's loop."""
        self._terminal_gone = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._terminated, signal.SIGHUP)

    def _terminated(self, sig: signal.Signals) -> None:
        """SIGTERM or SIGHUP (or the terminal lost): see _closed_from_outside; exit code 130."""
        if sig == signal.SIGHUP:
            if self._hung_up:
                return
            self._hung_up = True
        self._closed_from_outside(f"{sig.name}: the app closed", SIGNAL_EXIT_CODE)

    def on_driver_signal_resume(self, message: Driver.SignalResume) -> None:
        """Back from Ctrl+Z (`fg`): the driver has re-entered the alternate screen, blank, and Textual repaints
        nothing until something changes (a blank terminal until the next key, checked in tmux)."""
        self.refresh(layout=True)

    def on_exit_app(self, message: ExitApp) -> None:
        """Textual's ExitApp, before App's own handler (Textual calls each class's handler in turn). Ours follows
        exit(); one that does not was posted by the web driver when `serve`'s browser page went away or its
        server stopped: a quit from outside, handled as a signal is. Before, it shut the app down under its run
        (lost since its last checkpoint) and under a screen being composed in the background (a crash)."""
        if not self._exit:
            message.prevent_default()  # App's handler runs on the ExitApp that our exit() posts later
            self._closed_from_outside("closed by serve: the browser page went away or the server stopped", 0)

    def _closed_from_outside(self, why: str, return_code: int) -> None:
        """A run training in this app stops with a checkpoint (IonQ jobs in flight cancelled), then the app
        exits; with no run, or when asked again, it exits at once (the run keeps its last checkpoint).
        `qstore-tui run --resume RUN` continues it."""
        if self._signalled or not self.bridge.training_here:
            run_id = self.bridge.view.run_id if self.bridge.training_here else None
            self.exit(return_code=return_code, message=why if run_id is None else
                      f"{why}; run {run_id} interrupted; resume it with: qstore-tui run --resume {run_id} "
                      f"(from its last checkpoint)")
            return
        self._signalled = True
        self._outside_exit_code = return_code
        self._stop_then(self._after_run or "stop")  # a choice already made in the quit dialog (detach) is kept

    def on_mount(self) -> None:
        self._install_signal_handlers()
        self._install_themes()
        self._install_keymap()
        if self._collector is not None:
            self._collector.install()
            self.set_interval(IdleCollector.TICK_S, self._collector.tick)
        if self.attach_to is not None:
            self.switch_mode("training")
            self._guard(partial(self.bridge.attach, self.attach_to))
        elif self.sweep_to is not None:
            from .screens.sweep import SweepScreen

            self.switch_mode("runs")  # Escape from the Sweep view lands on the runs, its trials among them
            self.push_screen(SweepScreen(self.sweep_to))
        elif self.demo:
            self.switch_mode("training")
            self._guard(partial(self.bridge.start, self.config))
        else:
            self.switch_mode("config")
        if not self.testing:  # tests compose screens when shown, so that snapshots never race this
            self.set_timer(PREWARM_GAP_S, self._prewarm)

    async def _prewarm(self) -> None:
        """Compose the screens not shown yet, one per timer tick after the first frame, so that the first
        visit to each is as quick as any other (composing one and parsing its widgets' CSS takes
        100-300 ms). Textual has no public call to build a mode's screen without showing it:
        `_init_mode` is what `switch_mode` runs for a new mode, and styling the screen here spares the
        full CSS refresh `switch_mode` does for a screen it has not styled yet (textual is pinned)."""
        if not self.is_running or self._exit:  # exiting or shutting down: the stacks are being closed
            return
        pending = [mode for mode in self.MODES if mode not in self._screen_stacks]
        if not pending:
            self._freeze_heap()
            return
        self._prewarming = True
        try:
            await self._init_mode(pending[0])  # returns at once: the screen composes and mounts in its own task
            screen = self._screen_stacks[pending[0]][0]
            self.stylesheet.update(screen, animate=False)
            screen._css_update_count = self._css_update_count
            await screen._mounted_event.wait()  # set once its mount handlers ran (or raised)
        finally:
            self._prewarming = False
        if self._exit_after_prewarm is not None:
            return_code, message = self._exit_after_prewarm
            self._exit_after_prewarm = None
            self.exit(return_code=return_code, message=message)
            return
        self.set_timer(PREWARM_GAP_S, self._prewarm)

    def exit(self, result: None = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        """Exit, but not while a screen is being composed in the background: the timer runs `_prewarm` in
        its own task, and an exit then closed the screen's widgets under its mount handlers (NoMatches,
        a crash on quitting in the first second). Such an exit waits for that one screen (<= ~300 ms)."""
        if self._prewarming:
            self._exit_after_prewarm = (return_code, message)  # the app's result is always None
            return
        super().exit(result, return_code, message)

    def _freeze_heap(self, collect: bool = True) -> None:
        """Collect (when idle), then move every live object out of the collector's reach (`gc.freeze`)."""
        if self._collector is not None:
            if collect:
                gc.collect()
            gc.freeze()

    def _install_keymap(self) -> None:
        """The user's keymap file, if there is one; each bad entry is a notification, its default stays."""
        from .keymap import binding_ids, keymap_path, load_keymap, refuse_clashes

        if self.keymap_file is None and self.testing:
            return  # tests never read the user's own keymap
        path = self.keymap_file or keymap_path()
        if not path.exists():
            return
        scopes = self._key_scopes()
        keymap, problems = load_keymap(path, binding_ids(scope.bindings for scope in scopes))
        keymap, clashes = refuse_clashes(path, keymap, scopes)
        for problem in [*problems, *clashes]:
            self.notify(str(problem), title="Keymap", severity="warning", timeout=10, markup=False)
        if keymap:
            self.set_keymap(keymap)

    def _key_scopes(self) -> list[Scope]:
        """Where keys answer together: the app's alone, each screen's with the app's, each dialog's alone
        (Textual stops at a modal screen)."""
        from textual.screen import ModalScreen

        from .keymap import Scope, class_bindings
        from .screens.compare import CompareScreen
        from .screens.cost_confirm import CostConfirmScreen
        from .screens.help import HelpScreen
        from .screens.quit_confirm import QuitConfirmScreen
        from .screens.run_dialogs import DeleteRunScreen, TagRunScreen
        from .screens.sweep import SweepScreen

        screens: list[type[Screen[Any]]] = [*(screen_class(mode) for mode in self.MODES), CompareScreen, SweepScreen,
                                            HelpScreen, QuitConfirmScreen, CostConfirmScreen, DeleteRunScreen,
                                            TagRunScreen]
        app = class_bindings(type(self))
        scopes = [Scope("in every screen", app)]
        for screen in screens:
            name = re.sub(r"(?<!^)(?=[A-Z])", " ", screen.__name__.removesuffix("Screen")).lower()
            modal = issubclass(screen, ModalScreen)
            scopes.append(Scope(f"on the {name} {'dialog' if modal else 'screen'}",
                                class_bindings(screen) + (() if modal else app)))
        return scopes

    def _install_themes(self) -> None:
        """Register themes/*.toml; a bad file or an unknown name is a notification, never a crash."""
        themes, problems = load_themes(self.theme_dirs)
        for theme in themes.values():
            self.register_theme(theme)
        for problem in problems:
            self.notify(f"{problem.message}; {problem.outcome}", title="Bad theme file",
                        severity="warning", timeout=10, markup=False)
        default = DEFAULT_THEME if DEFAULT_THEME in themes else FALLBACK_THEME
        wanted = self.requested_theme or default
        if wanted not in self.available_themes:
            self.notify(f"unknown theme {wanted!r}; using {default!r}", title="Theme", severity="warning",
                        markup=False)
            wanted = default
        self.theme = wanted

    # ----- screens -----

    def action_show(self, mode: str) -> None:
        """Switch to a screen (keys 1-5 and F1-F5, the mode bar, the palette).

        Not while a dialog is open: its keys are its own, and a dialog left on another mode's stack
        would, when dismissed, pop that mode's base screen (a key typed before the palette took the
        focus reaches the app's bindings)."""
        if len(self.screen_stack) > 1:
            return
        if mode != self.current_mode:
            self.switch_mode(mode)

    # ----- quitting -----

    async def action_quit(self) -> None:
        """q / ctrl+q. With a run going in this app, ask first (stop with a checkpoint, detach, cancel):
        a stray key must not lose a run. A viewer (attach) quits at once: its run goes on regardless."""
        bridge = self.bridge
        if not bridge.training_here:
            self.exit()
            return
        from .screens.quit_confirm import QuitConfirmScreen

        if isinstance(self.screen, QuitConfirmScreen):
            return
        config = bridge.config
        qpu = config is not None and config.requires_cost_confirmation
        self.push_screen(QuitConfirmScreen(bridge.view.run_id or "?", qpu=qpu), callback=self._quit_chosen)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice is None:
            self.notify("the run goes on", timeout=3)
            return
        if self._stop_then(choice):
            what = "then the app closes" if choice == "stop" else "then it continues headless and the app closes"
            self.notify(f"checkpointing the run, {what}", timeout=10, markup=False)

    def _stop_then(self, choice: str) -> bool:
        """Stop the run with a checkpoint, then carry out `choice` (stop: quit; detach: hand it over) when it has
        stopped (_run_over). True while it stops; a run that ended meanwhile is carried out at once."""
        self._after_run = choice
        if self.bridge.stop() or self.bridge.view.status == "stopping":
            return True
        if not self.bridge.active:
            self._run_over(self.bridge.view.status)
        return False

    def _run_over(self, status: str) -> None:
        """The run stopped (asked for by the quit dialog): quit, or hand it over to a headless process."""
        choice, self._after_run = self._after_run, None
        run_dir, run_id = self.bridge.run_dir, self.bridge.view.run_id
        if choice == "detach" and status == "stopped" and run_dir is not None:
            from .handover import continue_headless

            try:
                pid, log = continue_headless(run_dir, self.bridge.config)
            except OSError as exc:
                self.notify(f"could not start the headless run: {error_text(exc)}; it is stopped at its checkpoint "
                            f"(resume it from the Runs screen)", severity="error", timeout=15, markup=False)
                return
            self.exit(message=f"run {run_id} continues headless (pid {pid}, output in {log}); "
                              f"follow it with: qstore-tui attach {run_id}")
            return
        self.exit(message=f"run {run_id} {status}; resume it with: qstore-tui run --resume {run_id}"
                  if status == "stopped" else None, return_code=self._outside_exit_code)

    # ----- help -----

    def action_help(self) -> None:
        """The help screen of the screen shown: what it is for, its keys and the global ones."""
        top = self.screen
        pushed = _pushed_view(top)
        if len(self.screen_stack) > 1 and not pushed:
            return  # a dialog has the keys; its own footer shows them
        from .screens.help import HelpScreen

        if pushed:  # Compare or Sweep over the Runs screen: its own keys and purpose, built each time
            title = f"{dict(SCREENS).get(self.current_mode, self.current_mode)} › " \
                    f"{type(top).__name__.removesuffix('Screen')}"
            self.push_screen(HelpScreen(top, title=title, purpose=str(getattr(top, "PURPOSE", "")),
                                        screen_keys=False))
            return
        # One help screen per mode, built once and kept (installed): composing and styling a new one
        # each time cost twice a screen switch. A new keymap rebuilds them (set_keymap).
        name = f"help-{self.current_mode}"
        if self.is_screen_installed(name) and getattr(self.get_screen(name), "closing", False):
            return  # `?` again before the last one finished closing (two keys within one refresh)
        if not self.is_screen_installed(name):
            screen = self.screen
            title = dict(SCREENS).get(self.current_mode, self.current_mode)
            purpose = screen.PURPOSE if isinstance(screen, AppScreen) else ""
            self.install_screen(HelpScreen(screen, title=title, purpose=purpose), name)
        self.push_screen(name)

    def set_keymap(self, keymap: dict[str, str]) -> None:  # type: ignore[override]
        """Textual's, and the help screens (which show the keys) are built again."""
        super().set_keymap(keymap)
        for mode in self.MODES:
            name = f"help-{mode}"
            if self.is_screen_installed(name) and not any(
                    self.get_screen(name) in stack for stack in self._screen_stacks.values()):
                self.uninstall_screen(name)

    # ----- engine -----

    def action_start(self) -> None:
        """Start training with the current config (after the QPU cost confirmation if one is needed)."""
        if self.config_problems:
            fields = ", ".join(sorted(self.config_problems))
            self.notify(f"fix the marked fields first: {fields}", title="Config", severity="error", markup=False)
            self.switch_mode("config")
            return
        config = self.config
        if config.runs_dir is not None and os.path.abspath(config.runs_dir) != os.path.abspath(self.runs_dir):
            # The app's runs live in one folder (its Runs screen lists it); a run started elsewhere went there anyway
            # while its config.toml named the other folder.
            self._config_refused(ConfigError("runs_dir", f"the app keeps its runs in {self.runs_dir}; to use "
                                                         f"{config.runs_dir}, start it with --runs-dir {config.runs_dir}"))
            return
        try:
            config.check_runnable()
        except ConfigError as exc:
            # A missing cost cap is what the confirmation dialog asks for; anything else stops here.
            rest = [(f, m) for f, m in exc.problems
                    if not (config.requires_cost_confirmation and f == "max_cost_usd")]
            if rest:
                self._config_refused(ConfigError(rest[0][0], rest[0][1], problems=rest))
                return
        if config.requires_cost_confirmation:
            from .screens.cost_confirm import CostConfirmScreen

            self.push_screen(CostConfirmScreen(config), callback=self._cost_confirmed)
            return
        self._start(config)

    def _cost_confirmed(self, decision: CostDecision | None) -> None:
        if decision is None:
            self.notify("QPU run not started", severity="information")
            return
        # The cap is kept in the config; a dry run chosen in the dialog is for this start only.
        self.config = self.config.with_overrides({"max_cost_usd": repr(decision.cap_usd)})
        if decision.dry_run and not self.config.dry_run:
            self._start(self.config.with_overrides({"dry_run": "true"}))
            return
        self._start(self.config)

    def _start(self, config: TrainingConfig) -> None:
        if self._guard(partial(self.bridge.start, config)):
            self.switch_mode("training")

    def _config_refused(self, exc: ConfigError) -> None:
        self.notify(str(exc), title="Cannot start", severity="error", markup=False)
        self.switch_mode("config")
        screen = self._mode_screen("config")
        if isinstance(screen, ConfigScreen) and screen.ready:
            screen.show_problems(exc.problems)
            screen.reveal(exc.field)

    def _guard(self, call: Callable[[], None], title: str = "Cannot start", *, new_run: bool = True) -> bool:
        """Run a bridge call; refusals (busy, bad config, bad run dir) become notifications. A new run's bad
        config opens the Config screen on the field; a run directory's config does not (it is not the form's)."""
        try:
            call()
        except ConfigError as exc:
            if new_run:
                self._config_refused(exc)
            else:
                self.notify(str(exc), title=title, severity="error", markup=False)
            return False
        except BridgeBusy as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return False
        except (ValueError, OSError) as exc:
            self.notify(error_text(exc), title=title, severity="error", markup=False)
            return False
        return True

    def action_pause(self) -> None:
        """Pause training after the batch in flight."""
        if not self.bridge.pause():
            self.notify("nothing to pause", severity="warning")

    def action_resume_training(self) -> None:
        """Resume a paused run."""
        if not self.bridge.resume_training():
            self.notify("nothing to resume", severity="warning")

    def action_stop(self) -> None:
        """Stop the run: checkpoint, cancel jobs in flight."""
        if not self.bridge.stop():
            self.notify("nothing to stop", severity="warning")

    def open_run(self, run_dir: Path, how: str) -> None:
        """Open (replay), attach to (follow) or resume (continue training) a run directory."""
        call = {"open": self.bridge.open, "attach": self.bridge.attach, "resume": self.bridge.resume}[how]
        if self._guard(partial(call, run_dir), title=f"Cannot {how}", new_run=False):
            self.switch_mode("training")

    # ----- messages from the bridge -----

    def on_session_updated(self, message: SessionUpdated) -> None:
        if message.view.status == "running" and message.view is not self._frozen_for:
            self._frozen_for = message.view  # the engine is loaded now: its modules join the frozen heap
            self._freeze_heap(collect=False)  # a full collection here stalled the first frames of a run ~150 ms
        if not self._screen_stacks.get(self._current_mode):
            return  # shutting down
        screen = self.screen
        if isinstance(screen, AppScreen) and screen.ready and screen.is_attached \
                and not (screen._pruning or screen._closing):  # a screen being removed has lost its widgets
            screen.show_view(message.view)

    def on_engine_problem(self, message: EngineProblem) -> None:
        self.notify(message.message, title=f"{message.source} error", severity="error",
                    timeout=15 if message.fatal else 6, markup=False)

    def on_run_ended(self, message: RunEnded) -> None:
        if self._after_run is not None:
            self._run_over(message.status)
            return
        severity = "error" if message.status == "failed" else "information"
        detail = f": {message.message}" if message.message else ""
        self.notify(f"run {message.status}{detail}", severity=severity, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR and worker.group in ("engine", "engine-control") \
                and worker.error is not None:
            self.bridge.worker_failed(worker.error)

    # ----- command palette -----

    def action_command_palette(self) -> None:
        """Textual's palette, in a subclass that a second fast Enter cannot dismiss twice.

        Without Textual's fixed id: a palette opened just before a switch of screen (a run started, a
        refused config) stays on that screen's stack, where the user finds it on return, and a second one
        opened on the new screen raised DuplicateIds, ending the app."""
        from .screens.dismiss_once import QCommandPalette

        if self.use_command_palette and not QCommandPalette.is_open(self):
            self.push_screen(QCommandPalette())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "What this screen is for, its keys and the global ones (?)", self.action_help)
        for n, (mode, title) in enumerate(SCREENS, start=1):
            yield SystemCommand(f"Screen: {title}", f"Show the {title} screen (key {n} or F{n})",
                                partial(self.action_show, mode))
        yield SystemCommand("Training: start", "Start training with the current config", self.action_start)
        yield SystemCommand("Training: pause", "Pause after the batch in flight (p)", self.action_pause)
        yield SystemCommand("Training: resume", "Resume a paused run (r)", self.action_resume_training)
        yield SystemCommand("Training: stop", "Checkpoint and stop the run (s)", self.action_stop)
        shipped = [name for name in SHIPPED_THEMES if name in self.available_themes]  # ours first
        for name in [*shipped, *sorted(set(self.available_themes) - set(shipped))]:
            yield SystemCommand(f"Theme: {name}", f"Switch to the {name} theme", partial(self._set_theme, name),
                                discover=False)
        for mode in self.MODES:
            for title, help_text, action in screen_class(mode).PALETTE:
                yield SystemCommand(title, help_text, partial(self._on_screen, mode, action))

    def _set_theme(self, name: str) -> None:
        self.theme = name

    async def _on_screen(self, mode: str, action: str) -> None:
        """A screen's palette command: show the screen, then run its action (e.g. "preset('research')")."""
        try:
            if mode != self.current_mode:
                await self.switch_mode(mode)
            await self.run_action(action, self.screen)
        except asyncio.CancelledError:
            if _own_cancellation():
                raise

    def _mode_screen(self, mode: str) -> Screen | None:
        """The base screen of a mode if it was ever shown."""
        stack = self._screen_stacks.get(mode)
        return stack[0] if stack else None


def _pushed_view(screen: Screen) -> bool:
    """A full screen pushed over a mode's base screen (Compare, Sweep): not a dialog (a ModalScreen),
    and it says what it is for (PURPOSE), so `?` shows its help rather than nothing."""
    from textual.screen import ModalScreen

    return not isinstance(screen, (ModalScreen, AppScreen)) and bool(getattr(screen, "PURPOSE", ""))


def make_app(
    *,
    config: TrainingConfig | None = None,
    runs_dir: Path | None = None,
    attach: Path | None = None,
    demo: bool = False,
    no_mouse: bool = False,
    clock: Callable[[], float] | None = None,
    theme: str | None = None,
    testing: bool = False,
    theme_dirs: Sequence[Path] | None = None,
    keymap_file: Path | None = None,
    sweep: Path | None = None,
) -> QStoreApp:
    """The app for the CLI (`qstore-tui`, `--demo`, `attach RUN`) and for tests.

    `demo` starts a small run on the local simulator at once; `attach` follows a run directory; `sweep` opens
    the Sweep view on a study.json (`attach SWEEP`);
    `testing` turns off cursor blink and animations so snapshots are stable; `theme_dirs` replaces
    the theme search path (shipped themes, then the user's config dir); `keymap_file` the user's
    keymap (default: ~/.config/qstore/keymap.toml).
    """
    if config is None:
        config = demo_config() if demo else TrainingConfig()
    return QStoreApp(
        config=config,
        runs_dir=runs_dir,
        attach=attach,
        demo=demo,
        no_mouse=no_mouse,
        clock=clock or time.time,
        theme=theme,
        testing=testing,
        theme_dirs=default_theme_dirs() if theme_dirs is None else theme_dirs,
        keymap_file=keymap_file,
        sweep=sweep,
    )


def demo_config() -> TrainingConfig:
    """A run that shows every panel within seconds on the local simulator, offline: its store is the SQLite file
    even when PINECONE_API_KEY is set (which makes Pinecone the default store)."""
    return TrainingConfig(backend="local", dataset="moons", n_qubits=4, circuit_depth=2, n_samples=200,
                          batch_size=10, epochs=5, shots_per_circuit=1000, learning_rate=0.05, store_backend="local")


def _own_cancellation() -> bool:
    """Is a CancelledError this task's own (the app being stopped)? Otherwise it came from something an action
    awaited, such as a widget removal cancelled when its screen went away under it; Textual's message loop
    takes any CancelledError for a shutdown, so letting that one through ended the app silently (no exit
    code, no message: seen under load in the monkey test)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
