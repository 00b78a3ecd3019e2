"""A monkey at the keyboard: seeded random key presses on every screen, while a run trains and after
it ends, at 80x24 and 120x40. Nothing may raise, and the app must still switch screens afterwards.

Most keys are posted straight to the app's queue without waiting for a refresh (faster than any
typist, so handlers race their own mounts and removals); now and then the monkey waits for the app
to settle, as a human who pauses would. Quit keys are left out (quitting is not a crash); so is the
palette's Quit command, for the same reason.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
import unicodedata

import pytest
from textual import events
from textual.widgets import Input
from textual.widgets._select import SelectOverlay

from engine.config import TrainingConfig
from qstore_tui.app import QStoreApp

KEYS_PER_SEED = 1500
SPECIAL = ["enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "space", "backspace",
           "ctrl+p", "ctrl+s", "ctrl+o", "ctrl+r", "f1", "f2", "f3", "f4", "f5", "question_mark"]
PRINTABLE = [c for c in string.ascii_letters + string.digits + "-.,_/" if c not in "qQ"]
# Navigation, Enter and Escape weigh double; screen switches (digits, F-keys: ~10% of keys, plus a forced one
# now and then) are the dearest keys, so they are not weighted up: every screen still sees hundreds of keys.
KEYS = PRINTABLE + [k for k in SPECIAL if k != "ctrl+p" and not k.startswith("f")] * 2 + \
    [k for k in SPECIAL if k.startswith("f")] + ["ctrl+p"]

# Seeds that found crashes, kept so that they stay fixed (timing varies between runs, so a seed finds its
# race often, not always). Key sequences are seeded; what each found while this test was written:
SEEDS = {
    0: "a palette dismissed twice by two fast Enters (ScreenStackError); a key reaching the app bindings before "
       "the palette took the focus; the palette's search outliving it (NoMatches); a help screen pushed again "
       "while closing; "
       "a session update drawn on the Report screen while the app's shutdown was removing its widgets (NoMatches)",
    1: "a palette mounted after a screen switch (IndexError in Textual's CommandPalette._on_mount); an action "
       "in the app's task awaiting work cancelled under it, which Textual's loop took for a shutdown (the app "
       "ended silently; seen under load): the Config form's swap, cancelled midway by the next load; a search's "
       "busy timer firing while the palette was removed (NoMatches in Textual's _watch__show_busy)",
    2: "keys and session updates arriving while the app shut down (ScreenStackError: no screens); a palette "
       "opened on a screen just left, then one on the new screen (DuplicateIds, found by CI)",
}


def run_config() -> TrainingConfig:
    """Long enough to be running through the first half of the keys, small enough to be cheap."""
    return TrainingConfig(backend="local", n_qubits=3, circuit_depth=1, shots_per_circuit=0, epochs=200,
                          n_samples=40, batch_size=8, embeddings_to_store=False, log_interval=1)


def key_event(key: str) -> events.Key:
    char: str | None
    try:
        char = unicodedata.lookup(key.upper().replace("_", " "))
    except KeyError:
        char = key if len(key) == 1 else None
    if key == "space":
        char = " "
    return events.Key(key, char)


def send(app: QStoreApp, key: str) -> None:
    """Post a key as the terminal driver would, without waiting for anything."""
    event = key_event(key)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def settle(app: QStoreApp, timeout: float = 0.5) -> None:
    """Until the app has handled what it was sent (`pilot.pause` waits for an idle CPU, which never
    comes while a run trains)."""
    deadline = time.monotonic() + timeout
    await asyncio.sleep(0.005)
    while time.monotonic() < deadline and app._message_queue.qsize():
        await asyncio.sleep(0.005)


async def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def monkey(app: QStoreApp, rng: random.Random, n: int) -> None:
    """`n` random keys: bursts posted without waiting, an occasional settle, a screen key now and then."""
    sent = 0
    while sent < n and app.is_running:
        for _ in range(rng.randint(1, 40)):
            send(app, rng.choice(KEYS))
            sent += 1
        if rng.random() < 0.2:
            await settle(app)  # as a typist who stops to read
        else:
            await asyncio.sleep(0)
        if rng.random() < 0.05:  # every screen gets its share
            send(app, rng.choice("12345"))


async def escape_to_screen(app: QStoreApp, pilot) -> None:
    """What a user does: Escape until no dialog is open and no input or open menu has the keys."""
    for _ in range(6):
        if len(app.screen_stack) == 1 and not isinstance(app.focused, (Input, SelectOverlay)):
            return
        await pilot.press("escape")
        await settle(app)


async def back_to_screens(app: QStoreApp, pilot) -> None:
    """Escape out of dialogs and inputs, then 1-5 (and F1-F5) must switch screens."""
    for key, mode in (("2", "training"), ("3", "compiler"), ("1", "config"), ("f5", "runs"), ("4", "report")):
        for _ in range(2):  # a key typed while a menu was still closing went to the menu: type it again
            await escape_to_screen(app, pilot)
            await pilot.press(key)
            await settle(app)
            if app.current_mode == mode:
                break
        assert app.current_mode == mode, (
            f"key {key} did not switch to {mode}: on {app.current_mode}, stacks {app._screen_stacks}, "
            f"focus {app.focused!r}, bound to {[b.binding.action for k, b in app.active_bindings.items() if k == key]}")


@pytest.fixture(autouse=True)
def quiet(monkeypatch, tmp_path):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # ctrl+s saves qstore.toml, the palette's screenshot an SVG, here
    # The palette's Quit command is a quit key in disguise.
    monkeypatch.setattr(QStoreApp, "action_quit", _no_quit)


def exit_reason(app: QStoreApp) -> str:
    return f"exception {app._exception!r}, return code {app.return_code}, crash {app.crash!r}"


async def _no_quit(self) -> None:
    self.notify("quit (ignored by the monkey test)")


@pytest.mark.parametrize("seed", list(SEEDS))
async def test_random_keys_never_crash_the_app(tmp_path, seed, app_factory):
    """Per seed: half the keys while a run trains, half after it ended, each half split between
    80x24 and 120x40 (the resize itself lands mid-burst)."""
    rng = random.Random(seed)
    app = app_factory(config=run_config(), runs_dir=tmp_path / "runs")
    quarter = KEYS_PER_SEED // 4
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_start()
        await pilot.pause()
        assert app.bridge.active
        await monkey(app, rng, quarter)  # while the run trains
        await pilot.resize_terminal(120, 40)
        await monkey(app, rng, quarter)
        await settle(app, timeout=5)
        assert app.is_running, f"the app exited: {exit_reason(app)}"
        app.bridge.stop()
        await until(lambda: not app.bridge.active)
        await monkey(app, rng, quarter)  # after it ended
        await pilot.resize_terminal(80, 24)
        await monkey(app, rng, KEYS_PER_SEED - 3 * quarter)
        await settle(app, timeout=5)
        assert app.is_running, f"the app exited: {exit_reason(app)}"
        await back_to_screens(app, pilot)
    assert app._exception is None
