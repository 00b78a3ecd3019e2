"""The Compare view: the selected runs' curves overlaid, EMA smoothing, log loss, groups with a band, and the
config fields that differ, on fixed run directories; keys pressed as a user does."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from engine.runs.compare import ema_smooth
from qstore_tui.screens.compare import WEIGHTS, CompareScreen
from qstore_tui.screens.runs import RunsScreen
from qstore_tui.widgets.overlay_chart import OverlayChart
from runs_fixtures import fake_run
from helpers import row_text


def three_runs(runs_dir):
    fake_run(runs_dir, "alpha", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.55, 0.70], start=1_000.0,
             learning_rate=0.1, seed=1)
    fake_run(runs_dir, "bravo", losses=[1.1, 0.9, 0.7, 0.4], val_accuracy=[0.50, 0.80], start=2_000.0,
             learning_rate=0.1, seed=2)
    fake_run(runs_dir, "charlie", losses=[1.2, 1.1, 1.0, 0.9], val_accuracy=[0.40, 0.45], start=3_000.0,
             learning_rate=0.05, seed=1)


@pytest.fixture
def runs(tmp_path):
    three_runs(tmp_path / "runs")
    return tmp_path / "runs"


async def open_compare(pilot) -> CompareScreen:
    """Runs screen (5), select every run (space on each row), compare (c)."""
    await pilot.press("5")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, RunsScreen)
    for _ in range(3):
        await pilot.press("space", "down")
    await pilot.press("c")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CompareScreen)
    return screen


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def labels(chart: OverlayChart) -> list[str]:
    return [s.label for s in chart.series if not s.dim]


async def test_compare_overlays_smooths_groups_and_diffs(runs, app_factory):
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        loss = screen.query_one("#loss", OverlayChart)
        assert sorted(labels(loss)) == ["alpha", "bravo", "charlie"]
        alpha = next(s for s in loss.series if s.label == "alpha")
        assert list(alpha.y) == [1.0, 0.8, 0.6, 0.5]  # raw: EMA 0
        diffs = screen.query_one("#diffs", DataTable)
        fields = [row_text(diffs, i)[0] for i in range(diffs.row_count)]
        assert fields == ["learning_rate", "seed"]

        await pilot.press("plus", "plus")
        await settle(pilot)
        assert screen.smoothing == WEIGHTS[2]
        alpha = next(s for s in screen.query_one("#loss", OverlayChart).series if s.label == "alpha")
        assert list(alpha.y) == pytest.approx(ema_smooth([1.0, 0.8, 0.6, 0.5], WEIGHTS[2]))
        await pilot.press("minus", "minus", "minus")  # clamps at 0
        await settle(pilot)
        assert screen.smoothing == 0.0

        await pilot.press("l")
        assert loss.log_y and "(log)" in str(loss.border_title)

        await pilot.press("g")  # group by learning_rate: two groups, mean with a min-max band
        await settle(pilot)
        assert screen.group_by == "learning_rate"
        series = screen.query_one("#loss", OverlayChart).series
        assert labels(screen.query_one("#loss", OverlayChart)) == ["learning_rate=0.05 (n=1)",
                                                                    "learning_rate=0.1 (n=2)"]  # table order
        mean, lo, hi = series[3], series[4], series[5]
        assert list(mean.y) == pytest.approx([1.05, 0.85, 0.65, 0.45])
        assert list(lo.y) == [1.0, 0.8, 0.6, 0.4] and list(hi.y) == [1.1, 0.9, 0.7, 0.5]
        await pilot.press("b")  # ±1 std
        await settle(pilot)
        mean, lo = screen.query_one("#loss", OverlayChart).series[3:5]
        assert list(lo.y) == pytest.approx([m - 0.05 for m in mean.y])

        await pilot.press("x")  # epoch axis: one point per epoch
        await settle(pilot)
        assert screen.axis == "epoch"
        assert len(screen.query_one("#val", OverlayChart).series[0].x) == 2

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)



def _dots_point_by_point(series, log_y, width, height):
    """The chart's dots as drawn before: every point mapped, a line to the next (the reference)."""
    import math

    from qstore_tui.widgets.line_chart import _DOTS

    pts = [[(float(x), math.log10(y) if log_y else float(y)) for x, y in zip(s.x, s.y)
            if math.isfinite(y) and not (log_y and y <= 0)] for s in series]
    xs, ys = [x for p in pts for x, _ in p], [y for p in pts for _, y in p]
    x0, x1, lo, hi = min(xs), max(xs), min(ys), max(ys)
    cols, rows = width * 2, height * 4
    bits = [[0] * width for _ in range(height)]
    for p in pts:
        cells = [(0 if x1 == x0 else round((x - x0) / (x1 - x0) * (cols - 1)),
                  min(rows - 1, max(0, round((hi - y) / (hi - lo) * (rows - 1))))) for x, y in p]
        for (ax, ay), (bx, by) in list(zip(cells, cells[1:])) or [(cells[0], cells[0])]:
            n = max(abs(bx - ax), abs(by - ay), 1)
            for k in range(n + 1):
                dx, dy = round(ax + (bx - ax) * k / n), round(ay + (by - ay) * k / n)
                bits[dy // 4][dx // 2] |= _DOTS[dy % 4][dx % 2]
    return bits


class ChartApp(App[None]):
    """One OverlayChart alone, to test its drawing."""

    def compose(self) -> ComposeResult:
        yield OverlayChart("loss", id="chart")


@pytest.mark.parametrize("log_y", [False, True])
async def test_a_long_curve_draws_the_same_dots_as_point_by_point(log_y):
    """The chart cuts each run of points in one dot column to four; the picture must not change."""
    import numpy as np

    from qstore_tui.widgets.line_chart import _BRAILLE_BASE
    from qstore_tui.widgets.overlay_chart import Series

    rng = np.random.default_rng(3)
    steps = np.arange(20_000)
    noisy = np.exp(-steps / 4000) * (1 + 0.3 * rng.standard_normal(steps.size)) + 0.01
    noisy[[5, 900, 12_000]] = [np.nan, np.inf, -1.0]  # left out (and -1 under log)
    series = [Series("a", steps.tolist(), noisy.tolist(), "#ffffff"),
              Series("b", steps[::7].tolist(), (0.5 + 0.1 * np.sin(steps[::7] / 300)).tolist(), "#ff0000"),
              Series("c", [3.0], [0.2], "#00ff00")]

    app = ChartApp()
    async with app.run_test(size=(100, 20)) as pilot:
        chart = app.query_one(OverlayChart)
        chart.set_series(series, log_y=log_y)
        await pilot.pause()
        width, height = chart.content_region.width - 8, chart.content_region.height - 1
        lines = chart.render().plain.splitlines()[:height]
        got = [[ord(ch) - _BRAILLE_BASE if ch != " " else 0 for ch in line[8:8 + width]] for line in lines]
    assert got == _dots_point_by_point(series, log_y, width, height)


async def test_a_legend_too_long_for_the_chart_says_how_many_it_left_out_and_keeps_the_axis_end():
    """14 groups at 80 columns: the legend was cut at the edge, the x axis's end with it; two groups of one field
    name the field once, so both fit (at 120 columns the second was cut before)."""
    from qstore_tui.widgets.overlay_chart import Series

    series = [Series(f"learning_rate={0.01 * (i + 1):g} (n=1)", [1.0, 10.0], [0.5, 0.6 + i / 100], "#ffffff")
              for i in range(14)]

    app = ChartApp()
    async with app.run_test(size=(80, 12)) as pilot:
        chart = app.query_one(OverlayChart)
        chart.set_series(series)
        await pilot.pause()
        legend = chart.render().plain.splitlines()[-1]
        assert len(legend) <= chart.content_region.width
        shown = legend.count("━")
        assert shown >= 1 and f"+{14 - shown} more" in legend and legend.rstrip().endswith("→ 10.000")
        chart.set_series(series[:2])  # two fit: no "more"
        await pilot.pause()
        legend = chart.render().plain.splitlines()[-1]
        assert legend.count("━") == 2 and "more" not in legend and legend.rstrip().endswith("→ 10.000")
        assert legend.count("learning_rate") == 1 and "━ 0.01 (n=1)" in legend  # the group's field said once


async def test_names_tags_and_paths_that_look_like_markup_are_shown_as_they_are(tmp_path, app_factory):
    """DataTable parses a str cell as markup: a hand-edited tag `[/]` or a data set under `a[/b]/` crashed the Runs
    and Compare screens (MarkupError), and a run folder `exp[old]2` showed as `exp2`. Runs, Compare and the Report
    screen's picker show them as they are."""
    from textual.widgets import Select

    runs = tmp_path / "runs"
    data = tmp_path / "a[" / "b]" / "x.csv"  # a[/b]/x.csv: a closing tag to a markup parser
    data.parent.mkdir(parents=True)
    data.write_text("x,label\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(20)))
    fake_run(runs, "exp[b]1", losses=[1.0, 0.5], val_accuracy=[0.5], dataset="csv", dataset_path=data, start=1.0)
    b = fake_run(runs, "exp[old]2", losses=[1.0, 0.4], val_accuracy=[0.6], start=2.0)
    (b / "tags.json").write_text('{"tags": ["[/]", "[bold red]x"]}')  # edited by hand: not what `t` allows
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        shown = {str(c) for key in table.rows for c in table.get_row(key)}
        assert {"exp[b]1", "exp[old]2", "[/],[bold red]x"} <= shown
        await pilot.press("space", "down", "space", "c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        diffs = screen.query_one("#diffs", DataTable)
        assert {str(c.label) for c in diffs.columns.values()} >= {"exp[b]1", "exp[old]2"}
        assert str(data) in {str(c) for key in diffs.rows for c in diffs.get_row(key)}
        await pilot.press("escape", "4")
        await settle(pilot)
        picker = app.screen.query_one("#run", Select)
        assert {str(prompt) for prompt, _ in picker._options} >= {"exp[b]1  completed", "exp[old]2  completed"}


async def test_a_diverging_runs_huge_losses_group_and_an_unexpected_error_is_said(tmp_path, app_factory, monkeypatch):
    """1e200 losses squared overflowed the std (OverflowError): the worker died, and `g` left the old chart up with
    no word. Now the group draws; and any error the view does not expect is a notification with a crash log."""
    runs = tmp_path / "runs"
    fake_run(runs, "alpha", losses=[1.0, 1e200, 0.6, 0.5], val_accuracy=[0.5, 0.6], start=1.0, learning_rate=0.1)
    fake_run(runs, "bravo", losses=[1.0, -1e200, 0.7, 0.4], val_accuracy=[0.5, 0.7], start=2.0, learning_rate=0.1)
    fake_run(runs, "charlie", losses=[1.0, 0.9, 0.8, 0.7], val_accuracy=[0.5, 0.5], start=3.0, learning_rate=0.05)
    app = app_factory(runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("space", "down", "space", "down", "space", "c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await pilot.press("b", "g")  # a std band, grouped by learning_rate
        await settle(pilot)
        assert screen.group_by == "learning_rate"
        assert "learning_rate=0.1 (n=2)" in labels(screen.query_one("#loss", OverlayChart))
        big = next(g for g in screen.comparison.groups["loss"] if g.value == "0.1")
        assert big.std[1] == pytest.approx(1e200) and big.mean[1] == 0.0

        import engine.runs.compare as compare
        monkeypatch.setattr(compare, "compare_runs", lambda *a, **k: 1 / 0)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        await pilot.press("g")
        await settle(pilot)
        texts = [n.message for n in app._notifications]
        assert any("internal error in the compare view: ZeroDivisionError" in t and "crash log:" in t for t in texts)
