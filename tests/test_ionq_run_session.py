"""Whole runs on IonQ's API (the emulator over loopback): a QPU run trains inside an IonQ session that is
ended however the run ends, books every job's actual cost as spend in events and the report, stops with a
checkpoint before a job would pass max_cost_usd, and a dry run prices every payload and runs nothing."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings
from engine.backends.emulator.server import DEFAULT_RATES, Rate
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_client import IonQClient, IonQSettings
from engine.backends.ionq_errors import IonQSpendCapError
from engine.config import TrainingConfig
from engine.events import DryRunReport, IonQSessionUpdate, MitigationInfo, SpendUpdate
from engine.runs import read_events
from engine.session import EngineSession, exit_code

KEY = "k-qpu"
TINY = dict(n_qubits=2, circuit_depth=1, n_samples=12, epochs=1, batch_size=3, shots_per_circuit=100,
            log_interval=1, checkpoint_interval=100, seed=5, backend="emulator", quantum_target="qpu.aria-1",
            max_concurrent_circuits=50, embeddings_to_store=False)


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


async def _run(tmp_path, server, **kw):
    backend = IonQBackend(IonQSettings(base_url=server.base_url, api_key=KEY, poll_initial=0.01, poll_cap=0.03),
                          backend_name="qpu.aria-1", shots_default=100)
    session = EngineSession(TrainingConfig(**{**TINY, **kw}), runs_dir=tmp_path, backend=backend)
    finished = await session.run()
    await backend.close()
    return session, finished, read_events(session.run_dir)


async def test_a_qpu_run_trains_inside_a_session_and_reports_its_actual_spend(tmp_path):
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0)) as server:
        session, finished, events = await _run(tmp_path, server, max_cost_usd=500.0)
        opened, ended = _of(events, IonQSessionUpdate)
        async with IonQClient(server.base_url, KEY) as client:
            listed = (await client.request_object("GET", "/sessions", endpoint="GET /sessions"))["sessions"]
    assert finished.status == "completed", finished.message
    assert (opened.status, ended.status) == ("opened", "ended")
    assert [(x["id"], x["status"]) for x in listed] == [(opened.session_id, "ended")]
    assert opened.cost_limit_usd == 500.0
    spends = _of(events, SpendUpdate)
    assert spends and spends[-1].jobs == len(spends) and all(s.billed for s in spends)
    assert spends[-1].spent_usd == np.float64(sum(s.job_usd for s in spends))
    (info,) = _of(events, MitigationInfo)
    assert info.ionq == "debiasing off (IonQ's default), aggregation average" and info.readout == "off"
    report = session.performance_report()
    assert report.ionq is not None and report.ionq.spent_usd == spends[-1].spent_usd
    assert report.ionq.session_id == opened.session_id and report.ionq.session_status == "ended"
    text = report.to_markdown()
    assert "## IonQ QPU" in text and "debiasing off (IonQ's default)" in text


async def test_the_run_stops_with_a_checkpoint_before_a_job_would_pass_the_cap(tmp_path):
    # Native jobs have more 1q gates than the qis estimate counts, so real spend outruns the estimate.
    rates = {**DEFAULT_RATES, "qpu.aria-1": Rate(0.01, 0.0, 0.0)}
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0, rates=rates)) as server:
        session, finished, events = await _run(tmp_path, server, max_cost_usd=60.0, epochs=2)
    assert finished.status == "stopped" and "spend cap" in finished.message, finished.message
    spends = _of(events, SpendUpdate)
    assert spends and spends[-1].spent_usd <= 60.0
    assert finished.steps > 0 and list((session.run_dir / "checkpoints").glob("step-*.json"))
    assert _of(events, IonQSessionUpdate)[-1].status == "ended"


async def test_a_dry_run_prices_every_payload_of_a_step_and_runs_nothing(tmp_path):
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0)) as server:
        session, finished, events = await _run(tmp_path, server, max_cost_usd=500.0, dry_run=True)
        counters = server.counters()
    (report,) = _of(events, DryRunReport)
    assert finished.status == "completed" and finished.steps == 0 and "dry run" in finished.message
    assert report.executed == 0 and counters.jobs_executed == 0 and counters.dry_runs == report.jobs >= 2
    assert report.planned_usd > 0 and report.circuits == 3 * 3 + 12
    assert not _of(events, SpendUpdate)
    assert session.performance_report().ionq.dry_run.executed == 0


async def test_a_dry_run_of_a_run_over_its_cap_prices_it_rather_than_refusing(tmp_path):
    """A dry run is never charged: refused by the cap, it could not tell what the run over the cap costs."""
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0)) as server:
        session, finished, events = await _run(tmp_path, server, max_cost_usd=1.0, dry_run=True)
        assert server.counters().jobs_executed == 0
    (report,) = _of(events, DryRunReport)
    assert finished.status == "completed", finished.message
    assert report.planned_usd > 1.0 and report.executed == 0


async def test_a_stop_for_the_cap_in_an_epochs_last_step_leaves_its_evaluation_to_the_resume(tmp_path):
    """Cap $200 at $5 a circuit: the lookahead asks for the stop during step 3, the epoch's last. The epoch's
    evaluation (12 circuits) then ran anyway, half of it was refused by the ledger, and the run failed with no
    checkpoint. Now it stops at the epoch's end with a checkpoint, and the resume evaluates that epoch first."""
    import json

    from engine.events import BatchExecuted, EpochFinished, RunFinished

    rates = {**DEFAULT_RATES, "qpu.aria-1": Rate(0.01, 0.0, 0.0)}
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0, rates=rates)) as server:
        session, finished, events = await _run(tmp_path, server, max_cost_usd=200.0, epochs=2)
        assert finished.status == "stopped" and "spend cap" in finished.message, finished.message
        assert finished.steps == 4 and not [e for e in events if isinstance(e, BatchExecuted)
                                            and e.purpose == "validation"]
        (checkpoint,) = (session.run_dir / "checkpoints").glob("step-*.json")
        saved = json.loads(checkpoint.read_text())
        assert (saved["step"], saved["epoch"], saved["position"]) == (4, 0, 4)

        config = session.run_dir / "config.toml"
        config.write_text(config.read_text().replace("max_cost_usd = 200.0", "max_cost_usd = 1000.0"))
        backend = IonQBackend(IonQSettings(base_url=server.base_url, api_key=KEY, poll_initial=0.01, poll_cap=0.03),
                              backend_name="qpu.aria-1", shots_default=100)
        resumed = EngineSession.from_run_dir(session.run_dir, backend=backend)
        again = await resumed.run()
        await backend.close()
    assert again.status == "completed", again.message
    later = read_events(session.run_dir)[len(events):]
    kinds = [(type(e).__name__, getattr(e, "purpose", None)) for e in later
             if isinstance(e, (BatchExecuted, EpochFinished))]
    assert kinds[:2] == [("BatchExecuted", "validation"), ("EpochFinished", None)]  # epoch 0's, first
    assert [e.epoch for e in later if isinstance(e, EpochFinished)] == [0, 1]
    assert isinstance(later[-1], RunFinished)


async def test_a_target_the_server_does_not_list_is_refused_naming_it_before_anything_asks_about_it(tmp_path):
    """qpu.aria-2 (not served by the emulator): native gates met a bare 404 from its characterization, qis gates a
    400 from /jobs/estimate, neither naming quantum_target."""
    from engine.events import Error

    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0)) as server:
        for native in (True, False):
            backend = IonQBackend(IonQSettings(base_url=server.base_url, api_key=KEY), backend_name="qpu.aria-2")
            config = TrainingConfig(**{**TINY, "quantum_target": "qpu.aria-2", "max_cost_usd": 100.0,
                                       "use_native_gates": native})
            session = EngineSession(config, runs_dir=tmp_path / str(native), backend=backend)
            finished = await session.run()
            await backend.close()
            assert finished.status == "failed"
            (error,) = _of(read_events(session.run_dir), Error)
            assert error.message.startswith("quantum_target: target 'qpu.aria-2' is not listed"), error.message
        assert server.counters().jobs_created == 0


async def test_readout_calibration_is_in_the_estimate_and_reserved_at_its_own_shots(tmp_path, monkeypatch):
    """Calibration at 1,000,000 shots was left out of the run's estimate and reserved at the run's 100 shots: the
    run passed its own cap check and IonQ's session refused the job, blamed on the first step's circuits."""
    from engine.backends.ionq_session import SpendLedger
    from engine.events import Error

    ledger = SpendLedger(10.0, price_per_circuit_usd=1.0, priced_shots=100)
    assert ledger.reserve("a", 2, shots=50) == 2.0 and ledger.reserve("b", 1, shots=400) == 4.0
    with pytest.raises(IonQSpendCapError):
        ledger.reserve("c", 2, shots=300)  # 6 + 6 > 10

    monkeypatch.setenv("IONQ_API_KEY", KEY)
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0)) as server:
        config = TrainingConfig(**{**TINY, "backend": "ionq", "ionq_api_url": server.base_url, "max_cost_usd": 85.0,
                                   "use_native_gates": False, "readout_mitigation": "calibrate",
                                   "readout_calibration_shots": 1_000_000})
        session = EngineSession(config, runs_dir=tmp_path)
        finished = await session.run()
        events = read_events(session.run_dir)
        assert server.counters().jobs_created == 0
    assert finished.status == "failed" and exit_code(session) == 2
    (error,) = _of(events, Error)
    assert error.message.startswith("max_cost_usd: the run is estimated at $") and "readout calibration" in error.message


async def test_a_session_limit_the_run_set_stops_it_with_a_checkpoint_naming_the_field(tmp_path):
    """ionq_session_max_jobs = 2: IonQ's session refuses the third job. That was a failed run (exit 3) naming only
    the session's id, its paid steps lost with no checkpoint."""
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), seed=0)) as server:
        session, finished, events = await _run(tmp_path, server, max_cost_usd=500.0, ionq_session_max_jobs=2)
    assert finished.status == "stopped" and exit_code(session) == 4, finished.message
    assert finished.message.startswith("ionq_session_max_jobs: IonQ's session refused the step 2 spsa job")
    assert "raise ionq_session_max_jobs and resume the run" in finished.message
    (checkpoint,) = (session.run_dir / "checkpoints").glob("step-*.json")
    assert checkpoint.name == "step-000002.json"
