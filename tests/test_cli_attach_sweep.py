"""`qstore-tui attach SWEEP`: the app opens on the sweep's Sweep view (over Runs); without a terminal it follows
the sweep in the terminal as before."""

from textual.widgets import DataTable

from helpers import row_text

from engine.sweep.summary import SweepSummary, TrialRow, summary_path, write_summary
from qstore_tui.cli import main
from qstore_tui.screens.runs import RunsScreen
from qstore_tui.screens.sweep import SweepScreen


def a_finished_sweep(runs_dir):
    trials = [TrialRow(number=0, state="complete", params={"learning_rate": 0.01}, value=0.6, duration_s=2.0,
                       run_id="t0", host="h"),
              TrialRow(number=1, state="complete", params={"learning_rate": 0.1}, value=0.8, duration_s=3.0,
                       run_id="t1", host="h")]
    return write_summary(runs_dir, SweepSummary(
        study="lr-scan", storage="sqlite:///x", direction="maximize", objective="val_accuracy", planned=2,
        counts={"complete": 2}, trials=trials, best=trials[1], spent_usd=0.0, max_cost_usd=None, stopped=None,
        finished=True))


async def test_an_app_made_with_a_sweep_opens_on_its_sweep_view_over_runs(tmp_path, app_factory):
    runs = tmp_path / "runs"
    path = a_finished_sweep(runs)
    app = app_factory(runs_dir=runs, sweep=path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepScreen) and screen.path == path and app.current_mode == "runs"
        table = screen.query_one("#trials", DataTable)
        assert [row_text(table, i)[:3] for i in range(table.row_count)] == [["0", "complete", "0.6"],
                                                                                ["1", "complete", "0.8"]]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


class _FakeApp:
    return_code = 0

    def __init__(self, calls, kw):
        self.calls, self.kw = calls, kw

    def run(self, **kw):
        self.calls.append((self.kw, kw))


def test_attach_on_a_sweep_opens_the_app_in_a_terminal_and_follows_it_without_one(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    a_finished_sweep(runs)
    calls = []
    monkeypatch.setattr("qstore_tui.app.make_app", lambda **kw: _FakeApp(calls, kw))
    monkeypatch.setattr("qstore_tui.cli.options.have_terminal", lambda: True)
    assert main(["attach", "lr-scan", "--runs-dir", str(runs), "--no-mouse"]) == 0
    [(made, ran)] = calls
    assert made["sweep"] == summary_path(runs, "lr-scan") and made["attach"] is None and ran == {"mouse": False}

    assert main(["attach", "lr-scan", "--headless", "--runs-dir", str(runs)]) == 0  # the terminal follow
    out = capsys.readouterr().out
    assert "trial   1 complete" in out and "best: trial 1" in out and len(calls) == 1
