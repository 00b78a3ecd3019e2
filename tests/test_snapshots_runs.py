"""Snapshots of the Runs table, the Compare view and the Sweep view at 80x24 and 120x40, from fixed run
directories (tests/runs_fixtures.py) and a fixed study.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import deterministic_app
from qstore_tui.themes import default_theme_dirs
from test_app_compare import three_runs
from test_app_sweep import a_sweep

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A relative path, so the line naming the runs directory is the same everywhere."""
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return Path("runs")


def app_for(runs_dir: Path):
    return deterministic_app(runs_dir=runs_dir, clock=lambda: 1_700_000_000.0,
                             theme_dirs=default_theme_dirs()[:1])


async def runs_screen(pilot) -> None:
    await pilot.press("5")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_runs_table(snap_compare, runs_dir, size):
    three_runs(runs_dir)
    from runs_fixtures import fake_run

    fake_run(runs_dir, "delta", losses=[1.3], start=4_000.0, status=None, tags=["wip"], cost_usd=1.25)  # killed

    async def run_before(pilot) -> None:
        await runs_screen(pilot)
        await pilot.press("down", "space", "down", "space")

    assert snap_compare(app_for(runs_dir), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_view(snap_compare, runs_dir, size):
    three_runs(runs_dir)

    async def run_before(pilot) -> None:
        await runs_screen(pilot)
        await pilot.press("space", "down", "space", "down", "space", "c")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.press("g")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app_for(runs_dir), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_sweep_view(snap_compare, runs_dir, size):
    a_sweep(runs_dir)

    async def run_before(pilot) -> None:
        await runs_screen(pilot)
        await pilot.press("w")
        await pilot.pause()

    assert snap_compare(app_for(runs_dir), terminal_size=size, run_before=run_before)
