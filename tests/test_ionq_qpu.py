"""Ready for a QPU, against the emulator over loopback HTTP: error mitigation and aggregation settings,
sessions with limits, spend from actual job costs and the cap, dry runs, per-shot histograms, the target
list and characterizations. Every request body sent and response read here validates against the spec."""

from __future__ import annotations

import copy
import json

import jsonschema
import numpy as np
import pytest

from engine.backends.base import BackendLimits
from engine.backends.emulator import EmulatorServer, EmulatorSettings, Exchange
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_backends import BUILTIN_TARGETS, latest_characterization, parse_characterization, target_list
from engine.backends.ionq_client import IonQClient
from engine.backends.ionq_errors import IonQError, IonQSpendCapError
from engine.backends.ionq_options import ErrorMitigation, JobSettingsError
from engine.backends.ionq_payload import JobOptions, build_chunks
from engine.backends.ionq_session import QpuSession, SessionLimits, SpendLedger, JobCostBooked
from engine.circuits import CircuitBatch, TemplateBuilder
from engine.sim import probabilities
from test_ionq_conformance import SPEC_PATH, _nullable

KEY = "emulator-key"
FAST = dict(poll_initial=0.01, poll_factor=1.5, poll_cap=0.03, backoff_base=0.01, backoff_cap=0.02)


@pytest.fixture(scope="module")
def spec() -> dict:
    return {"components": _nullable(copy.deepcopy(json.loads(SPEC_PATH.read_bytes())["components"]))}


def errors(spec: dict, name: str, body: object) -> list[str]:
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(body)]


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(seed=0, record=True)) as s:
        yield s


SESSION_SCHEMAS = {("POST /sessions", 201): "Session", ("GET /sessions/{session_id}", 200): "Session",
                   ("POST /sessions/{session_id}/end", 200): "Session", ("GET /sessions", 200): "SessionsResponse"}


def conformance_errors(spec: dict, x: Exchange) -> list[str]:
    """Every request body sent and response read, against the spec (tests/test_ionq_conformance.py's tables)."""
    from test_ionq_conformance import request_schema, response_schema

    if x.endpoint == "POST /sessions" and x.request is not None:
        found = errors(spec, "CreateSessionRequest", x.request)
        if found:
            return found
    if (x.endpoint, x.status) in SESSION_SCHEMAS:
        return errors(spec, SESSION_SCHEMAS[(x.endpoint, x.status)], x.response)
    out: list[str] = []
    req = request_schema(x)
    if req is not None and x.status < 400:
        out += [e.message for e in jsonschema.Draft7Validator({**req, "components": spec["components"]})
                .iter_errors(x.request)]
    if x.endpoint == "GET /jobs/{id}/artifacts/{artifact}" and x.path.endswith("/histogram"):
        return out + errors(spec, "IonqResultHistogramJsonV1", x.response)
    schema = response_schema(x)
    return out + [e.message for e in jsonschema.Draft7Validator({**schema, "components": spec["components"]})
                  .iter_errors(x.response)]


@pytest.fixture
def emu(server, spec):
    server.reset()
    yield server
    for x in server.exchanges():
        found = conformance_errors(spec, x)
        assert not found, f"{x.endpoint} {x.status}: {found[:3]}"


def client(emu: EmulatorServer) -> IonQClient:
    return IonQClient(emu.base_url, KEY, **FAST)


def batch_of(rows: int, n: int = 3, seed: int = 0) -> CircuitBatch:
    b = TemplateBuilder(n, n_inputs=n)
    for q in range(n):
        b.gate("ry", q, angles=(b.input(q),))
        b.gate("rz", q, angles=(b.trainable(),))
    for q in range(n - 1):
        b.gate("cnot", q + 1, controls=(q,))
    t = b.build()
    rng = np.random.default_rng(seed)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.normal(size=(rows, n)))


def sent(emu: EmulatorServer, endpoint: str) -> list[Exchange]:
    return [x for x in emu.exchanges() if x.endpoint == endpoint]


# ------------------------------------------------------------------------------- error mitigation


def test_debiasing_follows_ionqs_default_and_refuses_what_ionq_refuses():
    default = ErrorMitigation()
    assert default.settings_body() is None, "IonQ's default: the key is left out"
    assert default.effective_debiasing("qpu.aria-1", 500) and not default.effective_debiasing("qpu.aria-1", 499)
    assert not default.effective_debiasing("simulator", 1000)
    assert not default.effective_debiasing("qpu.aria-1", 1000, native=True), "native-gate jobs run as submitted"
    with pytest.raises(JobSettingsError, match="QPUs only"):
        ErrorMitigation(debiasing=True).check("simulator", 1000)
    assert ErrorMitigation(debiasing=False).settings_body() == {"error_mitigation": {"debiasing": False}}
    with pytest.raises(JobSettingsError) as e:
        ErrorMitigation(debiasing=True).check("qpu.forte-1", 100)
    assert e.value.field == "ionq_debiasing" and "at least 500 shots" in str(e.value) and "100" in str(e.value)
    with pytest.raises(JobSettingsError) as e:
        ErrorMitigation(debiasing=False, aggregation="voting").check("qpu.forte-1", 1000)
    assert e.value.field == "ionq_aggregation" and "debiasing is off" in str(e.value)
    ErrorMitigation(aggregation="voting").check("qpu.forte-1", 1000)  # IonQ debiases 1000 shots by default
    assert ErrorMitigation(aggregation="voting").describe("qpu.forte-1", 1000) == \
        "debiasing on (IonQ's default), aggregation voting (sharpened)"


def test_job_bodies_with_settings_dry_run_and_session_conform(spec):
    t = batch_of(3).template
    options = JobOptions("qpu.aria-1", 1000, settings={"error_mitigation": {"debiasing": True}}, dry_run=True,
                         session_id="3fa85f64-5717-4562-b3fc-2c963f66afa6")
    multi, = build_chunks(t, batch_of(3).angles(), options)
    single, = build_chunks(t, batch_of(1).angles(), options)
    body = json.loads(multi.body)
    assert body["settings"] == {"error_mitigation": {"debiasing": True}} and body["dry_run"] is True
    assert body["session_id"] == options.session_id
    assert not errors(spec, "MultiCircuitJobCreationPayload", body)
    assert not errors(spec, "CircuitJobCreationPayload", json.loads(single.body))


async def test_voting_reads_each_circuits_sharpened_distribution_in_input_order(emu, spec):
    batch = batch_of(4)
    async with client(emu) as c:
        backend = IonQBackend(c, backend_name="qpu.aria-1",
                              mitigation=ErrorMitigation(debiasing=True, aggregation="voting"))
        result = await backend.run(batch, shots=1000, seed=3)
        average = await IonQBackend(c, backend_name="qpu.aria-1", mitigation=ErrorMitigation(debiasing=True),
                                    read_histograms=False).run(batch, shots=1000, seed=3)
    post = sent(emu, "POST /jobs")[0]
    assert post.request["settings"] == {"error_mitigation": {"debiasing": True}}
    reads = [x for x in sent(emu, "GET /jobs/{id}/results/probabilities")]
    assert len(reads) == 4 and all("sharpen=true" in x.path for x in reads)
    assert backend.result_sources == {"sharpened probabilities": 4}
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    # Plurality voting sharpens each circuit's own distribution: never flatter than the average.
    assert (result.probabilities.max(axis=1) >= average.probabilities.max(axis=1) - 1e-12).all()
    assert not np.allclose(result.probabilities, average.probabilities)
    for x in reads:
        assert not errors(spec, "GetResultsResponse", x.response)


async def test_a_debiasing_job_with_too_few_shots_is_refused_before_it_is_sent(emu):
    async with client(emu) as c:
        backend = IonQBackend(c, backend_name="qpu.aria-1", mitigation=ErrorMitigation(debiasing=True))
        with pytest.raises(JobSettingsError, match="ionq_debiasing"):
            await backend.run(batch_of(2), shots=100)
    assert emu.counters().jobs_created == 0


# -------------------------------------------------------------------------------- per-shot results


async def test_shot_based_runs_read_histograms_in_input_order(emu, spec):
    batch = batch_of(5)
    async with client(emu) as c:
        backend = IonQBackend(c, noise_model="aria-1")
        result = await backend.run(batch, shots=400, seed=5)
        plain = await IonQBackend(c, noise_model="aria-1", read_histograms=False).run(batch, shots=400, seed=5)
    assert backend.result_sources == {"histogram": 5}
    np.testing.assert_array_equal(result.counts, plain.counts)  # same seed: the histogram is the probabilities' counts
    assert (result.counts.sum(axis=1) == 400).all()
    histograms = [x for x in sent(emu, "GET /jobs/{id}/artifacts/{artifact}") if x.path.endswith("/histogram")]
    assert len(histograms) == 5
    for x in histograms:
        assert not errors(spec, "IonqResultHistogramJsonV1", x.response)


async def test_exact_runs_keep_probabilities(emu):
    async with client(emu) as c:
        backend = IonQBackend(c)
        result = await backend.run(batch_of(3))
    assert backend.result_sources == {"probabilities": 3}
    np.testing.assert_allclose(result.probabilities, probabilities(batch_of(3).template, batch_of(3).angles()),
                               atol=1e-12)


# ------------------------------------------------------------------------------- sessions and spend


async def test_a_qpu_run_opens_a_session_submits_inside_it_books_actual_costs_and_ends_it(emu, spec):
    updates: list[JobCostBooked] = []
    async with client(emu) as c:
        ledger = SpendLedger(cap_usd=50.0, price_per_circuit_usd=1.5, on_update=updates.append)
        limits = SessionLimits(cost_limit_usd=50.0, job_count_limit=10, duration_limit_min=30)
        async with QpuSession(c, "qpu.aria-1", limits) as session:
            backend = IonQBackend(c, backend_name="qpu.aria-1", spend=ledger, session_id=session.id,
                                  limits=BackendLimits(max_circuits=2))
            await backend.run(batch_of(3), shots=100, seed=1)
            info = await c.get_session(session.id)
            assert info["status"] in ("created", "started") and info["settings"]["cost_limit"]["value"] == 50.0
        assert session.ended
    (create,) = sent(emu, "POST /sessions")
    assert create.request == limits.request_body("qpu.aria-1")
    assert not errors(spec, "CreateSessionRequest", create.request)
    ended = sent(emu, "POST /sessions/{session_id}/end")
    for x in [create, *sent(emu, "GET /sessions/{session_id}"), *ended]:
        assert x.status in (200, 201) and not errors(spec, "Session", x.response)
    assert len(ended) == 1 and ended[0].response["status"] == "ended"
    posts = sent(emu, "POST /jobs")
    assert len(posts) == 2 and {p.request["session_id"] for p in posts} == {session.id}
    costs = sent(emu, "GET /jobs/{id}/cost")
    assert len(costs) == 2
    for x in costs:
        assert not errors(spec, "GetJobCostResponse", x.response)
    actual = sum(x.response["cost"]["value"] for x in costs)
    assert ledger.spent_usd == pytest.approx(actual) and actual > 0
    assert [u.jobs for u in updates] == [1, 2] and updates[-1].spent_usd == pytest.approx(actual)
    assert all(u.billed for u in updates)


async def test_a_batch_that_would_pass_the_cap_is_not_submitted(emu):
    async with client(emu) as c:
        ledger = SpendLedger(cap_usd=10.0, price_per_circuit_usd=5.0)
        backend = IonQBackend(c, backend_name="qpu.aria-1", spend=ledger, limits=BackendLimits(max_circuits=2))
        await backend.run(batch_of(2), shots=100)
        spent = ledger.spent_usd
        with pytest.raises(IonQSpendCapError) as e:
            await backend.run(batch_of(2), shots=100)  # 2 x $5 on top of what was spent would pass $10
    assert e.value.cap_usd == 10.0 and "max_cost_usd" in str(e.value)
    assert emu.counters().jobs_created == 1 and ledger.spent_usd == spent and ledger.reserved_usd == 0


async def test_the_session_refuses_a_job_past_its_job_count_limit(emu):
    async with client(emu) as c:
        async with QpuSession(c, "qpu.aria-1", SessionLimits(100.0, 1, 10)) as session:
            backend = IonQBackend(c, backend_name="qpu.aria-1", session_id=session.id)
            await backend.run(batch_of(2), shots=100)
            with pytest.raises(IonQError, match="session"):
                await backend.run(batch_of(2), shots=100)
    assert emu.counters().jobs_created == 1


# ------------------------------------------------------------------------------------------ dry run


async def test_a_dry_run_validates_and_prices_every_chunk_and_runs_nothing(emu, spec):
    async with client(emu) as c:
        backend = IonQBackend(c, backend_name="qpu.forte-1", limits=BackendLimits(max_circuits=2))
        report = await backend.dry_run(batch_of(5), shots=100)
    assert len(report.jobs) == 3 and report.circuits == 5 and report.executed == 0
    assert report.estimated_usd > 0 and report.per_circuit_usd == pytest.approx(report.estimated_usd / 5)
    counters = emu.counters()
    assert counters.jobs_executed == 0 and counters.dry_runs == 3
    posts = sent(emu, "POST /jobs")
    assert all(p.request["dry_run"] is True for p in posts)
    for x in sent(emu, "GET /jobs/{id}/cost"):
        assert x.response["dry_run"] is True and x.response.get("cost", {"value": 0.0})["value"] == 0.0
        assert not errors(spec, "GetJobCostResponse", x.response)


# ---------------------------------------------------------------------------- targets and hardware


async def test_the_target_list_comes_from_ionq_and_flags_what_it_no_longer_lists(emu):
    async with client(emu) as c:
        listing = await target_list(c)
        char = await latest_characterization(c, "qpu.aria-1")
    assert listing.source == "ionq" and "qpu.forte-enterprise-1" in listing.names
    assert listing.problem("qpu.forte-1") is None
    assert "qpu.harmony" in (listing.problem("qpu.harmony") or "")
    assert char is not None and char.backend == "qpu.aria-1" and char.spam is not None


async def test_offline_the_built_in_list_is_used_and_says_why():
    async with IonQClient("http://127.0.0.1:9/v0.4", KEY, max_retries=0, **FAST) as c:
        listing = await target_list(c)
    assert listing.source == "builtin" and listing.targets == BUILTIN_TARGETS
    assert "unreachable" in listing.note and "qpu.forte-enterprise-1" in listing.names


def test_a_characterizations_connectivity_becomes_a_coupling_set():
    char = parse_characterization({"id": "c", "backend": "qpu.forte-1", "date": "2026-11-01", "qubits": 3,
                                   "connectivity": [[0, 1], [1, 2]], "fidelity": {"spam": {"median": 0.99}}})
    assert char.coupling_set() == {(0, 1), (1, 0), (1, 2), (2, 1)}
    with pytest.raises(IonQError, match=r"connectivity\[1\]"):
        parse_characterization({"id": "c", "connectivity": [[0, 1], [2, 2]]})


# --------------------------------------------------------------------------- the run around a backend


async def test_a_qpu_run_emits_mitigation_session_and_spend_events_and_always_ends_its_session(emu):
    from engine.backends.ionq_run import QpuRun, QpuRunSettings

    events: list = []
    settings = QpuRunSettings("qpu.aria-1", shots=100, native=False, max_cost_usd=40.0)
    async with client(emu) as c:
        backend = IonQBackend(c, backend_name="qpu.aria-1", limits=BackendLimits(max_circuits=2))
        run = QpuRun(settings, events.append)
        await run.start(backend, price_per_circuit_usd=1.0, planned_circuits=4, planned_jobs=2)
        try:
            await backend.run(batch_of(4), shots=100)
        finally:
            await run.finish()
        await run.finish()  # twice is harmless
    kinds = [e.kind for e in events]
    assert kinds == ["mitigation", "ionq_session", "spend_update", "spend_update", "ionq_session"], kinds
    opened, ended = events[1], events[-1]
    assert (opened.status, ended.status) == ("opened", "ended") and opened.session_id == ended.session_id
    assert opened.job_count_limit == 3 and opened.cost_limit_usd == 40.0  # 2 planned jobs + a tenth, rounded up
    assert events[3].spent_usd == pytest.approx(events[2].job_usd + events[3].job_usd)
    assert events[3].estimate_usd == 4.0 and events[0].ionq == "debiasing off (IonQ's default), aggregation average"
    assert {p.request["session_id"] for p in sent(emu, "POST /jobs")} == {opened.session_id}


async def test_a_target_ionq_no_longer_lists_is_refused_naming_the_field(emu):
    from engine.backends.ionq_run import QpuRun, QpuRunSettings, TargetUnavailableError

    async with client(emu) as c:
        run = QpuRun(QpuRunSettings("qpu.harmony-1", shots=100, native=False, max_cost_usd=5.0), lambda e: None)
        with pytest.raises(TargetUnavailableError, match="quantum_target: target 'qpu.harmony-1' is not listed"):
            await run.start(IonQBackend(c, backend_name="qpu.harmony-1"), price_per_circuit_usd=1.0,
                            planned_circuits=1, planned_jobs=1)
    assert emu.counters().jobs_created == 0 and not sent(emu, "POST /sessions")


async def test_a_dry_run_step_prices_the_whole_run_and_runs_nothing(emu):
    from engine.backends.ionq_run import dry_run_step

    async with client(emu) as c:
        backend = IonQBackend(c, backend_name="qpu.forte-1", limits=BackendLimits(max_circuits=3))
        report = await dry_run_step(backend, [batch_of(4), batch_of(2, seed=1)], shots=100, planned_circuits=600)
    assert (report.jobs, report.circuits, report.executed) == (3, 6, 0)
    assert report.planned_usd == pytest.approx(report.per_circuit_usd * 600) and report.planned_usd > 0
    assert emu.counters().jobs_executed == 0


async def test_a_failed_batch_books_its_canceled_jobs_and_leaves_no_reservation(emu):
    from engine.backends.emulator import Fault

    emu.set_faults([Fault("job_failed", "POST /jobs", code="QuantumComputerError")])
    async with client(emu) as c:
        ledger = SpendLedger(cap_usd=100.0, price_per_circuit_usd=1.0)
        backend = IonQBackend(c, backend_name="qpu.aria-1", spend=ledger, limits=BackendLimits(max_circuits=2))
        with pytest.raises(IonQError):
            await backend.run(batch_of(4), shots=100)
        await backend.cancel_all()  # what the session does as the run ends
        statuses = [(await c.get_job(j))["status"] for j in [x.response["id"] for x in sent(emu, "POST /jobs")
                                                            if isinstance(x.response, dict) and "id" in x.response]]
    assert ledger.reserved_usd == 0 and len(ledger.jobs) == emu.counters().jobs_created
    assert statuses and set(statuses) <= {"failed", "canceled", "completed"}, statuses  # nothing left running
