"""The performance report is derived from events: sums, segments of a resumed run, renderings."""

import json

import pytest

from engine.events import (
    BatchExecuted, CacheStats, Checkpoint, ClientStats, CompilerStats, CostEstimate, EngineStats, EpochFinished,
    Error, EventBus, JobUpdate, RunFinished, RunStarted, StepMetrics, StoreUpdate,
)
from engine.report import build_report, sparkline


def _stamp(events):
    bus = EventBus(clock=lambda: 100.0)
    return [bus.emit(e) for e in events]


def _started(resumed=0):
    return RunStarted(run_id="r1", backend="ionq:simulator", target="qpu.aria-1", n_qubits=4, n_params=18,
                      total_steps=4, resumed_from_step=resumed, features={"use_batch_api": True})


def _batch(circuits, ms, purpose="spsa", **stages):
    return BatchExecuted(batch_id=0, circuits=circuits, chunks=2, shots=100, total_ms=ms,
                         throughput_cps=circuits / ms * 1e3, stage_ms=stages, purpose=purpose)


def _cache(hits, misses, saved):
    return CacheStats(template_hits=hits, template_misses=misses, bound_hits=0, bound_misses=hits + misses,
                      evictions=0, bytes_held=1024, time_saved_ms=saved)


def _client(requests, jobs, circuits):
    return ClientStats(requests=requests, calls={"POST /jobs": jobs}, jobs_created=jobs, circuits_submitted=circuits,
                       retries=1)


def _cost(circuits):
    return CostEstimate(target="qpu.aria-1", circuits=circuits, shots=100, usd=2.0 * circuits, per_circuit_usd=2.0,
                        source="ionq-estimate", basis="test")


@pytest.fixture
def resumed_run():
    """Two segments: killed after step 2 (checkpoint at 1), resumed from step 1 to the end."""
    return _stamp([
        _started(),
        _batch(12, 100.0, bind=1.0, execute=60.0), StepMetrics(epoch=0, step=0, total_steps=4, loss=0.9),
        JobUpdate(job_id="a", circuits=12, status="completed"),
        _cache(0, 1, 0.0), _client(5, 1, 12),
        Checkpoint(step=1, epoch=0, path="c1"),
        EngineStats(loop_worst_stall_ms=7.0, loop_mean_stall_ms=1.0, loop_samples=10, events_dropped=2),
        _cost(12),
        _batch(12, 100.0, bind=1.0, execute=60.0), StepMetrics(epoch=0, step=1, total_steps=4, loss=0.8),
        # killed here; resumed from the checkpoint at step 1
        _started(resumed=1),
        _batch(12, 50.0, bind=2.0, execute=30.0), StepMetrics(epoch=0, step=1, total_steps=4, loss=0.7),
        _batch(12, 50.0, execute=30.0), StepMetrics(epoch=1, step=2, total_steps=4, loss=0.6),
        _batch(20, 50.0, purpose="validation", execute=40.0),
        EpochFinished(epoch=1, train_loss=0.55, train_accuracy=0.75, val_loss=0.6, val_accuracy=0.5),
        _batch(12, 50.0, execute=30.0), StepMetrics(epoch=1, step=3, total_steps=4, loss=0.5, accuracy=1.0),
        JobUpdate(job_id="b", circuits=12, status="started"), JobUpdate(job_id="b", circuits=12, status="canceled"),
        StoreUpdate(epoch=1, upserted=20, namespace="r1", store="SQLiteVectorStore", knn_accuracy=0.8),
        _cache(3, 1, 5.0),
        CompilerStats(target="aria", compiles=1, gates_in=15, gates_out=30, n1q_out=27, n2q_out=3,
                      reduction_pct=10.0, compile_ms=4.0),
        _client(9, 4, 56),
        EngineStats(loop_worst_stall_ms=3.0, loop_mean_stall_ms=0.5, loop_samples=30, events_dropped=1),
        _cost(56),
        Error(source="ionq", message="job b canceled"),
        RunFinished(status="completed", steps=4, final_loss=0.5, final_accuracy=0.75, val_accuracy=0.5, wall_s=2.0),
    ])


def test_execution_figures_are_sums_of_batch_events(resumed_run):
    r = build_report(resumed_run)
    batches = [e for e in resumed_run if isinstance(e, BatchExecuted)]
    assert r.execution.batches == len(batches) == 6
    assert r.execution.circuits == sum(b.circuits for b in batches) == 80
    assert r.execution.chunks == 12 and r.execution.shots == 8000
    assert r.execution.circuits_per_call == pytest.approx(80 / 12)
    assert r.execution.batch_time_s == pytest.approx(0.40)
    assert r.execution.throughput_cps == pytest.approx(80 / 0.40)
    assert r.execution.wall_throughput_cps == pytest.approx(80 / 2.0)
    assert r.execution.circuits_by_purpose == {"spsa": 60, "validation": 20}
    assert r.stages.ms == {"bind": 4.0, "execute": 250.0}
    assert sum(r.stages.share.values()) == pytest.approx(1.0)


def test_resumed_run_counts_each_segment_once_and_replaces_redone_steps(resumed_run):
    r = build_report(resumed_run)
    assert r.run.segments == 2 and r.run.resumed_from_steps == [1]
    assert [(p.step, p.loss) for p in r.training.curve] == [(0, 0.9), (1, 0.7), (2, 0.6), (3, 0.5)]
    assert (r.training.first_loss, r.training.final_loss, r.training.best_loss) == (0.9, 0.5, 0.5)
    assert r.cache.template_hits == 3 and r.cache.template_misses == 2 and r.cache.time_saved_ms == 5.0
    assert r.cache.template_hit_rate == pytest.approx(0.6)
    assert r.client.requests == 14 and r.client.jobs_created == 5 and r.client.circuits_submitted == 68
    assert r.client.circuits_per_call == pytest.approx(68 / 5) and r.client.retries == 2
    assert r.client.jobs_seen == 2 and r.client.job_statuses == {"completed": 1, "canceled": 1}
    assert r.cost.circuits == 68 and r.cost.usd == pytest.approx(136.0) and r.cost.source == "ionq-estimate"
    assert r.engine.loop_worst_stall_ms == 7.0 and r.engine.events_dropped == 3
    assert r.engine.loop_mean_stall_ms == pytest.approx((1.0 * 10 + 0.5 * 30) / 40)
    assert r.compiler.gates_out == 30 and r.compiler.reduction_pct == 10.0
    assert r.store.upserted == 20 and r.store.last_knn_accuracy == 0.8
    assert r.run.status == "completed" and r.run.steps == 4 and r.run.checkpoints == 1
    assert r.engine.errors == ["ionq: job b canceled"]


def test_a_run_without_run_finished_is_incomplete():
    events = _stamp([_started(), _batch(12, 10.0), StepMetrics(epoch=0, step=0, total_steps=4, loss=0.9)])
    r = build_report(events)
    assert r.run.status == "incomplete" and r.run.steps == 1 and r.cost is None and r.client is None


def test_renderings_carry_the_same_figures(resumed_run):
    r = build_report(resumed_run)
    text, md = r.to_text(), r.to_markdown()
    for needle in ("Total Circuits: 80", "Avg Circuits/Call: 13.6", "$136.00", "Event Loop Worst Stall: 7.0 ms",
                   "Template Hit Rate: 60.0% (3 of 5)", "Resumed: from step 1"):
        assert needle in text, needle
    assert "| Total Circuits | 80 |" in md and md.startswith("# Performance report: r1")
    data = json.loads(json.dumps(r.to_json()))
    assert data["execution"]["circuits"] == 80 and data["training"]["curve"][-1] == {
        "step": 3, "epoch": 1, "loss": 0.5, "accuracy": 1.0, "grad_norm": None}


def test_sparkline_maps_low_to_high_and_buckets_long_series():
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert sparkline([1.0, 1.0]) == "▁▁"
    assert len(sparkline(list(range(1000)), width=50)) == 50
    assert sparkline([]) == ""


def test_a_diverged_run_with_nan_and_inf_losses_reads_back_and_reports_without_making_numbers_up(tmp_path, capsys):
    """NaN and infinity survive the event log (pydantic wrote them as null, which it could not read back: the run's
    report, compare and export all failed); the report's best loss and sparkline skip them, and report.json is
    strict JSON (null), as jq and JavaScript read it."""
    import math

    from runs_fixtures import fake_run

    from engine.runs import read_events, run_record
    from engine.runs.report_files import write_report_files

    nan, inf = float("nan"), float("inf")
    run = fake_run(tmp_path, "diverged", losses=[nan, inf, 0.3, 0.2], val_accuracy=[nan, 0.5])
    losses = [e.loss for e in read_events(run) if isinstance(e, StepMetrics)]
    assert math.isnan(losses[0]) and losses[1:] == [inf, 0.3, 0.2]
    assert run_record(run).best_val_accuracy == 0.5

    report = build_report(read_events(run))
    t = report.training
    assert math.isnan(t.first_loss) and t.best_loss == 0.2 and t.best_val_accuracy == 0.5
    assert "Loss: nan -> 0.2000 (best 0.2000)" in report.to_text()
    assert sparkline([nan, inf, 0.3, 0.2]) == "  █▁" and sparkline([nan, nan]) == "  "

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    write_report_files(run)
    document = json.loads((run / "report.json").read_text(), parse_constant=refuse)
    assert document["training"]["first_loss"] is None and document["training"]["curve"][1]["loss"] is None
    assert document["training"]["best_loss"] == 0.2
    from qstore_tui.cli import main

    fake_run(tmp_path, "calm", losses=[0.5, 0.4])
    assert main(["report", "diverged", "--format", "json", "--runs-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out, parse_constant=refuse)["training"]["first_loss"] is None
    assert main(["export", "diverged", "--format", "json", "--runs-dir", str(tmp_path)]) == 0
    metrics = json.loads(capsys.readouterr().out, parse_constant=refuse)["metrics"]
    assert [m["loss"] for m in metrics] == [None, None, 0.3, 0.2]
    assert main(["compare", "calm", "diverged", "--format", "json", "--runs-dir", str(tmp_path)]) == 0
    json.loads(capsys.readouterr().out, parse_constant=refuse)
