"""The fault matrix: every injected fault, on every endpoint a run touches, for single- and multi-circuit
jobs. Each circuit ends with a result equal to the local simulator's (same seed) or a clear typed error;
the emulator never sees two jobs for one chunk."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from engine.backends.base import BackendLimits
from engine.backends.emulator import EmulatorServer, EmulatorSettings, Fault, Timing
from engine.backends.emulator.faults import STATUS_FAULTS
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_client import IonQClient
from engine.backends.ionq_errors import IonQJobFailedError, IonQServerError
from engine.backends.local import LocalSimulatorBackend
from engine.circuits import CircuitBatch, TemplateBuilder
from ionq_late_proxy import LatePostProxy

KEY = "emulator-key"
SEED = 1234
SHOTS = 256
POST, GET_JOB, RESULT, LIST = "POST /jobs", "GET /jobs/{id}", "GET /jobs/{id}/artifacts/{artifact}", "GET /jobs"
GET_KINDS = (*STATUS_FAULTS, "reset", "slow", "lost_response", "malformed_json")
MATRIX = ([(k, POST) for k in (*GET_KINDS, "job_failed")] + [(k, GET_JOB) for k in GET_KINDS]
          + [(k, RESULT) for k in GET_KINDS])


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(seed=0)) as s:
        yield s


def make_client(server: EmulatorServer, max_retries: int = 4) -> IonQClient:
    return IonQClient(server.base_url, KEY, timeout=httpx.Timeout(0.3), max_retries=max_retries,
                      poll_initial=0.01, poll_factor=1.5, poll_cap=0.03, backoff_base=0.01, backoff_cap=0.04)


def batch_of(rows: int) -> CircuitBatch:
    b = TemplateBuilder(3, n_inputs=3)
    for q in range(3):
        b.gate("ry", q, angles=(b.input(q),))
        b.gate("rz", q, angles=(b.trainable(),))
    b.gate("cnot", 1, controls=(0,))
    b.gate("cnot", 2, controls=(1,))
    for q in range(3):
        b.gate("rx", q, angles=(b.trainable(),))
    t = b.build()
    rng = np.random.default_rng(rows)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.normal(size=(rows, 3)))


async def run(server: EmulatorServer, batch: CircuitBatch, faults: list[Fault], *, max_circuits: int = 5000,
              max_retries: int = 4):
    server.reset(faults=tuple(faults))
    async with make_client(server, max_retries) as client:
        backend = IonQBackend(client, max_concurrent_jobs=3, limits=BackendLimits(max_circuits=max_circuits))
        try:
            return await backend.run(batch, shots=SHOTS, seed=SEED), None, client
        except Exception as e:  # the test inspects which error, and that it is typed
            return None, e, client


async def expected(batch: CircuitBatch):
    return await LocalSimulatorBackend().run(batch, shots=SHOTS, seed=SEED)


@pytest.mark.parametrize("rows", [1, 5], ids=["single", "multi"])
@pytest.mark.parametrize("kind, endpoint", MATRIX, ids=[f"{k}@{e}" for k, e in MATRIX])
async def test_each_fault_ends_in_the_right_results_or_a_typed_error_and_no_duplicate(server, kind, endpoint, rows):
    batch = batch_of(rows)
    fault = Fault(kind, endpoint, retry_after=0.02, delay_s=0.6, code="QuantumComputerError", message="ion lost")
    result, error, client = await run(server, batch, [fault])
    counters = server.counters()
    assert counters.faults_pending == 0, "the fault was injected"
    assert counters.duplicates == 0
    if kind == "job_failed":
        assert isinstance(error, IonQJobFailedError), error
        assert (error.code, error.message, error.circuits) == ("QuantumComputerError", "ion lost", (0, rows))
        assert counters.jobs_created == 1
        return
    assert error is None, repr(error)
    assert counters.jobs_created == 1
    ref = await expected(batch)
    np.testing.assert_array_equal(result.counts, ref.counts)
    np.testing.assert_allclose(result.probabilities, ref.probabilities)
    # A POST that created its job is found by its UUID at once: no retry needed.
    assert client.stats.retries >= 1 or (endpoint == POST and kind in ("slow", "lost_response", "malformed_json"))
    if endpoint == POST and kind != "job_failed":
        assert client.stats.lookups >= 1, "an uncertain POST is looked up before it is sent again"
    if kind == "429":
        assert client.stats.rate_limited == 1


@pytest.mark.parametrize("kind", ["429", "503", "reset", "lost_response"])
async def test_repeated_faults_across_chunks_still_give_one_job_per_chunk(server, kind):
    batch = batch_of(7)
    faults = [Fault(kind, POST, count=3, retry_after=0.01), Fault("502", LIST),
              Fault(kind, GET_JOB, count=2, retry_after=0.01)]
    result, error, client = await run(server, batch, faults, max_circuits=3)
    assert error is None, repr(error)
    counters = server.counters()
    assert counters.jobs_created == 3 and counters.duplicates == 0
    np.testing.assert_array_equal(result.counts, (await expected(batch)).counts)
    assert sorted(client.stats.circuits_per_call) == [1, 3, 3]


async def test_a_post_that_keeps_failing_ends_in_a_typed_error_and_creates_nothing(server):
    batch = batch_of(5)
    result, error, client = await run(server, batch, [Fault("503", POST, count=10)], max_retries=2)
    assert result is None
    assert isinstance(error, IonQServerError) and error.status == 503 and error.circuits == (0, 5)
    assert server.counters().jobs_created == 0
    assert client.stats.calls[POST] == 3 and client.stats.lookups == 3


async def test_polling_that_keeps_failing_ends_in_a_typed_error_and_cancels_the_job(server):
    batch = batch_of(5)
    result, error, client = await run(server, batch, [Fault("502", GET_JOB, count=20)], max_retries=2)
    assert isinstance(error, IonQServerError) and error.status == 502 and error.circuits == (0, 5)
    counters = server.counters()
    assert counters.jobs_created == 1 and counters.duplicates == 0
    assert counters.requests.get("PUT /jobs/status/cancel") == 1


# ------------------------------------------------------------------------------------ late POSTs

TIMEOUT_S = 0.25


def executions_per_client_id(server: EmulatorServer) -> dict[str, int]:
    """Top-level jobs per client UUID that were not canceled: what IonQ would have run (and billed)."""
    def count(e) -> dict[str, int]:
        out: dict[str, int] = {}
        for job_id in e.store.order:
            job = e.store.jobs[job_id]
            if job.canceled_at is None:
                cid = job.job.metadata.get("qstore_client_id", "")
                out[cid] = out.get(cid, 0) + 1
        return out
    return server.call(count)


@pytest.mark.parametrize("factor", [1, 2, 5])
async def test_a_post_delivered_late_after_the_client_timed_out_runs_once(server, factor):
    """A proxy holds the POSTs of the first chunks `factor` x the client's timeout: the client waits for
    its own job to land instead of sending a second copy, so every chunk runs exactly once."""
    server.reset()
    batch = batch_of(7)
    delay = factor * TIMEOUT_S + 0.05
    async with LatePostProxy(server.base_url, [delay, delay]) as proxy:
        async with IonQClient(proxy.base_url, KEY, timeout=httpx.Timeout(TIMEOUT_S), max_retries=3,
                              poll_initial=0.01, poll_cap=0.05, backoff_base=0.02, backoff_cap=0.05) as client:
            backend = IonQBackend(client, max_concurrent_jobs=3, limits=BackendLimits(max_circuits=3))
            result = await backend.run(batch, shots=SHOTS, seed=SEED)
        await proxy.drain()
        assert proxy.delivered_late == 2
    runs = executions_per_client_id(server)
    assert len(runs) == 3 and set(runs.values()) == {1}, runs
    assert server.counters().duplicates == 0
    np.testing.assert_array_equal(result.counts, (await expected(batch)).counts)
    assert client.stats.lookups >= 2


async def test_a_copy_that_lands_after_the_window_is_canceled_and_one_result_is_used(server):
    """Past the lookup window the client sends again; the late copy that lands afterwards is found and
    canceled when the kept job is done, so only one copy is left to run and one result is read."""
    server.reset(timing=Timing(job_overhead_s=0.6))
    batch = batch_of(3)
    async with LatePostProxy(server.base_url, [0.45]) as proxy:
        async with IonQClient(proxy.base_url, KEY, timeout=httpx.Timeout(0.1), max_retries=3, late_post_window_s=0.2,
                              poll_initial=0.01, poll_cap=0.05, backoff_base=0.02, backoff_cap=0.05) as client:
            backend = IonQBackend(client)
            result = await backend.run(batch, shots=SHOTS, seed=SEED)
            assert client.stats.duplicates_canceled == 1
        await proxy.drain()
    runs = executions_per_client_id(server)
    assert list(runs.values()) == [1], runs
    assert server.counters().duplicates == 1, "the second copy was created, then canceled"
    np.testing.assert_array_equal(result.counts, (await expected(batch)).counts)


async def test_without_the_lookup_window_the_same_late_post_would_have_made_a_second_job(server):
    """The peer of the test above: with no window the client resends at once and the late copy lands too."""
    server.reset()
    async with LatePostProxy(server.base_url, [2 * TIMEOUT_S]) as proxy:
        async with IonQClient(proxy.base_url, KEY, timeout=httpx.Timeout(TIMEOUT_S), max_retries=3,
                              late_post_window_s=0.0, poll_initial=0.01, poll_cap=0.05, backoff_base=0.02,
                              backoff_cap=0.05) as client:
            await IonQBackend(client).run(batch_of(2), shots=SHOTS, seed=SEED)
        await proxy.drain()
    assert server.counters().duplicates == 1


async def test_the_emulators_own_late_post_fault_creates_no_second_job(server):
    """The same guarantee with the emulator's `late_post` fault (the request held before it is processed)."""
    server.reset(faults=(Fault("late_post", POST, count=2, delay_s=3 * TIMEOUT_S),))
    async with IonQClient(server.base_url, KEY, timeout=httpx.Timeout(TIMEOUT_S), max_retries=3, poll_initial=0.01,
                          poll_cap=0.05, backoff_base=0.02, backoff_cap=0.05) as client:
        backend = IonQBackend(client, max_concurrent_jobs=3, limits=BackendLimits(max_circuits=3))
        result = await backend.run(batch_of(7), shots=SHOTS, seed=SEED)
    counters = server.counters()
    assert counters.faults_injected.get("late_post") == 2 and counters.duplicates == 0 and counters.jobs_created == 3
    np.testing.assert_array_equal(result.counts, (await expected(batch_of(7))).counts)
