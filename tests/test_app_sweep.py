"""The Sweep view: trials (state, parameters, objective, duration), the best trial, objective per trial and
parameter importances, from a fixed study.json; a rewrite of the file shows up live."""

from __future__ import annotations

import time

from textual.widgets import DataTable

from engine.runs.tags import SweepTag
from engine.sweep.summary import SweepSummary, TrialRow, write_summary
from qstore_tui.screens.runs import RunsScreen
from qstore_tui.screens.sweep import SweepScreen
from qstore_tui.widgets.line_chart import LineChart
from runs_fixtures import fake_run
from helpers import row_text


def trial(n, state, lr, value, run_id=None):
    return TrialRow(number=n, state=state, params={"learning_rate": lr, "optimizer": "adam"}, value=value,
                    duration_s=None if value is None else 2.0 + n, run_id=run_id, host="h")


def summary(trials, importances=None):
    done = [t for t in trials if t.value is not None]
    best = max(done, key=lambda t: t.value) if done else None
    counts = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    return SweepSummary(study="lr-scan", storage="sqlite:///x", direction="maximize", objective="val_accuracy",
                        planned=4, counts=counts, trials=trials, best=best, spent_usd=0.0, max_cost_usd=None,
                        stopped=None, finished=not counts.get("running"), importances=importances or {})


def a_sweep(runs_dir):
    fake_run(runs_dir, "lr-scan-t0", losses=[1.0, 0.7], val_accuracy=[0.6], start=1_000.0,
             sweep=SweepTag(study="lr-scan", trial=0, state="complete", objective=0.6))
    fake_run(runs_dir, "lr-scan-t1", losses=[1.0, 0.5], val_accuracy=[0.8], start=2_000.0,
             sweep=SweepTag(study="lr-scan", trial=1, state="complete", objective=0.8))
    return write_summary(runs_dir, summary([trial(0, "complete", 0.01, 0.6, "lr-scan-t0"),
                                            trial(1, "complete", 0.1, 0.8, "lr-scan-t1"),
                                            trial(2, "running", 0.05, None, "lr-scan-t2"),
                                            trial(3, "waiting", 0.2, None)]))


async def test_sweep_view_live_from_the_runs_screen(tmp_path, app_factory):
    runs = tmp_path / "runs"
    path = a_sweep(runs)
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("w")  # the cursor run is a trial of lr-scan
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepScreen) and screen.path == path
        table = screen.query_one("#trials", DataTable)
        assert [row_text(table, i)[:3] for i in range(4)] == [
            ["0", "complete", "0.6"], ["1", "complete", "0.8"], ["2", "running", "-"], ["3", "waiting", "-"]]
        assert row_text(table, 1)[4] == "learning_rate=0.1 optimizer=adam"
        head = str(screen.query_one("#head").render())
        assert "best: trial 1 val_accuracy=0.8" in head and "2/4" not in head and "4/4 trials" in head
        assert screen.query_one("#objective", LineChart).values == [0.6, 0.8]
        assert "after enough completed trials" in str(screen.query_one("#importances").render())

        time.sleep(0.01)  # a new mtime
        write_summary(runs, summary([trial(0, "complete", 0.01, 0.6, "lr-scan-t0"),
                                     trial(1, "complete", 0.1, 0.8, "lr-scan-t1"),
                                     trial(2, "complete", 0.05, 0.9, "lr-scan-t2"),
                                     trial(3, "running", 0.2, None)],
                                    importances={"learning_rate": 0.9, "optimizer": 0.1}))
        screen.reload()  # what the 1 s timer does
        await pilot.pause()
        assert row_text(table, 2)[:3] == ["2", "complete", "0.9"]
        assert "best: trial 2" in str(screen.query_one("#head").render())
        imp = str(screen.query_one("#importances").render()).splitlines()
        assert imp[0].split()[0] == "learning_rate" and imp[0].endswith("0.90")

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("w", "down", "o")  # open trial 1's run
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.current_mode == "training" and app.bridge.view.run_id == "lr-scan-t1"



async def test_the_sweep_view_says_when_an_unfinished_sweeps_runner_is_gone(tmp_path, app_factory):
    import socket
    import subprocess
    import sys

    runs = tmp_path / "runs"
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    s = summary([trial(0, "running", 0.01, None)])
    s.writer_host, s.writer_pid = socket.gethostname(), runner.pid
    path = write_summary(runs, s)
    app = app_factory(runs_dir=runs)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = SweepScreen(path)
            await app.push_screen(screen)
            await pilot.pause()
            assert "· running ·" in str(screen.query_one("#head").render())
            runner.kill()  # killed: its study.json never changes again
            runner.wait()
            screen.reload()  # what the 1 s timer does, on an unchanged file
            await pilot.pause()
            head = str(screen.query_one("#head").render())
            assert "stopped: its runner exited (resume with sweep --study lr-scan)" in head
    finally:
        runner.kill()
        runner.wait()


async def test_the_sweep_view_refreshes_itself_and_opens_a_running_trial_live(tmp_path, app_factory):
    from textual.widgets import DataTable

    runs = tmp_path / "runs"
    fake_run(runs, "lr-scan-t0", losses=[1.0, 0.9, 0.8], status=None,  # trial 0's run, still being written
             sweep=SweepTag(study="lr-scan", trial=0, state="running", objective=None))
    path = write_summary(runs, summary([trial(0, "running", 0.01, None, "lr-scan-t0"), trial(1, "waiting", 0.1, None)]))
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = SweepScreen(path)
        await app.push_screen(screen)
        await pilot.pause()
        table = screen.query_one("#trials", DataTable)
        assert row_text(table, 1)[:2] == ["1", "waiting"]
        time.sleep(0.01)
        write_summary(runs, summary([trial(0, "running", 0.01, None, "lr-scan-t0"), trial(1, "running", 0.1, None)]))
        deadline = time.monotonic() + 3  # the screen's own 1 s timer, no reload() from the test
        while row_text(table, 1)[1] != "running" and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert row_text(table, 1)[:2] == ["1", "running"]
        table.move_cursor(row=0)
        await pilot.press("o")  # the running trial: followed live, not opened as it stands
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.current_mode == "training"
        assert app.bridge.view.source == "attach" and app.bridge.view.run_id == "lr-scan-t0"
