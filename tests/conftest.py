"""Shared fixtures. Circuit helpers used by several test modules live in tests/helpers.py.

- `app_factory`: the one way app tests build the app (tests/helpers.py `deterministic_app`): testing mode (no
  cursor blink, no animations), a deterministic clock, a fresh runs directory.
- `isolated_user_dirs` (autouse): HOME and the XDG directories point into the test's tmp dir, so no user theme,
  keymap, run or crash log leaks into a test or out of it.
- The developer's IONQ_API_KEY and PINECONE_API_KEY are unset when this file loads, before any fixture (a module's
  shared run included) reads them: a Pinecone key makes Pinecone the default store. A test that needs one sets it.
- Snapshot baselines are only (re)written on the one baseline set-up: `--snapshot-update` is refused unless
  QSTORE_SNAPSHOT_UPDATE=1 is set and Python and Textual are the pinned versions (as harlequin's conftest does),
  so that a different font metric or Textual release never rewrites every SVG.
"""

import os
import sys
from pathlib import Path

import pytest

for _key in ("IONQ_API_KEY", "PINECONE_API_KEY"):  # see the module docstring
    os.environ.pop(_key, None)

sys.path.insert(0, str(Path(__file__).parent))

BASELINE_PYTHON = (3, 11)
BASELINE_TEXTUAL = "8.2.8"  # pyproject.toml pins textual==8.2.8


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--snapshot-update", default=False):
        return
    import textual

    problems = []
    if os.environ.get("QSTORE_SNAPSHOT_UPDATE") != "1":
        problems.append("set QSTORE_SNAPSHOT_UPDATE=1 to say you mean it")
    if sys.version_info[:2] != BASELINE_PYTHON:
        problems.append(f"baselines are made on Python {'.'.join(map(str, BASELINE_PYTHON))}, "
                        f"this is {sys.version_info.major}.{sys.version_info.minor}")
    if textual.__version__ != BASELINE_TEXTUAL:
        problems.append(f"baselines are made with textual {BASELINE_TEXTUAL}, this is {textual.__version__}")
    if problems:
        raise pytest.UsageError("--snapshot-update refused: " + "; ".join(problems))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Freeze the heap before pytest's exit-time check for unraisable exceptions, which collects garbage five
    times: over a worker's heap (cirq, Textual, numba) that took ~11 s, past the 5 s pytest-xdist's execnet waits
    for a worker to finish before it SIGINTs it (a KeyboardInterrupt then surfaced in hypothesis's gc callback).
    Each test's own unraisable check is unchanged."""
    import gc

    gc.freeze()


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own: platformdirs (themes, keymap, runs, crash logs) resolve inside it. Caches stay
    where they are (matplotlib's font cache, playwright's browsers): rebuilding them per test would be slow."""
    monkeypatch.setenv("XDG_CACHE_HOME", os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"))
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(var, str(home / sub))
    return home


@pytest.fixture
def app_factory(tmp_path: Path):
    """Build the app for a test: `app_factory(config=..., attach=..., runs_dir=...)`; see deterministic_app."""
    from helpers import deterministic_app

    def build(**kw):
        kw.setdefault("runs_dir", tmp_path / "runs")
        return deterministic_app(**kw)

    return build
