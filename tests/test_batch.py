"""CircuitBatchManager on the real local simulator: order, grouping, chunking, failures, switches, stats.

The backends below are the real LocalSimulatorBackend with a fault or a latency injected, and a
record of every call (as the IonQ emulator has knobs for latency and faults).
"""

import asyncio
import math

import numpy as np
import pytest

from engine.backends import BackendLimits, LocalSimulatorBackend
from engine.batch import CircuitBatchManager, CircuitFailure
from engine.cache import SmartCircuitCache
from engine.circuits import Circuit, CircuitBatch, CircuitError, Template, parse_circuit
from engine.circuits.cirq_interop import from_cirq
from engine.compiler import NativeGateCompiler
from engine.config import TrainingConfig
from engine.events import BatchExecuted, BatchSizeDecision, CacheStats, CompilerStats, EventBus
from engine.sim import circuit_probabilities, probabilities
from helpers import model_template

POISON = 77.0  # a parameter value the faulty backend refuses


class Recording(LocalSimulatorBackend):
    """The local simulator, recording each call's row count and gateset; optional faults and latency.

    `fail_first` calls raise; any chunk holding a POISON parameter raises; `per_circuit_s` makes a
    call take that long per circuit, one call at a time (a throughput-bound device).
    """

    def __init__(self, limits: BackendLimits | None = None, fail_first: int = 0, per_circuit_s: float = 0.0):
        super().__init__(seed=0)
        if limits is not None:
            self.limits = limits
        self.calls: list[int] = []
        self.gatesets: list[str] = []
        self.fail_first = fail_first
        self.per_circuit_s = per_circuit_s
        self.in_flight = 0
        self.peak_in_flight = 0
        self._device = asyncio.Lock()

    async def run(self, batch, *, shots=0, seed=None):
        self.calls.append(len(batch))
        self.gatesets.append(batch.template.gateset)
        self.in_flight += len(batch)
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.per_circuit_s:
                async with self._device:
                    await asyncio.sleep(self.per_circuit_s * len(batch))
            else:
                await asyncio.sleep(0)  # let other chunks start: concurrency is observable
            if len(self.calls) <= self.fail_first:
                raise ConnectionError("injected: the service dropped the connection")
            if (batch.params == POISON).any():
                raise RuntimeError("injected: the job failed")
            return await super().run(batch, shots=shots, seed=seed)
        finally:
            self.in_flight -= len(batch)


def config(**kw) -> TrainingConfig:
    base = dict(use_native_gates=False, shots_per_circuit=0, adaptive_batch_sizing=False)
    return TrainingConfig(**{**base, **kw})


def batch(n=3, layers=1, rows=12, seed=0) -> CircuitBatch:
    t = model_template(n, layers)
    rng = np.random.default_rng(seed)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.random((rows, n)))


def exact(b: CircuitBatch) -> np.ndarray:
    return probabilities(b.template, b.angles())


def ghz(n: int, angle: float) -> dict:
    gates = [{"gate": "ry", "target": 0, "rotation": angle}]
    gates += [{"gate": "cnot", "control": q, "target": q + 1} for q in range(n - 1)]
    return {"qubits": n, "circuit": gates}


def rotations(n: int, angle: float) -> dict:
    return {"qubits": n, "circuit": [{"gate": "rx", "target": q, "rotation": angle * (q + 1)} for q in range(n)]}


async def test_a_batch_runs_exactly_in_input_order_with_measured_stages():
    b = batch(rows=20)
    async with CircuitBatchManager(config(), Recording()) as m:
        r = await m.execute_batch(b)
    assert r.ok and r.n_circuits == r.circuits_executed == 20
    assert np.array_equal(r.probabilities, exact(b))
    assert r.gateset == "qis" and r.counts is None and r.failures == []
    assert r.total_time_ms > 0 and r.throughput_circuits_per_sec == pytest.approx(20 / (r.total_time_ms / 1e3))
    assert r.stage_ms["execute"] > 0 and r.stage_ms["bind"] > 0
    assert np.allclose(r.expectations_z(), exact(b) @ (1 - 2 * ((np.arange(8)[:, None] >> np.arange(3)) & 1)))


async def test_a_list_of_mixed_structures_is_grouped_and_returned_in_input_order():
    import cirq

    q = cirq.LineQubit.range(3)
    items = [ghz(3, 0.1), rotations(3, 0.2), ghz(3, 0.3), cirq.Circuit(cirq.H(q[0]), cirq.CNOT(q[0], q[2]), cirq.X(q[1])),
             rotations(3, 0.4), Circuit(3).add("h", 1), ghz(3, 0.5)]
    backend = Recording()
    async with CircuitBatchManager(config(), backend) as m:
        r = await m.execute_batch(items)
    assert sorted(backend.calls) == [1, 1, 2, 3]  # four structures, one call each
    want = [circuit_probabilities(from_cirq(c) if isinstance(c, cirq.Circuit) else
                                  c if isinstance(c, Circuit) else parse_circuit(c)) for c in items]
    assert r.probabilities.shape == (7, 8)
    for i, w in enumerate(want):
        assert np.allclose(r.probabilities[i], w, atol=1e-12), i
        assert r.results[i].index == i and np.array_equal(r.results[i].probabilities, r.probabilities[i])


async def test_circuits_of_different_widths_come_back_one_by_one():
    items = [ghz(2, 0.7), ghz(3, 0.7), rotations(2, 0.1)]
    async with CircuitBatchManager(config(), Recording()) as m:
        r = await m.execute_batch(items, shots=200, seed=3)
    assert r.probabilities is None and r.counts is None
    assert [res.n_qubits for res in r.results] == [2, 3, 2]
    assert [res.probabilities.shape for res in r.results] == [(4,), (8,), (4,)]
    assert all(sum(res.counts.values()) == 200 for res in r.results)
    assert set(r.results[1].counts) <= {"0", "7"}  # GHZ-like: only |000> and |111>
    assert r.results[1].expectations_z().shape == (3,)
    with pytest.raises(ValueError, match="different widths"):
        r.expectations_z()


async def test_bad_items_are_refused_naming_their_index():
    async with CircuitBatchManager(config(), Recording()) as m:
        with pytest.raises(CircuitError, match=r"circuits\[2\].*gate 0"):
            await m.execute_batch([ghz(2, 0.1), ghz(2, 0.2), {"qubits": 2, "circuit": [{"gate": "nope", "target": 0}]}])
        with pytest.raises(TypeError, match=r"circuits\[1\]"):
            await m.execute_batch([ghz(2, 0.1), 42])
        with pytest.raises(ValueError, match="empty"):
            await m.execute_batch([])
        with pytest.raises(ValueError, match="shots"):
            await m.execute_batch([ghz(2, 0.1)], shots=-1)


async def test_chunks_stay_within_max_concurrent_circuits_and_backend_limits():
    b = batch(rows=30)
    backend = Recording()
    async with CircuitBatchManager(config(max_concurrent_circuits=7), backend) as m:
        r = await m.execute_batch(b)
    assert backend.calls == [7, 7, 7, 7, 2] and r.chunks == r.api_calls == 5
    assert np.array_equal(r.probabilities, exact(b))
    n_gates = len(b.template.ops)
    small = Recording(BackendLimits(max_circuits=4, max_gates=3 * n_gates))
    async with CircuitBatchManager(config(), small) as m:
        await m.execute_batch(b)
    assert max(small.calls) == 3 and sum(small.calls) == 30  # the gate limit binds before the circuit limit


async def test_circuits_in_flight_never_exceed_max_concurrent_circuits():
    backend = Recording(BackendLimits(max_circuits=3))
    async with CircuitBatchManager(config(max_concurrent_circuits=7), backend) as m:
        r = await m.execute_batch(batch(rows=30))
        stats = m.get_performance_stats()
    assert backend.peak_in_flight == 6  # two chunks of 3 overlap; a third would make 9 > 7
    assert stats.peak_in_flight == 6 and r.ok


async def test_a_failing_chunk_among_good_ones_fails_only_its_circuits():
    b = batch(rows=20)
    params = b.params.copy()
    params[7, 0] = POISON
    b = CircuitBatch(b.template, params, b.inputs)
    backend = Recording()
    async with CircuitBatchManager(config(max_concurrent_circuits=5, retry_failed_circuits=False), backend) as m:
        r = await m.execute_batch(b, shots=100, seed=1)
    assert not r.ok and [f.index for f in r.failures] == [5, 6, 7, 8, 9]
    assert r.failures[0] == CircuitFailure(5, "RuntimeError", "injected: the job failed")
    assert r.circuits_executed == 15 and r.circuits_executed + r.circuits_failed == r.n_circuits
    assert np.isnan(r.probabilities[5:10]).all() and (r.counts[5:10] == -1).all()
    good = np.r_[0:5, 10:20]
    assert (r.counts[good].sum(axis=1) == 100).all()
    assert not r.results[6].ok and r.results[6].counts is None and r.results[11].ok
    assert backend.calls == [5, 5, 5, 5]


async def test_a_failed_chunk_is_retried_once_in_halves():
    b = batch(rows=20)
    params = b.params.copy()
    params[8, 1] = POISON
    b = CircuitBatch(b.template, params, b.inputs)
    backend = Recording()
    async with CircuitBatchManager(config(max_concurrent_circuits=5), backend) as m:
        r = await m.execute_batch(b)
        stats = m.get_performance_stats()
    assert [f.index for f in r.failures] == [7, 8, 9]  # [5, 7) succeeded on retry, [7, 10) failed again
    good = np.r_[0:7, 10:20]
    assert np.array_equal(r.probabilities[good], exact(b)[good])
    assert sorted(backend.calls) == [2, 3, 5, 5, 5, 5] and r.api_calls == 6
    assert stats.retries == 1 and stats.circuits_submitted == 25


async def test_a_transient_failure_recovers_with_retry():
    b = batch(rows=6)
    async with CircuitBatchManager(config(), Recording(fail_first=1)) as m:
        r = await m.execute_batch(b)
    assert r.ok and np.array_equal(r.probabilities, exact(b))


async def test_use_batch_api_off_means_one_call_per_circuit_with_the_same_results():
    b = batch(rows=9)
    on, off = Recording(), Recording()
    async with CircuitBatchManager(config(), on) as m:
        r_on = await m.execute_batch(b)
    async with CircuitBatchManager(config(use_batch_api=False), off) as m:
        r_off = await m.execute_batch(b)
    assert on.calls == [9] and off.calls == [1] * 9
    assert np.array_equal(r_on.probabilities, r_off.probabilities)


async def test_native_gates_run_the_compiled_circuits_with_the_same_results():
    b = batch(n=4, layers=2, rows=10)
    swapped = [{"qubits": 3, "circuit": [{"gate": "h", "target": 0}, {"gate": "swap", "targets": [0, 2]},
                                         {"gate": "ry", "target": 1, "rotation": 0.3 + k},
                                         {"gate": "cnot", "control": 2, "target": 1}]} for k in range(3)]
    results = {}
    for native in (False, True):
        backend = Recording()
        async with CircuitBatchManager(config(use_native_gates=native), backend) as m:
            results[native] = (await m.execute_batch(b), await m.execute_batch(swapped))
        assert set(backend.gatesets) == {"native" if native else "qis"}
    for q, n in zip(results[False], results[True]):
        assert np.abs(q.probabilities - n.probabilities).max() < 1e-9
    native_batch, native_list = results[True]
    assert native_batch.gateset == "native" and native_batch.compiler_stats[0].target == "aria"
    assert results[False][0].compiler_stats == []
    swap_template = Template.from_circuit(parse_circuit(swapped[0]))[0]
    assert NativeGateCompiler("aria").compile_template(swap_template).permutation != (0, 1, 2)  # undo exercised


async def test_circuit_compression_switch_changes_the_native_circuits_not_the_results():
    b = batch(n=4, layers=2, rows=5)
    out = {}
    for compress in (True, False):
        async with CircuitBatchManager(config(use_native_gates=True, enable_circuit_compression=compress), Recording()) as m:
            out[compress] = await m.execute_batch(b)
    packed, plain = out[True].compiler_stats[0], out[False].compiler_stats[0]
    assert packed.n1q_out < plain.n1q_out
    assert np.abs(out[True].probabilities - out[False].probabilities).max() < 1e-9


async def test_the_target_picks_the_native_gate_family():
    async with CircuitBatchManager(config(use_native_gates=True), Recording()) as m:
        aria = await m.execute_batch(batch())
        forte = await m.execute_batch(batch(), target="qpu.forte-1")
    assert aria.compiler_stats[0].target == "aria" and forte.compiler_stats[0].target == "forte"
    assert forte.target == "qpu.forte-1"
    assert np.abs(aria.probabilities - forte.probabilities).max() < 1e-9


async def test_smart_caching_compiles_once_and_reuses_bound_batches():
    b = batch(n=3, layers=2, rows=8)
    compiler = NativeGateCompiler("aria")
    async with CircuitBatchManager(config(use_native_gates=True), Recording(), compiler=compiler) as m:
        first, second, third = [await m.execute_batch(b) for _ in range(3)]
    assert compiler.totals.compiles == 1
    assert (first.cache_stats.compile_misses, second.cache_stats.compile_hits, second.cache_stats.bound_hits) == (1, 1, 1)
    assert first.stage_ms["compile"] > 0 and second.stage_ms["compile"] == 0.0
    assert np.array_equal(first.probabilities, third.probabilities)

    cold = NativeGateCompiler("aria")
    cache = SmartCircuitCache()
    async with CircuitBatchManager(config(use_native_gates=True, enable_smart_caching=False), Recording(),
                                   compiler=cold, cache=cache) as m:
        runs = [await m.execute_batch(b) for _ in range(3)]
    assert cold.totals.compiles == 3 and all(r.stage_ms["compile"] > 0 for r in runs)
    assert runs[2].cache_stats is None and cache.stats().template_lookups == 0
    assert np.array_equal(runs[2].probabilities, first.probabilities)


async def test_adaptive_sizing_moves_the_chunk_size_toward_the_target_time():
    bus = EventBus()
    events = bus.subscribe()
    backend = Recording(per_circuit_s=0.002)  # 2 ms per circuit, one call at a time
    cfg = config(adaptive_batch_sizing=True, max_concurrent_circuits=64)
    async with CircuitBatchManager(cfg, backend, bus=bus, target_chunk_s=0.032) as m:
        await m.execute_batch(batch(rows=192))
        decisions = _drain(events, BatchSizeDecision)
        stats = m.get_performance_stats()
    assert backend.calls[0] == 64 and backend.calls[1] == 32  # 128 ms for 64 circuits: halve (bounded step)
    assert 10 <= m.chunk_size <= 21  # toward 16 circuits = 32 ms
    assert decisions and decisions[0].old_size == 64 and decisions[0].new_size == 32
    assert all(d.new_size != d.old_size and d.target_ms == 32.0 for d in decisions)
    assert [d.new_size for d in decisions][-1] == m.chunk_size and stats.size_decisions == len(decisions)

    fixed = Recording(per_circuit_s=0.0005)
    async with CircuitBatchManager(config(max_concurrent_circuits=64), fixed, target_chunk_s=0.004) as m:
        await m.execute_batch(batch(rows=128))
    assert fixed.calls == [64, 64] and m.chunk_size == 64


def _drain(queue, kind):
    out = []
    while not queue.empty():
        e = queue.get_nowait()
        if isinstance(e, kind):
            out.append(e)
    return out


async def test_shots_are_seeded_and_counts_add_up():
    b = batch(rows=5)
    async with CircuitBatchManager(config(max_concurrent_circuits=2), Recording()) as m:
        one = await m.execute_batch(b, shots=300, seed=11)
        two = await m.execute_batch(b, shots=300, seed=11)
        other = await m.execute_batch(b, shots=300)
    assert np.array_equal(one.counts, two.counts) and not np.array_equal(one.counts, other.counts)
    assert (one.counts.sum(axis=1) == 300).all() and np.allclose(one.probabilities, one.counts / 300)
    assert sum(one.results[4].counts.values()) == 300


async def test_events_and_the_performance_report_carry_measured_figures():
    bus = EventBus()
    q = bus.subscribe()
    b = batch(n=3, layers=2, rows=10)
    async with CircuitBatchManager(config(use_native_gates=True, max_concurrent_circuits=4), Recording(), bus=bus) as m:
        r1 = await m.execute_batch(b, purpose="loss")
        r2 = await m.execute_batch([ghz(3, 0.2), ghz(3, 0.4)])
        stats = m.get_performance_stats()
        report = m.performance_report()
    executed = _drain(q, BatchExecuted)
    assert [(e.circuits, e.chunks, e.purpose) for e in executed] == [(10, 3, "loss"), (2, 1, "")]
    assert executed[0].stage_ms == r1.stage_ms
    assert stats.total_circuits == 12 == stats.circuits_executed and stats.circuits_failed == 0
    assert stats.api_calls == r1.api_calls + r2.api_calls == 4 and stats.circuits_submitted == 12
    assert stats.cache.template_hits + stats.cache.template_misses == stats.cache.template_lookups == 2
    assert stats.native_circuits_run == 12
    assert stats.native_gates_run == 10 * r1.compiler_stats[0].gates_out + 2 * r2.compiler_stats[0].gates_out
    for section in ("Execution Summary:", "Features Enabled:", "Circuit Cache:", "Native Gate Compiler:",
                    "Batch Client:"):
        assert section in report
    assert "Total Circuits: 12 (0 failed) in 2 batches" in report and "API Calls: 4" in report
    assert f"Gate Reduction: {stats.compiler.reduction_pct:.1f}%" in report
    assert math.isclose(stats.throughput_circuits_per_sec, 12 / (stats.total_time_ms / 1e3))


async def test_cache_and_compiler_events_follow_each_batch():
    bus = EventBus()
    q = bus.subscribe()
    async with CircuitBatchManager(config(use_native_gates=True), Recording(), bus=bus) as m:
        await m.execute_batch(batch())
    kinds = []
    while not q.empty():
        kinds.append(q.get_nowait())
    assert [type(e) for e in kinds] == [BatchExecuted, CacheStats, CompilerStats]
    assert kinds[1].template_misses == 1 and kinds[2].compiles == 1 and kinds[2].target == "aria"


async def test_a_closed_manager_refuses_work():
    m = CircuitBatchManager(config(), Recording())
    async with m:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        await m.execute_batch(batch())


async def test_through_the_ionq_emulator_native_chunks_and_one_failed_job():
    """The IonQ backend over real HTTP to the emulator on 127.0.0.1: native gates go out as native
    JSON, a failed job fails only its chunk, and a retry in halves recovers it."""
    from engine.backends.emulator import EmulatorServer, EmulatorSettings, Fault
    from engine.backends.ionq import IonQBackend
    from engine.backends.ionq_client import IonQClient

    b = batch(n=3, layers=2, rows=10)
    with EmulatorServer(EmulatorSettings(seed=0, record=True)) as server:
        async with IonQClient(server.base_url, "emulator-key", poll_initial=0.01, poll_cap=0.05,
                              backoff_base=0.01, backoff_cap=0.05) as client:
            backend = IonQBackend(client)
            for retry in (False, True):
                server.reset(faults=(Fault("job_failed", "POST /jobs", message="injected: QPU fault"),))
                cfg = config(use_native_gates=True, max_concurrent_circuits=4, retry_failed_circuits=retry)
                async with CircuitBatchManager(cfg, backend, target_chunk_s=0.5) as m:
                    r = await m.execute_batch(b, target="simulator")
                sent = [x.request for x in server.exchanges() if x.endpoint == "POST /jobs"]
                assert {body["input"]["gateset"] for body in sent} == {"native"}
                good = np.r_[4:10] if not retry else np.r_[0:10]
                assert np.abs(r.probabilities[good] - exact(b)[good]).max() < 1e-9
                if retry:
                    assert r.ok and r.api_calls == 5 and len(r.job_ids) == 4  # the failed job returned no result
                else:
                    assert [f.index for f in r.failures] == [0, 1, 2, 3] and np.isnan(r.probabilities[:4]).all()
                    assert "injected: QPU fault" in r.failures[0].message and r.api_calls == 3
                assert r.stage_ms["submit"] > 0


async def test_a_target_other_than_the_backends_is_refused():
    from engine.backends.ionq import IonQBackend
    from engine.backends.ionq_client import IonQClient

    async with IonQClient("http://127.0.0.1:9", "unused-key") as client:  # never contacted
        async with CircuitBatchManager(config(), IonQBackend(client, backend_name="qpu.aria-1")) as m:
            with pytest.raises(ValueError, match="target: 'simulator' differs"):
                await m.execute_batch(batch(), target="simulator")


async def test_a_circuit_the_compiler_cannot_lower_raises_before_anything_runs():
    from engine.compiler import UnsupportedGateError

    wide = {"qubits": 6, "circuit": [{"gate": "x", "target": 5, "controls": [0, 1, 2, 3, 4]}]}
    backend = Recording()
    async with CircuitBatchManager(config(use_native_gates=True), backend) as m:
        with pytest.raises(UnsupportedGateError, match=r"5 controls.*\(circuits\[1\]\)"):
            await m.execute_batch([ghz(6, 0.3), wide])
        assert backend.calls == [] and m.get_performance_stats().batches == 0
