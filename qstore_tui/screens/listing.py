"""Listing the runs directory for a screen: run in a worker thread (it reads every run's events), posted back
as one RunsListed message; the Runs screen shows it as a table, the Report screen as its run picker."""

from __future__ import annotations

from pathlib import Path

from textual.screen import Screen

from engine.fileio import error_text

from ..messages import RunsListed


def runs_listed(runs_dir: Path) -> RunsListed:
    """The runs in `runs_dir`, newest first, or the reason they could not be read (for the worker to post)."""
    from engine.runs import list_runs

    try:
        return RunsListed(list_runs(runs_dir))
    except (ValueError, OSError) as exc:
        return RunsListed([], error_text(exc))


def notify_listing_error(screen: Screen[object], message: RunsListed) -> None:
    """Say why the runs directory could not be read (the list shown is then empty)."""
    if message.error:
        screen.notify(message.error, title="Runs", severity="error", markup=False)
