"""Runs read through the commands when something is off: a killed run's time, a garbage event line, a damaged
tags.json, names that are not plain text, a running run's written report, a plots folder that is a file."""

from __future__ import annotations

import json

import pytest

from engine.runs import RunLock, run_record
from qstore_tui.cli import main
from runs_fixtures import fake_run


def test_a_killed_run_lasted_until_its_last_event_in_the_report_the_index_and_compare(tmp_path, capsys):
    run = fake_run(tmp_path, "killed", losses=[1.0, 0.9, 0.8, 0.7], status=None)  # events 0.5 s apart, no end
    assert run_record(run).duration_s == pytest.approx(5.0)  # RunStarted at 1000.0, the last epoch's end at 1005.0
    assert main(["report", "killed", "--format", "json", "--runs-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run"]["status"] == "incomplete" and report["run"]["wall_s"] == pytest.approx(5.0)
    assert report["execution"]["wall_throughput_cps"] == pytest.approx(40 / 5.0)  # was 0.0: wall time 0


def test_a_garbage_line_is_a_warning_in_runs_and_compare_not_a_run_that_looks_whole(tmp_path, capsys):
    run = fake_run(tmp_path, "g1", losses=[1.0, 0.9], val_accuracy=[0.5])
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    lines.insert(3, "this line is garbage\n")
    (run / "events.jsonl").write_text("".join(lines))
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"warning: run g1: {run / 'events.jsonl'}: line 4: not a valid event" in err
    for command in ("report", "compare"):  # which read every line, and refuse it, as before
        assert main([command, "g1", "--runs-dir", str(tmp_path)]) == 2
        assert "line 4: not a valid event" in capsys.readouterr().err


@pytest.mark.parametrize("tags", ['["a", "b"]', "{bad json"])
def test_a_damaged_tags_file_is_the_runs_problem_not_no_tags(tmp_path, capsys, tags):
    run = fake_run(tmp_path, "t1", losses=[1.0, 0.9])
    (run / "tags.json").write_text(tags)
    record = run_record(run)
    assert record.tags == [] and "tags.json" in record.problem
    assert main(["compare", "t1", "--runs-dir", str(tmp_path)]) == 0
    assert "warning: run t1:" in capsys.readouterr().err and (run / "tags.json").read_text() == tags  # untouched


def test_names_with_a_bar_a_line_break_or_an_escape_stay_one_cell(tmp_path, capsys):
    fake_run(tmp_path, "a|b", losses=[1.0, 0.9], seed=1)
    fake_run(tmp_path, "c\nd\x1b[2J", losses=[1.0, 0.8], seed=2)
    assert main(["compare", "a|b", "c\nd\x1b[2J", "--format", "md", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    table = [ln for ln in out.splitlines() if ln.startswith("| field")]
    assert table == ["| field | a\\|b | c\\nd\\x1b[2J |"]  # the header escaped too: three cells, one line
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "\x1b" not in listing and "c\\nd\\x1b[2J" in listing


def test_a_written_report_of_a_running_run_says_running(tmp_path, capsys):
    run = fake_run(tmp_path, "live", losses=[1.0, 0.9], status=None)
    lock = RunLock(run)
    lock.acquire()
    try:
        assert main(["report", "live", "--write", "--runs-dir", str(tmp_path)]) == 0
    finally:
        lock.release()
    assert json.loads((run / "report.json").read_text())["run"]["status"] == "running"
    assert "running" in (run / "report.md").read_text()


def test_report_write_checks_its_targets_first_and_names_a_plots_file_as_not_a_folder(tmp_path, capsys):
    run = fake_run(tmp_path, "r1", losses=[1.0, 0.9], val_accuracy=[0.5])
    (run / "report.json").mkdir()
    assert main(["report", "r1", "--write", "--runs-dir", str(tmp_path)]) == 2
    assert f"{run / 'report.json'}: cannot use: is a directory" in capsys.readouterr().err.lower()
    assert not (run / "report.html").exists() and not (run / "plots").exists()  # nothing half written
    (run / "report.json").rmdir()
    (run / "plots").write_text("not a folder")
    assert main(["report", "r1", "--write", "--runs-dir", str(tmp_path)]) == 2
    assert f"{run / 'plots'}: cannot use: a part of the path is not a directory" in capsys.readouterr().err.lower()


def test_a_long_run_name_is_cut_in_the_message(tmp_path, capsys):
    assert main(["report", "x" * 5000, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err) < 300 and "(5,000 characters): not found" in err


def test_the_report_of_a_run_that_never_started_says_new_and_what_its_config_says(tmp_path, capsys):
    from engine.config import TrainingConfig
    from engine.runs import create_run_dir

    create_run_dir(tmp_path, "empty1", TrainingConfig(n_qubits=3))
    assert main(["report", "empty1", "--format", "md", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Performance report: empty1") and "| Status | new |" in out  # was 'run', incomplete
    assert "| Model | 3 qubits" in out  # was 0 qubits
