"""The app composes the screens not shown yet in the background after its first frame (not in testing mode, where
snapshots must not race it); quitting while it does must end the app cleanly."""

import asyncio
import gc

import pytest

from helpers import TickingClock


def _live_app(runs_dir):
    from qstore_tui.app import make_app

    return make_app(runs_dir=runs_dir, testing=False, clock=TickingClock())


async def _until(predicate, timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.001)


def _record_background_composes(app) -> list[str]:
    """The modes whose screens the app starts composing in the background (Textual's `_init_mode`, which also
    builds the screens that are shown), in order, as they start."""
    init_mode = app._init_mode
    composing: list[str] = []

    def recording_init_mode(mode):
        if app._prewarming:
            composing.append(mode)
        return init_mode(mode)

    app._init_mode = recording_init_mode
    return composing


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    gc.unfreeze()  # the live app freezes the heap when its screens are composed; the policy is process-wide


async def test_every_screen_is_composed_in_the_background_after_the_first_frame(tmp_path):
    app = _live_app(tmp_path / "runs")
    async with app.run_test(size=(80, 24)):
        await _until(lambda: set(app.MODES) <= set(app._screen_stacks))
        assert app.current_mode == "config"  # composed, not shown
        assert app.crash is None


async def test_an_exit_right_after_the_first_frame_starts_no_more_background_composes_and_ends_cleanly(tmp_path):
    """Before the fix the timer's next compose still started after an exit, and the exit closed that screen's
    widgets under its mount handlers: NoMatches, a crash log and exit code 1 for an app quit in its first second."""
    from qstore_tui.screens.config import ConfigScreen

    app = _live_app(tmp_path / "runs")
    composing = _record_background_composes(app)
    display, drawn = app._display, []

    def first_frame_noted(screen, renderable):  # as bench/tui.py notes the first frame
        if renderable is not None and isinstance(screen, ConfigScreen) and screen.ready:
            drawn.append(True)
        return display(screen, renderable)

    app._display = first_frame_noted
    started_before_the_exit: list[str] = []

    async def quit_at_the_first_frame(pilot) -> None:  # as bench/tui.py's child quits (the pilot's own run differs)
        await _until(lambda: bool(drawn))
        app.exit(return_code=3)
        started_before_the_exit.extend(composing)  # at most the one under way, which the exit waits for

    await app.run_async(headless=True, size=(80, 24), auto_pilot=quit_at_the_first_frame)
    assert composing == started_before_the_exit and len(composing) <= 1
    assert app.crash is None
    assert app.return_code == 3  # the exit's own code, not a crash's 1


@pytest.mark.parametrize("nth", [4])  # the fourth screen composed (runs) is the one that crashed
async def test_an_exit_while_a_screen_is_composed_in_the_background_waits_for_it_and_ends_cleanly(tmp_path, nth):
    """The exit comes while the nth background screen is composed (`_init_mode` returns at once; the screen mounts
    in its own task): it waits until that screen has mounted, then the app exits with the exit's own code."""
    app = _live_app(tmp_path / "runs")
    init_mode = app._init_mode
    composed: list[str] = []

    def exiting_init_mode(mode):
        if not app._prewarming:  # a screen shown, not one composed in the background
            return init_mode(mode)
        composed.append(mode)
        waiter = init_mode(mode)
        if len(composed) == nth:
            app.exit(return_code=3)
            assert not app._exit  # deferred
        return waiter

    app._init_mode = exiting_init_mode
    async with app.run_test(size=(80, 24)):
        await _until(lambda: not app.is_running)
    assert len(composed) == nth  # nothing composed after the exit
    assert app.crash is None
    assert app.return_code == 3


async def test_serves_exit_during_a_background_compose_ends_the_app_cleanly(tmp_path):
    """The web driver of `serve` posts Textual's ExitApp itself (the page went away) without exit()."""
    from textual.messages import ExitApp

    app = _live_app(tmp_path / "runs")
    composing = _record_background_composes(app)
    async with app.run_test(size=(80, 24)):
        await _until(lambda: len(composing) >= 4)
        app.post_message(ExitApp())
        await _until(lambda: not app.is_running)
    assert app.crash is None
    assert app.return_code == 0


async def test_serves_exit_while_a_run_trains_stops_it_at_a_checkpoint(tmp_path, app_factory):
    from textual.messages import ExitApp

    from engine.events import RunFinished
    from engine.runs import read_events
    from test_app_help_quit import long_run, until

    app = app_factory(config=long_run(), runs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_start()
        await until(pilot, lambda: app.bridge.view.step >= 3)
        app.post_message(ExitApp())
        await until(pilot, lambda: not app.is_running)
    finished = read_events(app.bridge.run_dir)[-1]
    assert isinstance(finished, RunFinished) and finished.status == "stopped"
    assert f"checkpoint written at step {finished.steps}" in finished.message
    assert app.crash is None and app.return_code == 0
