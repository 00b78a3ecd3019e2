"""EngineSession end to end on the local backend and the in-process IonQ emulator (real loopback HTTP)."""

import asyncio
import json
import time

import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings, Timing
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_client import IonQSettings
from engine.checkpoint import load_checkpoint
from engine.config import ConfigError, TrainingConfig
from engine.events import (
    BatchExecuted, Checkpoint, ClientStats, CostEstimate, EngineStats, EpochFinished, Error, JobUpdate, Log, RunStarted,
    StepMetrics,
)
from engine.lag import LagProbe
from engine.runs import EVENTS_FILE, RunError, read_events
from engine.session import EngineSession, SessionStatus, exit_code

TINY = dict(n_qubits=4, circuit_depth=1, n_samples=20, epochs=2, batch_size=4, shots_per_circuit=0, log_interval=1,
            checkpoint_interval=2, seed=3)  # 16 training samples: 4 steps per epoch, 8 in all


def tiny(**kw):
    return TrainingConfig(**{**TINY, **kw})


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def _drain(queue):
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def _run(config, tmp_path, **kw):
    session = EngineSession(config, runs_dir=tmp_path, **kw)
    finished = await session.run()
    return session, finished, read_events(session.run_dir)


async def test_a_local_run_writes_events_a_checkpoint_and_a_report_that_agree(tmp_path):
    session, finished, events = await _run(tiny(), tmp_path)
    assert finished.status == "completed" and session.status is SessionStatus.FINISHED and exit_code(session) == 0
    assert isinstance(events[0], RunStarted) and events[-1] == finished
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    steps = _of(events, StepMetrics)
    assert [s.step for s in steps] == list(range(8)) and finished.steps == 8
    assert finished.final_loss == steps[-1].loss
    assert [c.step for c in _of(events, Checkpoint)] == [2, 4, 6, 8, 8]
    ck = load_checkpoint(session.checkpoint_dir / "step-000008.json")
    np.testing.assert_array_equal(ck["model"]["params"], session.model.get_params())

    report = session.performance_report()
    batches = _of(events, BatchExecuted)
    assert report.execution.circuits == sum(b.circuits for b in batches) > 0
    assert report.execution.batches == len(batches)
    assert report.execution.batch_time_s == pytest.approx(sum(b.total_ms for b in batches) / 1e3)
    assert [p.loss for p in report.training.curve] == [s.loss for s in steps]
    stats = _of(events, EngineStats)
    assert report.engine.loop_worst_stall_ms == max(s.loop_worst_stall_ms for s in stats)
    assert json.loads((session.run_dir / "report.json").read_text()) == report.to_json()
    assert (session.run_dir / "report.md").read_text() == report.to_markdown()
    assert (session.run_dir / "store.sqlite").is_file() and report.store.upserted == 2 * 20


async def test_pause_holds_the_next_step_until_resume(tmp_path):
    session = EngineSession(tiny(), runs_dir=tmp_path)
    queue = session.bus.subscribe()
    task = asyncio.create_task(session.run())
    while not isinstance(event := await queue.get(), StepMetrics):
        pass
    session.pause()
    assert session.status is SessionStatus.PAUSED
    while session.trainer.state.status != "paused":  # the step in flight, if any, finishes first
        await asyncio.sleep(0.01)
    paused_at = session.trainer.state.step
    assert paused_at - (event.step + 1) in (0, 1)
    _drain(queue)
    await asyncio.sleep(0.3)
    assert [e for e in _drain(queue) if isinstance(e, StepMetrics)] == []
    assert session.trainer.state.step == paused_at
    session.resume()
    finished = await task
    assert finished.status == "completed" and finished.steps == 8


async def test_stop_writes_a_checkpoint_and_the_resumed_run_matches_an_uninterrupted_one(tmp_path):
    _, reference, ref_events = await _run(tiny(), tmp_path / "ref")
    ref_losses = {s.step: s.loss for s in _of(ref_events, StepMetrics)}

    session = EngineSession(tiny(), runs_dir=tmp_path / "runs")
    queue = session.bus.subscribe()
    task = asyncio.create_task(session.run())
    while not (isinstance(event := await queue.get(), StepMetrics) and event.step == 1):
        pass
    await session.stop()
    finished = await task
    stopped_at = finished.steps  # the step in flight when stop() came finishes first: 2 or 3, mid-epoch
    assert finished.status == "stopped" and stopped_at in (2, 3) and session.status is SessionStatus.STOPPED
    assert f"checkpoint written at step {stopped_at}" in finished.message
    assert (session.checkpoint_dir / f"step-{stopped_at:06d}.json").is_file()

    resumed = EngineSession.from_run_dir(session.run_dir)
    final = await resumed.run()
    assert final.status == "completed" and final.steps == 8
    events = read_events(session.run_dir)
    started = _of(events, RunStarted)
    assert [s.resumed_from_step for s in started] == [0, stopped_at]
    after = [s for s in _of(events, StepMetrics) if s.seq > started[1].seq]
    assert [s.step for s in after] == list(range(stopped_at, 8))
    for s in after:
        assert s.loss == pytest.approx(ref_losses[s.step], abs=1e-12)
    assert final.final_loss == pytest.approx(reference.final_loss, abs=1e-12)
    report = resumed.performance_report()
    assert [p.loss for p in report.training.curve] == pytest.approx([ref_losses[k] for k in range(8)], abs=1e-12)
    assert report.run.segments == 2 and report.run.status == "completed"
    with pytest.raises(RunError, match="already completed"):
        EngineSession.from_run_dir(session.run_dir)


async def test_a_run_stopped_at_an_epoch_boundary_resumes_exactly(tmp_path):
    _, reference, ref_events = await _run(tiny(), tmp_path / "ref")
    session = EngineSession(tiny(), runs_dir=tmp_path / "runs")
    # A sink runs inside emit: the trainer sees the stop before it starts the next epoch's first step.
    session.bus.add_sink(lambda e: isinstance(e, EpochFinished) and session.trainer.request_stop())
    finished = await session.run()
    assert finished.status == "stopped" and finished.steps == 4
    final = await EngineSession.from_run_dir(session.run_dir).run()
    assert final.final_loss == pytest.approx(reference.final_loss, abs=1e-12)


async def test_a_subscriber_that_never_reads_loses_events_but_never_blocks_the_run(tmp_path):
    session = EngineSession(tiny(), runs_dir=tmp_path)
    stuck = session.bus.subscribe(maxsize=1)
    finished = await asyncio.wait_for(session.run(), 30)
    assert finished.status == "completed" and stuck.qsize() == 1
    events = read_events(session.run_dir)
    assert session.bus.dropped == len(events) - 1  # it holds the first event; every later one was dropped
    last_stats = _of(events, EngineStats)[-1]
    assert last_stats.events_dropped == last_stats.seq - 2 > 0  # dropped before the stats were taken
    assert session.performance_report().engine.events_dropped == last_stats.events_dropped


async def test_stop_cancels_the_ionq_jobs_in_flight(tmp_path):
    settings = EmulatorSettings(api_keys=("k-123",), timing=Timing(queue_s=60.0))  # jobs sit in the queue
    with EmulatorServer(settings) as server:
        backend = IonQBackend(IonQSettings(base_url=server.base_url, api_key="k-123", poll_initial=0.01,
                                           poll_cap=0.05))
        session = EngineSession(tiny(backend="emulator", shots_per_circuit=10), runs_dir=tmp_path,
                                backend=backend, stop_grace_s=0.2)
        queue = session.bus.subscribe()
        task = asyncio.create_task(session.run())
        while not isinstance(event := await queue.get(), JobUpdate):
            pass
        await session.stop()
        finished = await task
        job = await backend.client.get_job(event.job_id)
        await backend.close()
    assert finished.status == "stopped" and finished.steps == 0
    assert "abandoned" in finished.message and job["status"] == "canceled"
    logs = [e.message for e in _of(read_events(session.run_dir), Log)]
    assert f"cancelled 1 IonQ job(s) in flight: {event.job_id}" in logs


async def test_a_short_key_is_scrubbed_from_messages_but_never_mangles_event_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", "e")
    session = EngineSession(tiny(epochs=1), runs_dir=tmp_path)
    session.bus.add_sink(lambda e: isinstance(e, RunStarted) and session.emit(Log(message="the key")))
    finished = await session.run()
    events = read_events(session.run_dir)  # parses: "kind" fields intact
    assert finished.status == "completed" and events[-1] == finished
    assert "th*** k***y" in [e.message for e in _of(events, Log)]
    assert all(c.path.endswith(".json") for c in _of(events, Checkpoint))


async def test_a_rejected_api_key_is_a_fatal_ionq_error_and_run_returns(tmp_path):
    with EmulatorServer(EmulatorSettings(api_keys=("the-right-key",))) as server:
        backend = IonQBackend(IonQSettings(base_url=server.base_url, api_key="a-wrong-key"))
        session = EngineSession(tiny(backend="emulator", shots_per_circuit=10), runs_dir=tmp_path, backend=backend)
        finished = await session.run()
        await backend.close()
    assert finished.status == "failed" and session.status is SessionStatus.FAILED and exit_code(session) == 3
    errors = _of(read_events(session.run_dir), Error)
    assert [(e.source, e.message, e.fatal) for e in errors] == [("ionq", "invalid IonQ API key", True)]


def test_a_config_that_cannot_run_is_refused_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        EngineSession(tiny(backend="ionq", shots_per_circuit=10), runs_dir=tmp_path)
    assert info.value.field == "quantum_api_key"
    assert list(tmp_path.iterdir()) == []


async def test_an_emulator_run_reports_jobs_client_calls_and_the_estimate_without_leaking_the_key(
        tmp_path, monkeypatch):
    canary = "canary-key-7f3a9c"
    monkeypatch.setenv("IONQ_API_KEY", canary)
    config = tiny(backend="emulator", quantum_target="qpu.aria-1", shots_per_circuit=10, epochs=1)
    session = EngineSession(config, runs_dir=tmp_path)
    queue = session.bus.subscribe()

    async def leak_once():  # an engine message that quotes the key must reach nobody unscrubbed
        while not isinstance(await queue.get(), StepMetrics):
            pass
        session.emit(Log(message=f"echo of {canary}"))

    leaker = asyncio.create_task(leak_once())
    finished = await session.run()
    await leaker
    assert finished.status == "completed", session.error
    events = read_events(session.run_dir)
    jobs = _of(events, JobUpdate)
    assert jobs and {j.status for j in jobs} >= {"submitted", "completed"}
    client = _of(events, ClientStats)[-1]
    report = session.performance_report()
    assert report.client.requests == client.requests > 0
    assert report.client.jobs_created == client.jobs_created == len({j.job_id for j in jobs})
    assert report.client.circuits_submitted == sum(b.circuits for b in _of(events, BatchExecuted))
    cost = _of(events, CostEstimate)[-1]
    assert cost.source == "ionq-estimate" and cost.circuits == report.execution.circuits
    assert cost.usd == pytest.approx(cost.per_circuit_usd * cost.circuits) and cost.per_circuit_usd > 0
    assert report.cost.usd == cost.usd and "IonQ /jobs/estimate" in report.to_text()
    assert any(e.message == "echo of ***" for e in _of(events, Log))
    for path in session.run_dir.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


async def test_a_local_run_imitating_a_qpu_is_priced_by_the_published_formula(tmp_path):
    session, finished, events = await _run(tiny(noise_model="aria-1", shots_per_circuit=10, epochs=1), tmp_path)
    assert finished.status == "completed"
    cost = _of(events, CostEstimate)[-1]
    circuits = sum(b.circuits for b in _of(events, BatchExecuted))
    assert (cost.source, cost.target, cost.circuits) == ("formula", "qpu.aria-1", circuits)
    assert cost.per_circuit_usd == pytest.approx(0.30 + 0.03 * 10)
    assert cost.usd == pytest.approx(0.60 * circuits)


async def test_a_named_noise_model_is_simulated_on_the_local_backend_and_needs_shots(tmp_path):
    """noise_model = "aria-1" was priced and turned adjoint off, but never reached the simulator: the run was ideal."""
    from engine.sim.noise import NOISE_MODELS

    runs = {}
    for name in ("ideal", "aria-1", "forte-1"):
        session, finished, _ = await _run(tiny(noise_model=name, shots_per_circuit=200, epochs=1,
                                               gradient_method="spsa_parallel"), tmp_path / name)
        assert finished.status == "completed", finished.message
        assert session.manager.backend.noise is (None if name == "ideal" else NOISE_MODELS[name])
        runs[name] = [e.loss for e in read_events(session.run_dir) if isinstance(e, StepMetrics)]
    assert runs["aria-1"] != runs["ideal"]
    with pytest.raises(ConfigError, match="noise_model: 'aria-1' is simulated on measured shots"):
        tiny(noise_model="aria-1", shots_per_circuit=0)


async def test_a_qpu_run_over_its_cost_cap_fails_before_any_circuit(tmp_path, monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", "cap-test-key")
    with EmulatorServer(EmulatorSettings(api_keys=("cap-test-key",))) as server:
        config = tiny(backend="ionq", ionq_api_url=server.base_url, quantum_target="qpu.aria-1",
                      shots_per_circuit=10, max_cost_usd=1.0)
        session, finished, events = await _run(config, tmp_path)
        assert server.counters().jobs_created == 0
    assert finished.status == "failed" and exit_code(session) == 2
    [error] = _of(events, Error)
    assert error.source == "config" and error.message.startswith("max_cost_usd: the run is estimated at $")
    assert not _of(events, BatchExecuted)


async def test_the_lag_probe_sees_a_blocked_loop():
    probe = LagProbe(interval_s=0.01)
    probe.start()
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # what an engine must never do on the loop
    await asyncio.sleep(0.03)
    await probe.stop()
    assert 150 <= probe.worst_ms < 1000 and probe.samples >= 3


async def test_a_session_runs_once(tmp_path):
    session = EngineSession(tiny(epochs=1), runs_dir=tmp_path)
    first = await session.run()
    assert await session.run() is first
    assert (session.run_dir / EVENTS_FILE).read_text().count('"run_finished"') == 1


async def test_native_runs_cross_check_the_model_compile_with_the_configured_sdk(tmp_path):
    session, finished, events = await _run(tiny(use_native_gates=True, quantum_sdk="cirq", epochs=1), tmp_path)
    assert finished.status == "completed"
    checked = [e.message for e in _of(events, Log) if "checked with cirq" in e.message]
    assert len(checked) == 1 and checked[0].endswith("fidelity 1.000000000000")


async def test_a_compile_that_fails_the_cross_check_stops_the_run_before_any_circuit(tmp_path, monkeypatch):
    import engine.compiler.crosscheck as cc

    monkeypatch.setattr(cc, "crosscheck", lambda *a, **k: 0.75)
    session, finished, events = await _run(tiny(use_native_gates=True), tmp_path)
    assert finished.status == "failed" and exit_code(session) == 3
    (err,) = _of(events, Error)
    assert err.source == "compiler" and "failed the cirq cross-check: fidelity 0.750000000000" in err.message
    assert _of(events, BatchExecuted) == []


async def test_qis_runs_do_not_cross_check(tmp_path):
    _, finished, events = await _run(tiny(use_native_gates=False, epochs=1), tmp_path)
    assert finished.status == "completed"
    assert not [e for e in _of(events, Log) if "cross-check" in e.message or "checked with" in e.message]


async def test_a_run_keeps_its_embeddings_in_pinecone_when_a_key_is_set(tmp_path, monkeypatch):
    """The real pinecone SDK, pointed by its own PINECONE_CONTROLLER_HOST at a loopback server."""
    from engine.events import StoreUpdate
    from pinecone_server import PineconeLoopbackServer

    with PineconeLoopbackServer(api_key="pc-canary-key-1234") as server:
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", server.url)
        monkeypatch.setenv("PINECONE_API_KEY", "pc-canary-key-1234")
        config = tiny(store_backend="pinecone", pinecone_index_name="qstore-test", epochs=2)
        session, finished, events = await _run(config, tmp_path)
        assert finished.status == "completed", [e.message for e in _of(events, Error)]
        updates = _of(events, StoreUpdate)
        assert [u.epoch for u in updates] == [0, 1]
        assert all(u.namespace == session.run_id and u.knn_accuracy is not None for u in updates)
        backing = server.store("qstore-test")
        stats = backing.describe()
        assert stats.namespaces == {session.run_id: 2 * 20} and stats.dimension == 4
        assert server.request_count("/vectors/upsert") >= 2
    assert not (session.run_dir / "store.sqlite").exists()
    for path in session.run_dir.rglob("*"):
        if path.is_file():
            assert b"pc-canary-key-1234" not in path.read_bytes(), path


async def test_a_resumed_qpu_run_counts_its_spend_on_from_what_the_earlier_segment_spent(tmp_path, monkeypatch):
    """The spend so far comes from the earlier segment's last SpendUpdate, read while its events stream past
    on resume; the resumed segment's own jobs add to it."""
    from engine.events import SpendUpdate

    monkeypatch.setenv("IONQ_API_KEY", "spend-resume-key")
    config = tiny(backend="emulator", quantum_target="qpu.aria-1", shots_per_circuit=10, epochs=1)
    session = EngineSession(config, runs_dir=tmp_path)
    queue = session.bus.subscribe()
    task = asyncio.create_task(session.run())
    while not (isinstance(event := await queue.get(), StepMetrics) and event.step == 0):
        pass
    await session.stop()
    assert (await task).status == "stopped"
    earlier = _of(read_events(session.run_dir), SpendUpdate)
    assert earlier and earlier[-1].spent_usd > 0
    resumed = EngineSession.from_run_dir(session.run_dir)
    assert (await resumed.run()).status == "completed"
    later = [e for e in _of(read_events(session.run_dir), SpendUpdate) if e.seq > earlier[-1].seq]
    assert later, "the resumed segment ran jobs"
    assert later[0].spent_usd == pytest.approx(earlier[-1].spent_usd + later[0].job_usd)
    assert later[-1].spent_usd == pytest.approx(earlier[-1].spent_usd + sum(e.job_usd for e in later))
