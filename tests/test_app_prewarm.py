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
    """The modes whose screens the app starts composing (Textual's `_init_mode`), in order, as they start."""
    init_mode = app._init_mode
    composing: list[str] = []

    def recording_init_mode(mode):
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


@pytest.mark.parametrize("after_s", [0.0, 0.02])
@pytest.mark.parametrize("nth", [1, 4])
async def test_an_exit_while_a_screen_is_composed_in_the_background_ends_the_app_cleanly(tmp_path, nth, after_s):
    """Before the fix the exit closed the half-composed screen's widgets under its mount handlers: NoMatches, a
    crash log and exit code 1 for an app quit in its first second. The exit comes from another task (as the timer's
    is), once the nth background screen has started mounting."""
    app = _live_app(tmp_path / "runs")
    composing = _record_background_composes(app)
    async with app.run_test(size=(80, 24)):
        await _until(lambda: len(composing) >= nth)
        await asyncio.sleep(after_s)  # the mount under way
        composing_now = app._prewarming
        app.exit(return_code=3)
        if composing_now:  # deferred until that screen is composed, then carried out as asked
            assert not app._exit
        await _until(lambda: not app.is_running)
    assert app.crash is None
    assert app.return_code == 3  # the exit's own code, not a crash's 1


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
