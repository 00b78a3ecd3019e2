"""Plots: a run's curves and a comparison's overlay as PNG and SVG, and the report files that embed them."""

import base64
import re

from engine.runs.compare import compare_runs
from engine.runs.plots import comparison_plots, run_plots
from engine.runs.report_files import write_report_files
from runs_fixtures import fake_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_a_run_draws_loss_and_accuracy_as_png_and_svg_the_same_bytes_each_time(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    plots = run_plots(run)
    assert [p.png.name for p in plots] == ["loss.png", "accuracy.png"]
    for p in plots:
        assert p.png.read_bytes().startswith(PNG_MAGIC) and p.png.parent == run / "plots"
        svg = p.svg.read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "validation" in svg
    first = plots[0].svg.read_bytes()
    assert run_plots(run)[0].svg.read_bytes() == first  # no date, fixed ids


def test_a_comparison_overlays_one_line_per_run_or_a_band_per_group(tmp_path):
    dirs = [fake_run(tmp_path, f"r{i}", losses=[1.0, 0.6 + i / 10], val_accuracy=[0.5 + i / 10], seed=i % 2,
                     learning_rate=0.1 if i < 2 else 0.01) for i in range(3)]
    overlay = comparison_plots(compare_runs(dirs), tmp_path / "out", log_loss=True)
    assert [p.svg.name for p in overlay] == ["compare-loss.svg", "compare-val_accuracy.svg"]
    svg = overlay[0].svg.read_text()
    assert all(f"r{i}" in svg for i in range(3))  # the legend names every run
    grouped = comparison_plots(compare_runs(dirs, group_by="learning_rate"), tmp_path / "grouped")
    svg = grouped[0].svg.read_text()
    assert "learning_rate=0.1 (n=2)" in svg and "learning_rate=0.01 (n=1)" in svg
    assert len(re.findall(r'id="(FillBetween)?PolyCollection_\d+"', svg)) == 2  # one band per group


def test_the_report_files_embed_the_plots_and_the_html_needs_nothing_else(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    files = write_report_files(run)
    md = files.markdown.read_text()
    assert "![Loss](plots/loss.png)" in md and "![Accuracy](plots/accuracy.png)" in md
    page = files.html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Performance report: a" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2 and base64.b64decode(images[0]).startswith(PNG_MAGIC)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained
    assert [p.name for p in files.paths()][:3] == ["report.md", "report.html", "report.json"]
