"""Resuming in the app continues the run's history: the timer is the run's training time, the sum of its
segments, never the hours between a kill and the resume (issue 12)."""

from __future__ import annotations

import time

from engine.events import RunStarted
from engine.runs import read_events
from helpers import APP_T0
from qstore_tui.widgets.run_progress import RunProgress, _clock
from runs_fixtures import fake_run

DOWNTIME_S = 7_200.0  # killed two hours before the app (its clock starts at APP_T0) resumes it


async def test_a_killed_run_resumed_in_the_app_times_its_segments_not_the_downtime(tmp_path, app_factory):
    run_dir = fake_run(tmp_path, "killed", losses=[1.0, 0.9], status=None, start=APP_T0 - DOWNTIME_S,
                       n_samples=12, batch_size=5, embeddings_to_store=False, use_native_gates=False)
    history = read_events(run_dir)
    first_segment_s = history[-1].time - history[0].time  # RunStarted to its last event (then the kill)
    app = app_factory(runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_run(run_dir, "resume")
        deadline = time.monotonic() + 30
        while app.bridge.view.finished is None:
            assert time.monotonic() < deadline, "the resumed run did not end"
            await pilot.pause(0.05)
        await pilot.pause()
        view = app.bridge.view
        assert view.status == "completed", view.finished
        assert view.elapsed_s is not None and view.elapsed_s < DOWNTIME_S
        assert abs(view.elapsed_s - (first_segment_s + view.finished.wall_s)) < 1e-6
        shown = str(app.screen.query_one(RunProgress).render())
        assert f"completed {_clock(view.elapsed_s)}" in shown, shown
    assert len([e for e in read_events(run_dir) if isinstance(e, RunStarted)]) == 2
