"""The run index: records read from run directories, tags, sort, filter, delete; metrics.csv after a resume."""

import asyncio
import csv
import math
import shutil

import pytest

from engine.config import TrainingConfig
from engine.events import StepMetrics
from engine.runs import (
    METRICS_FILE, RunError, RunLock, SweepTag, delete_run, filter_runs, list_records, read_events, run_metrics,
    run_record, sort_runs, tag_run, untag_run, write_metrics_csv,
)
from engine.runs.metrics import METRIC_COLUMNS, metric_rows
from engine.session import EngineSession
from helpers import stopped_at
from runs_fixtures import fake_run


def test_a_record_carries_the_config_fields_results_cost_and_tags(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7], learning_rate=0.05,
                   gradient_method="parameter_shift", optimizer="sgd", seed=4, circuit_depth=3, cost_usd=1.25,
                   spend=[("j1", 0.5), ("j2", 0.25), ("j1", 0.5)],
                   tags=["baseline"], sweep=SweepTag("s1", 3, state="complete", objective=0.7))
    r = run_record(run)
    assert (r.status, r.backend, r.target, r.gradient_method, r.optimizer) == (
        "completed", "local", "simulator", "parameter_shift", "sgd")
    assert (r.learning_rate, r.epochs, r.seed, r.n_qubits, r.circuit_depth) == (0.05, 2, 4, 2, 3)
    assert r.best_val_accuracy == 0.7 and r.final_val_accuracy == 0.7 and r.final_loss == 0.5
    assert r.circuits == 40 and r.duration_s == 2.0 and r.cost_estimated_usd == 1.25 and r.cost_actual_usd == 0.75
    assert r.tags == ["baseline", "study:s1", "trial:3"] and (r.study, r.trial) == ("s1", 3)
    assert r.started_at == 1000.0 and r.steps == 4 and r.epochs_done == 2


def test_status_of_killed_running_and_pruned_runs(tmp_path):
    killed = fake_run(tmp_path, "killed", losses=[1.0, 0.9], status=None)
    pruned = fake_run(tmp_path, "pruned", losses=[1.0, 0.9], status="stopped", sweep=SweepTag("s", 0, "pruned"))
    stopped = fake_run(tmp_path, "stopped", losses=[1.0, 0.9], status="stopped")
    assert run_record(killed).status == "incomplete"
    assert run_record(pruned).status == "pruned" and run_record(stopped).status == "stopped"
    lock = RunLock(killed)
    lock.acquire()
    try:
        assert run_record(killed).status == "running"
        with pytest.raises(RunError, match="running"):
            delete_run(tmp_path, "killed")
    finally:
        lock.release()
    assert delete_run(tmp_path, "killed") == killed and not killed.exists()
    with pytest.raises(RunError, match="not found"):
        delete_run(tmp_path, "killed")


def test_a_bad_config_is_a_problem_on_the_record_not_an_exception(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.9])
    (run / "config.toml").write_text("[model]\nn_qubits = 99\n")
    r = run_record(run)
    assert r.config is None and "n_qubits" in r.problem and r.final_loss == 0.9


def test_a_run_without_a_config_and_one_that_cannot_be_read_show_question_marks_and_dashes_not_zeros(tmp_path):
    """What the Runs table shows for them: not a learning rate of nan or 0 epochs the run never had."""
    from engine.runs.index import unreadable_record
    from qstore_tui.screens.runs import COLUMNS, cell

    run = fake_run(tmp_path, "a", losses=[1.0, 0.9], n_qubits=3)
    (run / "config.toml").write_text("[model]\nn_qubits = 99\n")
    damaged = {c.key: cell(run_record(run), c.key) for c in COLUMNS}
    assert [damaged[k] for k in ("gradient_method", "optimizer", "learning_rate", "epochs", "seed")] == ["?"] * 5
    assert damaged["n_qubits"] == "3×?" and damaged["final_loss"] == "0.9000" and damaged["status"] == "completed"

    denied = PermissionError(13, "Permission denied", str(tmp_path / "b" / "events.jsonl"))
    record = unreadable_record(tmp_path / "b", denied)
    assert record.problem == f"{tmp_path}/b/events.jsonl: cannot read: permission denied"
    shown = {c.key: cell(record, c.key) for c in COLUMNS}
    assert shown.pop("run_id") == "b" and shown.pop("status") == "unreadable" and set(shown.values()) == {"-"}


def test_error_text_says_an_os_error_in_words_and_names_its_file_once():
    from engine.fileio import error_text

    assert error_text(PermissionError(13, "Permission denied", "/r/a/events.jsonl")) == \
        "/r/a/events.jsonl: permission denied"
    assert error_text(OSError(5, "Input/output error")) == "input/output error"
    assert error_text(ValueError("run 'x': not found")) == "run 'x': not found"


def test_tags_are_added_once_removed_and_checked(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.9])
    assert tag_run(run, "x", "y", "x") == ["x", "y"]
    assert untag_run(run, "x", "absent") == ["y"]
    with pytest.raises(RunError, match="tag 'two words'"):
        tag_run(run, "two words")


def test_sort_puts_missing_values_last_and_filter_matches_text_status_and_tag(tmp_path):
    fake_run(tmp_path, "a", losses=[1.0, 0.5], val_accuracy=[0.9], learning_rate=0.1, start=1000, tags=["lr"])
    fake_run(tmp_path, "b", losses=[1.0, 0.7], val_accuracy=[0.6], learning_rate=0.01, start=2000)
    fake_run(tmp_path, "c", losses=[1.0, 0.8], learning_rate=0.05, start=3000, status="failed",
             gradient_method="parameter_shift")
    records = list_records(tmp_path)
    assert [r.run_id for r in records] == ["c", "b", "a"]  # newest first
    assert [r.run_id for r in sort_runs(records, "best_val_accuracy", descending=True)] == ["a", "b", "c"]
    assert [r.run_id for r in sort_runs(records, "best_val_accuracy")] == ["b", "a", "c"]
    assert [r.run_id for r in sort_runs(records, "learning_rate")] == ["b", "c", "a"]
    assert [r.run_id for r in filter_runs(records, status="failed")] == ["c"]
    assert [r.run_id for r in filter_runs(records, text="SHIFT")] == ["c"]
    assert [r.run_id for r in filter_runs(records, tag="lr")] == ["a"]
    assert {r.run_id for r in filter_runs(records, status=["completed", "failed"])} == {"a", "b", "c"}
    with pytest.raises(ValueError, match="sort key 'bogus'"):
        sort_runs(records, "bogus")


def test_metrics_rows_put_validation_on_the_epochs_last_step_and_throughput_from_batches(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    rows = run_metrics(run)
    assert [r.step for r in rows] == [0, 1, 2, 3] and [r.epoch for r in rows] == [0, 0, 1, 1]
    assert [r.val_accuracy for r in rows] == [None, 0.6, None, 0.7]
    assert rows[0].throughput_cps == pytest.approx(100.0) and rows[0].circuits == 10
    path = write_metrics_csv(run)
    table = list(csv.DictReader(path.open()))
    assert tuple(table[0]) == METRIC_COLUMNS and table[1]["val_accuracy"] == "0.6" and table[0]["val_loss"] == ""


TINY = dict(n_qubits=2, circuit_depth=1, n_samples=20, epochs=2, batch_size=4, shots_per_circuit=0,
            checkpoint_interval=1, log_interval=1, seed=3, embeddings_to_store=False, use_native_gates=False)


async def test_every_run_writes_metrics_csv_as_it_goes_and_it_is_right_after_a_resume(tmp_path):
    reference = EngineSession(TrainingConfig(**TINY), runs_dir=tmp_path / "ref")
    await reference.run()
    ref_rows = metric_rows(read_events(reference.run_dir), 2)

    session = EngineSession(TrainingConfig(**TINY), runs_dir=tmp_path / "runs")
    queue = session.bus.subscribe()
    task = asyncio.create_task(session.run())
    while not (isinstance(event := await queue.get(), StepMetrics) and event.step == 4):
        pass
    early = list(csv.DictReader((session.run_dir / METRICS_FILE).open()))  # written at the first epoch end
    assert [int(r["step"]) for r in early] == [0, 1, 2, 3]
    await session.stop()
    stopped = await task
    assert stopped.status == "stopped" and 4 < stopped.steps < 8  # resumed mid-epoch 2
    resumed = EngineSession.from_run_dir(session.run_dir)
    await resumed.run()
    rows = list(csv.DictReader((session.run_dir / METRICS_FILE).open()))
    assert [int(r["step"]) for r in rows] == [r.step for r in ref_rows] == list(range(8))
    assert [r["val_accuracy"] != "" for r in rows] == [False, False, False, True] * 2
    for got, want in zip(rows, ref_rows):
        assert float(got["loss"]) == pytest.approx(want.loss, abs=1e-12)
        if want.val_accuracy is not None:
            assert float(got["val_accuracy"]) == want.val_accuracy
    assert all(math.isfinite(float(r["throughput_cps"])) for r in rows[1:4])


def test_validation_lands_on_the_epochs_last_step_even_when_that_step_was_not_reported(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    events = [e for e in read_events(run) if not (isinstance(e, StepMetrics) and e.step == 1)]
    rows = metric_rows(events, epochs=2)
    assert [(r.step, r.loss, r.val_accuracy) for r in rows] == [
        (0, 1.0, None), (1, None, 0.6), (2, 0.6, None), (3, 0.5, 0.7)]


def test_a_second_listing_reuses_unchanged_runs_and_rereads_changed_ones(tmp_path, monkeypatch):
    """The Runs screen lists on every visit and refresh: 2,000 runs took ~5 s each time before."""
    import engine.runs.index as index

    for name in ("a", "b", "c"):
        fake_run(tmp_path, name, losses=[1.0, 0.5], val_accuracy=[0.7], start=1_000.0 + ord(name))
    first = {r.run_id: r for r in list_records(tmp_path)}
    read: list[str] = []
    real = index.run_record
    monkeypatch.setattr(index, "run_record", lambda d, **k: (read.append(d.name), real(d, **k))[1])
    assert [r.run_id for r in list_records(tmp_path)] == ["c", "b", "a"] and read == []  # nothing changed
    tag_run(tmp_path / "b", "best")  # tags.json written
    with open(tmp_path / "a" / "events.jsonl", "ab") as f:  # appended (a resumed run writes on)
        f.write(b"\n")
    shutil.rmtree(tmp_path / "c")
    again = {r.run_id: r for r in list_records(tmp_path)}
    assert sorted(read) == ["a", "b"] and set(again) == {"a", "b"}
    assert again["b"].tags == ["best"] and first["b"].tags == []
    assert not [p for p in index._records if p.parent == tmp_path and p.name == "c"]  # the deleted run left


def test_a_long_listing_reports_the_newest_runs_first(tmp_path, monkeypatch):
    import engine.runs.index as index

    for i in range(6):
        fake_run(tmp_path, f"2026120{i}-000000-aaaa", losses=[1.0, 0.5], start=1_000.0 + i)
    clock = iter(range(100))  # every read of the clock a second later: a report after each run but the last
    monkeypatch.setattr(index, "monotonic", lambda: float(next(clock)))
    reports: list[tuple[list[str], int]] = []
    done = list_records(tmp_path, on_progress=lambda rs, of: reports.append(([r.run_id for r in rs], of)),
                        first_s=1.0)
    assert [r.run_id[:8] for r in done] == [f"2026120{i}" for i in range(5, -1, -1)]
    assert reports[0] == (["20261205-000000-aaaa"], 6)  # the newest run first
    assert all(of == 6 and len(ids) < 6 for ids, of in reports) and 1 < len(reports) < 5  # intervals double


async def test_a_metrics_file_that_cannot_be_written_at_a_resume_is_a_warning_event_not_just_stderr(tmp_path):
    from engine.events import Log

    session = await stopped_at(TrainingConfig(**TINY), tmp_path, 4)
    (session.run_dir / METRICS_FILE).unlink()
    (session.run_dir / METRICS_FILE).mkdir()
    await EngineSession.from_run_dir(session.run_dir).run()
    warnings = [e.message for e in read_events(session.run_dir) if isinstance(e, Log) and e.level == "warning"]
    assert any(f"cannot write {session.run_dir / METRICS_FILE}" in m for m in warnings)


def test_a_subnormal_batch_time_gives_no_throughput_not_a_division_by_zero(tmp_path):
    from engine.events import BatchExecuted

    events = [BatchExecuted(batch_id=0, circuits=10, total_ms=5e-324, throughput_cps=1.0, purpose="spsa"),
              StepMetrics(epoch=0, step=0, total_steps=1, loss=1.0, circuits=10)]
    assert metric_rows(events)[0].throughput_cps is None
