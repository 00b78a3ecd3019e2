"""The IonQ client against the emulator on 127.0.0.1: auth, every endpoint, retries and Retry-After,
duplicate-safe job creation, polling, both result styles, ordering by child_job_ids, payload chunking."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import numpy as np
import pytest

from engine.backends.base import Backend, BackendLimits
from engine.backends.emulator import EmulatorServer, EmulatorSettings, Fault, Timing
from engine.backends.ionq import IonQBackend, JobUpdateInfo
from engine.backends.ionq_client import IonQClient, IonQSettings, normalize_status
from engine.backends.ionq_errors import (
    IonQAuthError, IonQBadRequestError, IonQConnectionError, IonQError, IonQJobFailedError, IonQRateLimitError,
    IonQServerError, IonQTimeoutError,
)
from engine.backends.ionq_payload import CLIENT_ID_KEY, ENVELOPE_BYTES, JobOptions, build_chunks, gate_lists
from engine.backends.local import LocalSimulatorBackend
from engine.circuits import CircuitBatch, TemplateBuilder, parse_circuit
from engine.sim import circuit_probabilities, probabilities

KEY = "emulator-key"
FAST = dict(poll_initial=0.01, poll_factor=1.5, poll_cap=0.05, backoff_base=0.01, backoff_cap=0.05, max_retries=4)


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(seed=0)) as s:
        yield s


@pytest.fixture
def emu(server):
    server.reset()
    return server


def client(emu: EmulatorServer, **kw) -> IonQClient:
    return IonQClient(emu.base_url, kw.pop("api_key", KEY), **{**FAST, **kw})


def model_template(n: int = 3, layers: int = 1, gateset: str = "qis"):
    b = TemplateBuilder(n, n_inputs=n, gateset=gateset)
    if gateset == "qis":
        for q in range(n):
            b.gate("ry", q, angles=(b.input(q),))
        for _ in range(layers):
            for q in range(n):
                b.gate("rx", q, angles=(b.trainable(),))
            for q in range(n - 1):
                b.gate("cnot", q + 1, controls=(q,))
    else:
        for q in range(n):
            b.gate("gpi2", q, angles=(b.input(q),))
            b.gate("gpi", q, angles=(b.trainable(),))
        for q in range(n - 1):
            b.gate("ms", q, q + 1, angles=(b.trainable(), 0.0, 0.25))
    return b.build()


def batch_of(rows: int, n: int = 3, gateset: str = "qis", seed: int = 0) -> CircuitBatch:
    t = model_template(n, gateset=gateset)
    rng = np.random.default_rng(seed)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.normal(size=(rows, t.n_inputs)))


def body_for(batch: CircuitBatch, **opts) -> tuple[bytes, str]:
    (chunk,) = build_chunks(batch.template, batch.angles(), JobOptions(**opts))
    return chunk.body, chunk.client_id


# ------------------------------------------------------------------------------------------- auth, keys


async def test_a_wrong_key_gives_invalid_ionq_api_key_and_never_shows_the_key(emu, caplog, capsys):
    secret = "sk-this-is-the-secret-key-123"
    caplog.set_level(logging.DEBUG)
    c = client(emu, api_key=secret)
    with pytest.raises(IonQAuthError) as info:
        await c.whoami()
    assert str(info.value) == "invalid IonQ API key"
    with pytest.raises(IonQAuthError):
        batch = batch_of(2)
        await IonQBackend(c).run(batch)
    await c.aclose()
    import traceback
    text = "".join(traceback.format_exception(info.value)) + repr(info.value) + repr(c)
    out = capsys.readouterr()
    everything = text + caplog.text + out.out + out.err
    assert secret not in everything
    assert "apiKey" not in caplog.text


async def test_the_key_and_url_come_from_the_environment(emu, monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", KEY)
    monkeypatch.setenv("IONQ_API_URL", emu.base_url)
    async with IonQClient(**FAST) as c:
        assert c.base_url == emu.base_url
        assert (await c.whoami())["key_name"] == "emulator key 1"
    monkeypatch.delenv("IONQ_API_KEY")
    with pytest.raises(IonQAuthError, match="no IonQ API key"):
        IonQClient(emu.base_url)


@pytest.mark.parametrize("key", ["SECRETfake\u00e9", "SECRETfake ", "SECRET\nfake", "SECRETfake\x00"])
def test_a_key_no_header_can_carry_is_refused_at_once_without_being_said(key):
    # a non-ASCII key raised a bare UnicodeEncodeError holding "apiKey <key>"; one with a NUL or a space was
    # retried five times (~13 s) as a connection failure, httpcore logging the header at DEBUG
    import traceback

    with pytest.raises(IonQAuthError) as info:
        IonQClient("http://127.0.0.1:1/v0.4", key)
    text = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert "SECRET" not in text and "cannot go into an HTTP header" in text


def test_settings_and_client_reprs_hide_the_key():
    s = IonQSettings(base_url="http://127.0.0.1:1/v0.4", api_key="sk-secret")
    assert "sk-secret" not in repr(s)
    assert "sk-secret" not in repr(s.client())


def test_running_is_an_alias_of_started():
    assert normalize_status("running") == "started"
    assert normalize_status("started") == "started"


# -------------------------------------------------------------------------------------------- endpoints


async def test_account_backends_characterizations_and_costs(emu):
    async with client(emu) as c:
        assert {b["backend"] for b in await c.backends()} >= {"simulator", "qpu.aria-1", "qpu.forte-1",
                                                              "qpu.forte-enterprise-1"}
        chars = await c.characterizations("qpu.aria-1")
        assert chars["characterizations"][0]["fidelity"]["2q"]["median"] == 0.996
        est = await c.estimate("qpu.aria-1", qubits=3, shots=100, gates_1q=10, gates_2q=2)
        assert est["estimated_total_cost"] == pytest.approx(max(1.0, 100 * (10 * 0.0001 + 2 * 0.001)))
        body, cid = body_for(batch_of(2))
        job_id = await c.create_job(body, client_id=cid, backend="simulator", circuits=2)
        assert (await c.job_cost(job_id))["estimated_cost"]["value"] == 0.0
        assert c.stats.calls["GET /jobs/estimate"] == 1 and c.stats.calls["GET /whoami"] == 0


async def test_multi_circuit_results_follow_child_job_ids_not_json_order(emu):
    emu.reset(reverse_aggregates=True)
    batch = batch_of(6)
    async with client(emu) as c:
        body, cid = body_for(batch)
        job_id = await c.create_job(body)  # client UUID and backend read from the body
        job = await c.wait(job_id, timeout=10)
        dists = await c.get_aggregated(job)
        dense = await c.result_probabilities(job, 3)
    expected = probabilities(batch.template, batch.angles())
    np.testing.assert_allclose(dense, expected, atol=1e-12)
    for k, d in enumerate(dists):
        np.testing.assert_allclose([d.get(str(i), 0.0) for i in range(8)], expected[k], atol=1e-12)


@pytest.mark.parametrize("style", ["artifact", "url"])
async def test_both_result_styles_single_and_multi(emu, style):
    emu.reset(results_style=style)
    async with client(emu) as c:
        be = IonQBackend(c)
        for rows in (1, 4):
            batch = batch_of(rows)
            got = await be.run(batch)
            np.testing.assert_allclose(got.probabilities, probabilities(batch.template, batch.angles()), atol=1e-12)
        ep = "GET /jobs/{id}/artifacts/{artifact}" if style == "artifact" else "GET /jobs/{id}/results/probabilities"
        assert c.stats.calls[ep] >= 1
        single = await c.get_probabilities((await be.run(batch_of(1))).job_ids[0])
        assert abs(sum(single.values()) - 1) < 1e-12


async def test_list_jobs_follows_pagination(emu):
    async with client(emu) as c:
        ids = []
        for _ in range(5):
            body, cid = body_for(batch_of(2))
            ids.append(await c.create_job(body))
        listed = [j["id"] async for j in c.list_jobs(limit=2)]
        assert listed == ids[::-1]
        assert c.stats.calls["GET /jobs"] == 3


async def test_cancel_one_and_many_and_a_canceled_job_raises_on_wait(emu):
    emu.reset(timing=Timing(queue_s=60.0))
    async with client(emu) as c:
        ids = []
        for _ in range(3):
            body, _ = body_for(batch_of(2))
            ids.append(await c.create_job(body))
        assert (await c.cancel(ids[0]))["status"] == "canceled"
        assert (await c.cancel_many(ids[1:]))["ids"] == ids[1:]
        with pytest.raises(IonQJobFailedError) as info:
            await c.wait(ids[2], timeout=5)
        assert info.value.code == "Canceled" and info.value.job_id == ids[2]


# --------------------------------------------------------------------------------------------- retries


async def test_gets_retry_with_jittered_exponential_backoff(emu):
    emu.reset(faults=(Fault("502", "GET /whoami", count=3),))
    sleeps: list[float] = []

    async def sleep(d: float) -> None:
        sleeps.append(d)

    async with client(emu, sleep=sleep, backoff_base=1.0, backoff_cap=100.0) as c:
        await c.whoami()
        assert c.stats.retries == 3 and c.stats.calls["GET /whoami"] == 4
    for attempt, d in enumerate(sleeps):
        assert 2 ** attempt / 2 <= d <= 2 ** attempt


async def test_retry_after_is_honoured(emu):
    emu.reset(faults=(Fault("429", "GET /jobs/{id}", retry_after=0.07), Fault("503", "GET /jobs/{id}")))
    sleeps: list[float] = []

    async def sleep(d: float) -> None:
        sleeps.append(d)
        await asyncio.sleep(0)

    async with client(emu, sleep=sleep) as c:
        body, _ = body_for(batch_of(2))
        job_id = await c.create_job(body)
        await asyncio.sleep(0.1)
        job = await c.get_job(job_id)
    assert job["id"] == job_id
    assert sleeps[0] == pytest.approx(0.07)
    assert c.stats.rate_limited == 1 and c.stats.retries == 2


async def test_a_retry_after_beyond_the_limit_raises_at_once(emu):
    emu.reset(faults=(Fault("429", "GET /whoami", retry_after=600),))
    async with client(emu, max_retry_after=60) as c:
        with pytest.raises(IonQRateLimitError) as info:
            await c.whoami()
    assert info.value.retry_after == 600 and c.stats.calls["GET /whoami"] == 1


async def test_retries_are_bounded_and_end_in_a_typed_error(emu):
    emu.reset(faults=(Fault("503", "GET /whoami", count=50),))
    async with client(emu, max_retries=2) as c:
        with pytest.raises(IonQServerError) as info:
            await c.whoami()
    assert info.value.status == 503 and c.stats.calls["GET /whoami"] == 3


async def test_bad_requests_are_not_retried_and_carry_ionqs_message_and_keys(emu):
    async with client(emu) as c:
        body = {"type": "ionq.circuit.v1", "backend": "simulator", "metadata": {CLIENT_ID_KEY: "x"},
                "input": {"gateset": "qis", "qubits": 1, "circuit": [{"gate": "rx", "target": 0}]}}
        with pytest.raises(IonQBadRequestError) as info:
            await c.create_job(body)
    assert info.value.keys == ("input.circuit[0].rotation",)
    assert "rotation" in info.value.message and c.stats.calls["POST /jobs"] == 1 and c.stats.retries == 0


async def test_a_post_that_never_reached_the_server_is_retried_blindly():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with IonQClient(f"http://127.0.0.1:{port}/v0.4", KEY, **{**FAST, "max_retries": 2}) as c:
        with pytest.raises(IonQConnectionError):
            await c.create_job({"type": "ionq.circuit.v1", "backend": "simulator", "metadata": {CLIENT_ID_KEY: "a"},
                                "input": {"gateset": "qis", "circuit": []}})
    assert c.stats.calls["POST /jobs"] == 3 and c.stats.lookups == 0


async def test_a_post_whose_response_is_lost_is_found_by_its_client_uuid_not_resubmitted(emu):
    emu.reset(faults=(Fault("lost_response", "POST /jobs"),))
    async with client(emu) as c:
        body, cid = body_for(batch_of(3))
        job_id = await c.create_job(body, client_id=cid, backend="simulator", circuits=3)
        job = await c.get_job(job_id)
    assert job["metadata"][CLIENT_ID_KEY] == cid
    assert c.stats.lookups == 1 and c.stats.calls["POST /jobs"] == 1
    counters = emu.counters()
    assert counters.jobs_created == 1 and counters.duplicates == 0


async def test_a_post_that_failed_before_creating_the_job_is_looked_up_then_resubmitted(emu):
    emu.reset(faults=(Fault("reset", "POST /jobs"), Fault("502", "POST /jobs")))
    async with client(emu) as c:
        body, cid = body_for(batch_of(3))
        await c.create_job(body)
    assert c.stats.lookups == 2 and c.stats.calls["POST /jobs"] == 3
    assert emu.counters().jobs_created == 1


def test_create_job_refuses_a_body_without_a_client_uuid(emu):
    async def go():
        async with client(emu) as c:
            await c.create_job({"type": "ionq.circuit.v1", "backend": "simulator", "input": {}})

    with pytest.raises(ValueError, match="qstore_client_id"):
        asyncio.run(go())


# -------------------------------------------------------------------------------------------- polling


async def test_polling_grows_by_the_factor_up_to_the_cap(emu):
    clock = ManualClock()
    emu.reset(clock=clock, timing=Timing(job_overhead_s=10.0))
    sleeps: list[float] = []

    async def sleep(d: float) -> None:
        sleeps.append(d)
        clock.now += d

    statuses: list[str] = []
    async with client(emu, sleep=sleep, clock=clock, poll_initial=1.0, poll_factor=1.5, poll_cap=4.0) as c:
        body, _ = body_for(batch_of(2))
        job_id = await c.create_job(body)
        for _ in range(200):  # the simulation itself runs in a worker thread
            if emu.call(lambda e: e.store.jobs[job_id].sim_done):
                break
            await asyncio.sleep(0.01)
        job = await c.wait(job_id, timeout=100, on_update=lambda j: statuses.append(j["status"]))
    assert job["status"] == "completed"
    assert sleeps == [1.0, 1.5, 2.25, 3.375, 4.0]
    assert statuses == ["started", "completed"]
    assert c.stats.execution_time_s == pytest.approx(10.0)


async def test_waiting_longer_than_max_queue_wait_time_raises_a_timeout(emu):
    clock = ManualClock()
    emu.reset(clock=clock, timing=Timing(queue_s=1000.0))

    async def sleep(d: float) -> None:
        clock.now += d

    async with client(emu, sleep=sleep, clock=clock, poll_initial=1.0, poll_cap=4.0) as c:
        body, _ = body_for(batch_of(2))
        job_id = await c.create_job(body)
        with pytest.raises(IonQTimeoutError) as info:
            await c.wait(job_id, timeout=20)
    assert info.value.job_id == job_id and info.value.last_status == "ready"
    assert clock.now == pytest.approx(20.0)


async def test_a_failed_job_raises_with_ionqs_failure_code_and_message(emu):
    emu.reset(faults=(Fault("job_failed", "POST /jobs", code="QuotaExhaustedError", message="no credit"),))
    async with client(emu) as c:
        body, _ = body_for(batch_of(2))
        job_id = await c.create_job(body)
        with pytest.raises(IonQJobFailedError) as info:
            await c.wait(job_id, timeout=10)
    assert (info.value.job_id, info.value.code, info.value.message) == (job_id, "QuotaExhaustedError", "no credit")


# -------------------------------------------------------------------------------------------- payload


def test_gate_lists_are_ionq_json_that_parses_back_to_the_same_circuits():
    for gateset in ("qis", "native"):
        batch = batch_of(3, gateset=gateset)
        angles = batch.angles()
        for row, text in zip(angles, gate_lists(batch.template, angles)):
            parsed = parse_circuit({"qubits": 3, "gateset": gateset, "circuit": json.loads(text)})
            expected = batch.template.circuit_from_angles(row)
            assert parsed.gates == expected.gates
            np.testing.assert_allclose(circuit_probabilities(parsed), circuit_probabilities(expected))


def test_chunks_split_at_the_circuit_gate_and_byte_limits():
    batch = batch_of(10)
    angles = batch.angles()
    gates = len(batch.template.ops)
    by_circuits = build_chunks(batch.template, angles, JobOptions(), BackendLimits(max_circuits=4))
    assert [(c.start, c.stop) for c in by_circuits] == [(0, 4), (4, 8), (8, 10)]
    by_gates = build_chunks(batch.template, angles, JobOptions(), BackendLimits(max_gates=3 * gates))
    assert [c.n_circuits for c in by_gates] == [3, 3, 3, 1] and by_gates[-1].job_type == "ionq.circuit.v1"
    cost = max(len(g) for g in gate_lists(batch.template, angles)) + len('{"circuit":},')
    max_bytes = ENVELOPE_BYTES + 3 * cost
    by_bytes = build_chunks(batch.template, angles, JobOptions(), BackendLimits(max_bytes=max_bytes))
    assert [c.n_circuits for c in by_bytes] == [3, 3, 3, 1] and all(len(c.body) <= max_bytes for c in by_bytes)
    for chunks in (by_circuits, by_gates, by_bytes):
        assert len({c.client_id for c in chunks}) == len(chunks)
        assert [c.start for c in chunks][1:] == [c.stop for c in chunks][:-1]
        for c in chunks:
            body = json.loads(c.body)
            assert body["metadata"] == {CLIENT_ID_KEY: c.client_id, "qstore_rows": f"{c.start}-{c.stop}"}
    with pytest.raises(ValueError, match="one circuit has"):
        build_chunks(batch.template, angles, JobOptions(), BackendLimits(max_gates=gates - 1))


def test_job_options_write_noise_only_for_the_simulator():
    batch = batch_of(2)
    body = json.loads(build_chunks(batch.template, batch.angles(), JobOptions(noise_model="aria-1",
                                                                                 noise_seed=3))[0].body)
    assert body["noise"] == {"model": "aria-1", "seed": 3}
    body = json.loads(build_chunks(batch.template, batch.angles(), JobOptions(backend="qpu.aria-1",
                                                                                 noise_model="aria-1"))[0].body)
    assert "noise" not in body and body["backend"] == "qpu.aria-1"
    with pytest.raises(ValueError, match="shots"):
        build_chunks(batch.template, batch.angles(), JobOptions(shots=0))


# --------------------------------------------------------------------------------------------- backend


async def test_backend_matches_the_local_simulator_with_the_same_seed(emu):
    batch = batch_of(20)
    async with client(emu) as c:
        be = IonQBackend(c)
        assert isinstance(be, Backend) and be.name == "ionq:simulator"
        for shots in (0, 300):
            got = await be.run(batch, shots=shots, seed=11)
            ref = await LocalSimulatorBackend().run(batch, shots=shots, seed=11)
            np.testing.assert_allclose(got.probabilities, ref.probabilities, atol=1e-12)
            if shots:
                np.testing.assert_array_equal(got.counts, ref.counts)
            else:
                assert got.counts is None
            assert set(got.timings) >= {"submit", "queue", "execute", "post_process"}
            assert len(got.job_ids) == 1


async def test_backend_sends_native_gateset_for_native_templates(emu):
    emu.reset(record=True)
    batch = batch_of(4, gateset="native")
    async with client(emu) as c:
        got = await IonQBackend(c).run(batch)
    np.testing.assert_allclose(got.probabilities, probabilities(batch.template, batch.angles()), atol=1e-12)
    (post,) = [x for x in emu.exchanges() if x.endpoint == "POST /jobs"]
    assert post.request["input"]["gateset"] == "native"
    assert post.request["input"]["circuits"][0]["circuit"][0]["gate"] == "gpi2"


async def test_backend_splits_big_batches_runs_chunks_concurrently_and_keeps_order(emu):
    batch = batch_of(23)
    updates: list[JobUpdateInfo] = []
    async with client(emu) as c:
        be = IonQBackend(c, max_concurrent_jobs=3, on_job_update=updates.append,
                         limits=BackendLimits(max_circuits=5))
        got = await be.run(batch, shots=100, seed=4)
        ref = await LocalSimulatorBackend().run(batch, shots=100, seed=4)
        np.testing.assert_array_equal(got.counts, ref.counts)
        assert len(got.job_ids) == 5 and c.stats.circuits_per_call == [5, 5, 5, 5, 3]
    assert emu.counters().jobs_created == 5
    done = [u for u in updates if u.status == "completed"]
    assert sorted(u.rows for u in done) == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    assert all(u.run_s is not None for u in done)
    assert {u.status for u in updates} >= {"submitted", "completed"}


async def test_noisy_targets_return_counts_from_their_shots(emu):
    batch = batch_of(3)
    async with client(emu) as c:
        got = await IonQBackend(c, backend_name="qpu.aria-1").run(batch, seed=1)
    assert got.shots == 1000
    np.testing.assert_array_equal(got.counts.sum(axis=1), [1000] * 3)
    ideal = probabilities(batch.template, batch.angles())
    assert np.abs(got.probabilities - ideal).sum(axis=1).max() < 0.3


async def _abandoned_with_a_job_in_flight(c):
    """A backend whose run was cancelled (as a stop does) while its job waits in IonQ's queue."""
    be = IonQBackend(c)
    task = asyncio.create_task(be.run(batch_of(4)))
    for _ in range(200):
        if be.in_flight:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return be


async def test_cancel_all_cancels_in_flight_jobs_when_a_run_is_stopped(emu):
    emu.reset(timing=Timing(queue_s=60.0))
    async with client(emu) as c:
        be = await _abandoned_with_a_job_in_flight(c)
        ids = await be.cancel_all()
        assert len(ids) == 1 and be.in_flight == []
        assert (await c.get_job(ids[0]))["status"] == "canceled"


async def test_a_cancel_that_fails_returns_no_ids_and_warns_naming_them(emu, caplog):
    """The session logged "cancelled 1 IonQ job(s)" right after "could not cancel 1 IonQ job(s)"."""
    emu.reset(timing=Timing(queue_s=60.0), faults=(Fault("500", "PUT /jobs/status/cancel", count=50),))
    async with client(emu) as c:
        be = await _abandoned_with_a_job_in_flight(c)
        (job_id,) = be.in_flight
        with caplog.at_level(logging.WARNING, logger="engine.ionq"):
            assert await be.cancel_all() == []
        assert be.in_flight == [job_id]  # still running at IonQ, as far as we know
    assert f"could not cancel 1 IonQ job(s) ({job_id})" in caplog.text


async def test_a_failed_chunk_cancels_the_batchs_other_jobs_and_names_its_rows(emu):
    # Each job takes 3 s, one at a time: the failure is seen long before another job can complete, even on a
    # loaded machine (with 0.3 s one job completed first in a full run). The test does not wait for them.
    """The emulator runs one job at a time, in the order the concurrent POSTs created them, and any of them may
    get the fault: the jobs that ran before the failed one completed; every other one is canceled, none left
    to run (1 s a job: room for the client to see the failure and cancel, even on a loaded machine)."""
    emu.reset(timing=Timing(job_overhead_s=1.0, max_parallel_jobs=1),
              faults=(Fault("job_failed", "POST /jobs", code="InternalError"),))
    async with client(emu) as c:
        be = IonQBackend(c, max_concurrent_jobs=4, limits=BackendLimits(max_circuits=2))
        with pytest.raises(IonQJobFailedError) as info:
            await be.run(batch_of(6))
        start, stop = info.value.circuits
        assert info.value.code == "InternalError" and (start, stop) in [(0, 2), (2, 4), (4, 6)]
        assert f"circuits {start}..{stop - 1}" in str(info.value)
        jobs = [j async for j in c.list_jobs()]
    assert len(jobs) == 3 and [j["status"] for j in jobs].count("failed") == 1
    failed_at = next(j["completed_at"] for j in jobs if j["status"] == "failed")
    for j in jobs:
        done_first = j["status"] == "completed" and j["completed_at"] < failed_at
        assert j["status"] in ("failed", "canceled") or done_first, j
    assert be.in_flight == []


async def test_an_ionq_error_is_the_base_of_every_client_error():
    for cls in (IonQAuthError, IonQBadRequestError, IonQRateLimitError, IonQServerError, IonQTimeoutError,
                IonQConnectionError, IonQJobFailedError):
        assert issubclass(cls, IonQError)
