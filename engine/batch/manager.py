"""CircuitBatchManager: runs circuits on a backend in chunks, and says where the time went.

Circuits arrive as one `CircuitBatch` (template + rows) or as a list of IonQ circuit dicts,
`Circuit`s or `cirq.Circuit`s; a list is grouped by structure into batches and its results come
back in input order. Each native batch is compiled and bound through the cache (a qis batch goes
to the backend as rows: it binds them itself), cut into chunks within the backend's limits, and
run with at most `max_concurrent_circuits` circuits in flight. Input errors (a malformed circuit,
a gate the compiler cannot lower) raise before anything runs. A chunk that fails marks its own circuits failed (after one retry in halves when
`retry_failed_circuits`); the other chunks keep their results.

Every v3.4 switch changes what happens: `use_batch_api` (one call per chunk, or one per circuit),
`use_native_gates` (run the compiled native template, on every backend), `enable_smart_caching`
(reuse templates, compiled forms and bound batches, or redo them on every call),
`adaptive_batch_sizing` (move the chunk size toward `target_chunk_s` per chunk).
"""


from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..backends.base import Backend, ExecutionResult
from ..cache import BoundBatch, SmartCircuitCache, executable
from ..circuits.ionq_json import circuit_to_json
from ..circuits.template import CircuitBatch, Template
from ..events import STAGES, BatchExecuted, BatchSizeDecision, EventBus, emit_to
from ..events import CompilerStats as CompilerStatsEvent
from ..sim.measure import MAX_SHOTS
from .inputs import Group, InputCircuit, group_circuits
from .limiter import InFlight
from .results import BatchResult, CircuitFailure, GroupOut
from .stats import PerformanceStats

if TYPE_CHECKING:
    from ..compiler import CompilerStats, NativeGateCompiler

_BACKEND_STAGES = ("submit", "queue", "execute", "post_process")


class BatchSettings(Protocol):
    """The execution and feature fields of a TrainingConfig that the manager reads."""

    @property
    def shots_per_circuit(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def quantum_target(self) -> str: ...
    @property
    def native_target(self) -> str: ...
    @property
    def max_concurrent_circuits(self) -> int: ...
    @property
    def retry_failed_circuits(self) -> bool: ...
    @property
    def use_batch_api(self) -> bool: ...
    @property
    def use_native_gates(self) -> bool: ...
    @property
    def enable_smart_caching(self) -> bool: ...
    @property
    def adaptive_batch_sizing(self) -> bool: ...
    @property
    def enable_circuit_compression(self) -> bool: ...


@dataclass(frozen=True)
class _QisRows:
    """qis rows for the backend, which binds them itself; `whole` is the caller's own CircuitBatch."""

    template: Template
    params: np.ndarray
    inputs: np.ndarray
    whole: CircuitBatch | None = None
    compiled: None = None

    def batch(self, start: int, stop: int) -> CircuitBatch:
        if self.whole is not None and start == 0 and stop == len(self.whole):
            return self.whole  # already checked when it was made
        return CircuitBatch(self.template, self.params[start:stop], self.inputs[start:stop])


@dataclass
class _Call:
    """The state of one execute_batch call."""

    shots: int
    seed: int
    explicit_seed: bool
    stage: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    failures: list[CircuitFailure] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    chunks: int = 0
    api_calls: int = 0
    submitted: int = 0
    retries: int = 0
    compiled: list[CompilerStats] = field(default_factory=list)  # one per natively run group
    native_circuits: int = 0
    native_gates: int = 0


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error inside (possibly nested) task groups, noting how many others there were."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = list(exc.exceptions)
        else:
            leaves.append(exc)
    first = leaves[0]
    if len(leaves) > 1:
        first.add_note(f"({len(leaves) - 1} more error(s) in other chunks)")
    return first


class CircuitBatchManager:
    """Execute circuits through a Backend with chunking, concurrency, caching and native compilation.

    `config` is a TrainingConfig or any object with its execution and feature fields. The backend
    belongs to the caller (the manager never closes it). `bus` receives BatchExecuted,
    BatchSizeDecision, CacheStats and CompilerStats events. `target_chunk_s` is the wall time per
    chunk that adaptive sizing steers toward (default 2 s on remote backends, 0.25 s locally).
    """

    def __init__(self, config: BatchSettings, backend: Backend, *, cache: SmartCircuitCache | None = None,
                 compiler: NativeGateCompiler | None = None, bus: EventBus | None = None, target_chunk_s: float | None = None,
                 min_chunk_size: int = 1):
        self.config = config
        self.backend = backend
        self.cache = cache if cache is not None else SmartCircuitCache()
        self.bus = bus
        self._compilers: dict[str, NativeGateCompiler] = {}
        if compiler is not None:
            self._compilers[compiler.target] = compiler
        self.target_chunk_s = target_chunk_s if target_chunk_s is not None else (
            0.25 if backend.name == "local" else 2.0)
        if self.target_chunk_s <= 0:
            raise ValueError(f"target_chunk_s: must be > 0, got {self.target_chunk_s}")
        self.max_chunk_size = max(1, min(backend.limits.max_circuits, config.max_concurrent_circuits))
        if not 1 <= min_chunk_size <= self.max_chunk_size:
            raise ValueError(f"min_chunk_size: must be in [1, {self.max_chunk_size}], got {min_chunk_size}")
        self.min_chunk_size = min_chunk_size
        self.chunk_size = self.max_chunk_size
        self._closed = False
        self._inflight: InFlight | None = None
        self._peak = 0
        self._batches = 0
        self._totals: defaultdict[str, float] = defaultdict(float)
        self._stage: defaultdict[str, float] = defaultdict(float)
        self._decisions = 0  # chunk size changes
        self._evaluations = 0  # chunks measured for adaptive sizing
        self._cache_start = self.cache.counters()
        self._native_target: str | None = None

    async def __aenter__(self) -> "CircuitBatchManager":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed = True

    # ----- the public entry -----

    async def execute_batch(self, circuits: CircuitBatch | Sequence[CircuitBatch] | Sequence[InputCircuit], *, target: str | None = None,
                            shots: int | None = None, seed: int | None = None, purpose: str = "") -> BatchResult:
        """Run every circuit; results in input order. `shots` defaults to config.shots_per_circuit (0 =
        exact, where the backend can). With `seed`, shot results repeat for the same call; without,
        each call draws from config.seed and the call's number."""
        if self._closed:
            raise RuntimeError("the CircuitBatchManager is closed")
        t_start = time.perf_counter()
        cfg = self.config
        shots = cfg.shots_per_circuit if shots is None else shots
        if isinstance(shots, bool) or not isinstance(shots, int) or not 0 <= shots <= MAX_SHOTS:
            raise ValueError(f"shots: must be an integer in 0..{MAX_SHOTS:,}, got {shots!r}")
        target = self._check_target(target)
        compiler = self._compiler(target) if cfg.use_native_gates else None
        call = _Call(shots, cfg.seed if seed is None else seed, seed is not None)
        cache_before = self.cache.counters() if cfg.enable_smart_caching else None

        t0 = time.perf_counter()
        limits = self.backend.limits
        groups = group_circuits(circuits, max_qubits=limits.max_qubits, limit_of=f"the {self.backend.name} backend")
        if not isinstance(circuits, CircuitBatch):
            call.stage["parse"] += (time.perf_counter() - t0) * 1e3
        n = sum(len(g.indices) for g in groups)
        try:
            if len(groups) == 1:  # the training path: no task to spawn
                bounds = [await self._bind(groups[0], compiler, call)]
                self._batches += 1
                outs = [await self._run_group(0, groups[0], bounds[0], call)]
            else:
                bounds = list(await asyncio.gather(*(self._bind(g, compiler, call) for g in groups)))
                self._batches += 1
                async with asyncio.TaskGroup() as tg:
                    tasks = [tg.create_task(self._run_group(i, g, b, call))
                             for i, (g, b) in enumerate(zip(groups, bounds))]
                outs = [t.result() for t in tasks]
        except ExceptionGroup as group:  # the error itself, not "unhandled errors in a TaskGroup"
            raise _first_error(group) from None

        t0 = time.perf_counter()
        probs, counts = self._dense(outs, n)
        call.stage["post_process"] += (time.perf_counter() - t0) * 1e3
        total_ms = (time.perf_counter() - t_start) * 1e3
        executed = n - len(call.failures)
        call.failures.sort(key=lambda f: f.index)
        cache_delta = self.cache.stats(since=cache_before) if cache_before is not None else None
        stage_ms = {k: call.stage[k] for k in STAGES if k in call.stage}
        result = BatchResult(
            n_circuits=n, circuits_executed=executed, total_time_ms=total_ms,
            throughput_circuits_per_sec=executed / (total_ms / 1e3) if total_ms > 0 else 0.0,
            shots=shots, target=target, gateset="native" if compiler else "qis", chunks=call.chunks,
            api_calls=call.api_calls, stage_ms=stage_ms, probabilities=probs, counts=counts,
            failures=call.failures, job_ids=list(dict.fromkeys(call.job_ids)), cache_stats=cache_delta,
            compiler_stats=call.compiled, groups=outs,
        )
        self._account(result, call)
        self._emit(result, compiler, purpose)
        return result

    # ----- input -----

    def _check_target(self, target: str | None) -> str:
        """The IonQ target this runs on: the backend's own (IonQBackend.backend_name) when it has one,
        else config.quantum_target; a different `target` is refused, never silently ignored."""
        own = getattr(self.backend, "backend_name", None)
        if target is None:
            return own or self.config.quantum_target
        if own is not None and own != target:
            raise ValueError(f"target: {target!r} differs from the backend's target {own!r}")
        return target

    def _family(self, target: str) -> str:
        if target == "qpu.forte-1":
            return "forte"
        if target == "qpu.aria-1":
            return "aria"
        return self.config.native_target

    def _compiler(self, target: str) -> NativeGateCompiler:
        family = self._family(target)
        if family not in self._compilers:
            from ..compiler import NativeGateCompiler

            self._compilers[family] = NativeGateCompiler(family, optimize=self.config.enable_circuit_compression)
        self._native_target = family
        return self._compilers[family]

    # ----- one structure group -----

    async def _bind(self, g: Group, compiler: NativeGateCompiler | None, call: _Call) -> "BoundBatch | _QisRows":
        """`_prepare`, with the list positions of the circuits named when the compiler refuses them."""
        if compiler is None:
            return await self._prepare(g, compiler, call)
        from ..compiler import UnsupportedGateError

        try:
            return await self._prepare(g, compiler, call)
        except UnsupportedGateError as exc:
            if g.in_order:
                raise
            where = ", ".join(str(i) for i in g.indices[:5].tolist()) + (", ..." if len(g.indices) > 5 else "")
            raise UnsupportedGateError(exc.gate, exc.index, exc.target, f"{exc.reason} (circuits[{where}])") from exc

    async def _prepare(self, g: Group, compiler: NativeGateCompiler | None, call: _Call) -> "BoundBatch | _QisRows":
        """What the backend will run, timed as the compile and bind stages.

        qis: the rows as they are (the backend binds them in its execute stage: one matmul, which a
        bind here would only repeat). Native: compiled (once per structure with caching, else on
        every call) and bound to native angles, through the cache when caching; in a worker thread,
        since a native bind is real work (about 13 us per 8-qubit circuit).
        """
        cfg = self.config
        t0 = time.perf_counter()
        if compiler is None:
            template = self.cache.template(g.template) if cfg.enable_smart_caching else g.template
            rows = _QisRows(template, g.params, g.inputs, g.whole)
            call.stage["bind"] += (time.perf_counter() - t0) * 1e3
            return rows
        if cfg.enable_smart_caching:
            bound = await asyncio.to_thread(self.cache.bind, g.template, g.params, g.inputs, compiler=compiler)
            call.stage["compile"] += bound.compile_ms
            call.stage["bind"] += (time.perf_counter() - t0) * 1e3 - bound.compile_ms
            return bound
        compiled = await asyncio.to_thread(compiler.compile_template, g.template)
        t1 = time.perf_counter()
        native, angles = await asyncio.to_thread(compiled.bind, g.params, g.inputs)
        bound = BoundBatch(executable(native), np.asarray(angles, dtype=np.float64), compiled)
        call.stage["compile"] += (t1 - t0) * 1e3
        call.stage["bind"] += (time.perf_counter() - t1) * 1e3
        return bound

    def _chunk_limit(self, bound: "BoundBatch | _QisRows") -> int:
        """Rows per backend call within the backend's circuit, gate and byte limits."""
        limits = self.backend.limits
        rows = self.max_chunk_size
        gates = max(1, len(bound.template.ops))
        rows = min(rows, max(1, limits.max_gates // gates))
        if limits.max_bytes < 2**40:  # a remote API: estimate from one circuit as JSON, with headroom
            first = bound.batch(0, 1)
            circuit = first.template.bind(first.params, first.inputs)[0]
            one = len(json.dumps(circuit_to_json(circuit))) * 1.25 + 256
            rows = min(rows, max(1, int(limits.max_bytes // one)))
        return rows

    async def _run_group(self, gi: int, g: Group, bound: "BoundBatch | _QisRows", call: _Call) -> GroupOut:
        """Every row of one structure group, chunk by chunk, dispatched as room in flight allows."""
        if bound.compiled is not None:
            call.compiled.append(bound.compiled.stats)
        b = len(g.indices)
        out = GroupOut(g.indices, g.template.n_qubits, None, None, [None] * b, g.in_order)
        limit = self._chunk_limit(bound)
        inflight = self._limiter()
        if self._next_chunk(limit, b) == b:  # one chunk: no task to spawn
            await inflight.acquire(b)
            await self._chunk(gi, bound, out, 0, b, call, held=True, retried=False)
            return out
        pos = 0
        async with asyncio.TaskGroup() as tg:
            while pos < b:
                rows = self._next_chunk(limit, b - pos)
                await inflight.acquire(rows)
                now = self._next_chunk(limit, b - pos)
                if now < rows:  # adaptive sizing shrank the chunks while this one waited for room
                    inflight.release(rows - now)
                    rows = now
                tg.create_task(self._chunk(gi, bound, out, pos, pos + rows, call, held=True, retried=False))
                pos += rows
        return out

    def _next_chunk(self, limit: int, left: int) -> int:
        """Rows of the next chunk: the current chunk size within `limit` and the rows left; one without the batch API."""
        return min(self.chunk_size, limit, left) if self.config.use_batch_api else 1

    async def _chunk(self, gi: int, bound: "BoundBatch | _QisRows", out: GroupOut, s: int, e: int, call: _Call, *,
                     held: bool, retried: bool) -> None:
        """One backend call for rows [s, e); a failure stays inside this chunk."""
        inflight = self._limiter()
        if not held:
            await inflight.acquire(e - s)
        in_flight = inflight.used
        self._peak = max(self._peak, in_flight)
        call.chunks += 1
        call.api_calls += 1
        call.submitted += e - s
        try:
            t0 = time.perf_counter()
            seed = self._seed(call, gi, s) if call.shots else None
            res = await self.backend.run(bound.batch(s, e), shots=call.shots, seed=seed)
            wall = time.perf_counter() - t0
            self._check_result(res, e - s, 2 ** out.n_qubits, call.shots)
        except Exception as exc:  # noqa: BLE001 - a failed chunk must not take the others down
            inflight.release(e - s)
            if self.config.retry_failed_circuits and not retried:
                call.retries += 1
                mid = (s + e) // 2
                parts = [(s, mid), (mid, e)] if e - s > 1 else [(s, e)]
                async with asyncio.TaskGroup() as tg:
                    for a, z in parts:
                        tg.create_task(self._chunk(gi, bound, out, a, z, call, held=False, retried=True))
                return
            message = str(exc) or repr(exc)
            call.failures += [CircuitFailure(int(i), type(exc).__name__, message) for i in out.indices[s:e]]
            out.write(s, e, None, None, call.shots)
            return
        inflight.release(e - s)
        t0 = time.perf_counter()
        probs, counts = res.probabilities, res.counts
        if bound.compiled is not None:  # physical wires back to the source's qubits
            probs = bound.compiled.undo_permutation(probs)
            counts = bound.compiled.undo_permutation(counts) if counts is not None else None
        out.write(s, e, probs, counts, call.shots)
        if bound.compiled is not None:
            call.native_circuits += e - s
            call.native_gates += (e - s) * len(bound.template.ops)
        if res.job_ids:
            ids = res.job_ids if len(res.job_ids) == e - s else [",".join(res.job_ids)] * (e - s)
            out.job_ids[s:e] = ids
            call.job_ids += res.job_ids
        for k in _BACKEND_STAGES:
            call.stage[k] += res.timings.get(k, 0.0) * 1e3
        call.stage["post_process"] += (time.perf_counter() - t0) * 1e3
        self._adapt(wall, e - s, in_flight)

    @staticmethod
    def _check_result(res: ExecutionResult, rows: int, size: int, shots: int) -> None:
        if res.probabilities.shape != (rows, size):
            raise ValueError(f"the backend returned probabilities of shape {res.probabilities.shape} "
                             f"for {rows} circuits of {size} outcomes")
        if shots and (res.counts is None or res.counts.shape != (rows, size)):
            shape = None if res.counts is None else res.counts.shape
            raise ValueError(f"the backend returned counts of shape {shape} for {rows} circuits with {shots} shots")

    def _seed(self, call: _Call, gi: int, start: int) -> int:
        key = [call.seed, gi, start] if call.explicit_seed else [call.seed, self._batches, gi, start]
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    # ----- concurrency: circuits in flight -----

    def _limiter(self) -> "InFlight":
        """The circuits-in-flight limiter of the running loop (asyncio objects belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._inflight is None or self._inflight.loop is not loop:
            self._inflight = InFlight(self.config.max_concurrent_circuits, loop)
        return self._inflight

    # ----- adaptive chunk size -----

    def _adapt(self, wall_s: float, rows: int, in_flight: int) -> None:
        """Move the chunk size toward target_chunk_s, at most doubling or halving per chunk, within
        [min_chunk_size, max_chunk_size], ignoring differences under 25% (timing noise); every
        change is a BatchSizeDecision event.

        Concurrent chunks wait for each other (a worker pool, a job queue), so the time per circuit
        is the chunk's wall time over the circuits that were in flight with it, not over its own rows:
        dividing by its own rows would shrink chunks as concurrency grows, and grow concurrency.
        """
        old = self.chunk_size
        if not (self.config.adaptive_batch_sizing and self.config.use_batch_api) or rows < old / 2:
            return  # off, or a batch's short tail chunk (its fixed costs would pass for per-circuit ones)
        self._evaluations += 1
        per_circuit = wall_s / max(rows, in_flight)
        ideal = self.target_chunk_s / max(per_circuit, 1e-9)
        if abs(ideal - old) <= 0.25 * old:  # within noise of the target: keep it
            return
        new = int(round(min(max(ideal, old / 2), old * 2)))
        new = min(max(new, self.min_chunk_size), self.max_chunk_size)
        if new == old:
            return
        self.chunk_size = new
        self._decisions += 1
        reason = "grow: chunks finish faster than the target" if new > old else "shrink: chunks take longer than the target"
        emit_to(self.bus, BatchSizeDecision(old_size=old, new_size=new, chunk_ms=wall_s * 1e3,
                                            target_ms=self.target_chunk_s * 1e3, reason=reason))

    # ----- results and stats -----

    @staticmethod
    def _dense(outs: list[GroupOut], n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        if len(outs) == 1 and outs[0].in_order:
            return outs[0].probabilities, outs[0].counts
        widths = {g.n_qubits for g in outs}
        if len(widths) != 1:
            return None, None
        size = 2 ** widths.pop()
        probs = np.empty((n, size))
        counts = np.empty((n, size), dtype=np.int64) if outs[0].counts is not None else None
        for g in outs:
            probs[g.indices] = g.probabilities
            if counts is not None:
                counts[g.indices] = g.counts
        return probs, counts

    def _account(self, r: BatchResult, call: _Call) -> None:
        t = self._totals
        t["circuits"] += r.n_circuits
        t["executed"] += r.circuits_executed
        t["failed"] += r.circuits_failed
        t["time_ms"] += r.total_time_ms
        t["api_calls"] += call.api_calls
        t["submitted"] += call.submitted
        t["retries"] += call.retries
        t["native_circuits"] += call.native_circuits
        t["native_gates"] += call.native_gates
        for k, v in r.stage_ms.items():
            self._stage[k] += v

    def get_performance_stats(self) -> PerformanceStats:
        """Totals since the manager was made (the cache's figures since then, too)."""
        t, cfg = self._totals, self.config
        compiler = self._compilers.get(self._native_target) if self._native_target else None
        return PerformanceStats(
            batches=self._batches, total_circuits=int(t["circuits"]), circuits_executed=int(t["executed"]),
            circuits_failed=int(t["failed"]), total_time_ms=t["time_ms"],
            throughput_circuits_per_sec=t["executed"] / (t["time_ms"] / 1e3) if t["time_ms"] else 0.0,
            api_calls=int(t["api_calls"]), circuits_submitted=int(t["submitted"]), retries=int(t["retries"]),
            chunk_size=self.chunk_size, size_decisions=self._decisions, size_evaluations=self._evaluations,
            peak_in_flight=self._peak,
            stage_ms={k: self._stage[k] for k in STAGES if k in self._stage},
            features={k: bool(getattr(cfg, k)) for k in (
                "use_batch_api", "use_native_gates", "enable_smart_caching", "adaptive_batch_sizing")},
            native_target=self._native_target if cfg.use_native_gates else None,
            cache=self.cache.stats(since=self._cache_start) if cfg.enable_smart_caching else None,
            compiler=replace(compiler.totals) if compiler is not None else None,
            native_circuits_run=int(t["native_circuits"]), native_gates_run=int(t["native_gates"]),
        )

    def performance_report(self) -> str:
        return self.get_performance_stats().text()

    def print_performance_report(self) -> None:
        """The v3.4 guide's call: print the report to stdout."""
        print(self.performance_report())

    def _emit(self, r: BatchResult, compiler: NativeGateCompiler | None, purpose: str) -> None:
        if self.bus is None:
            return
        emit_to(self.bus, BatchExecuted(
            batch_id=self._batches, circuits=r.n_circuits, failed=r.circuits_failed, chunks=r.chunks, shots=r.shots,
            total_ms=r.total_time_ms, throughput_cps=r.throughput_circuits_per_sec, stage_ms=r.stage_ms,
            purpose=purpose))
        if self.config.enable_smart_caching:
            emit_to(self.bus, self.cache.stats().to_event())
        if compiler is not None:
            c = compiler.totals
            emit_to(self.bus, CompilerStatsEvent(
                target=compiler.target, compiles=c.compiles, gates_in=c.gates_in, gates_out=c.gates_out,
                n1q_out=c.n1q_out, n2q_out=c.n2q_out, reduction_pct=c.reduction_pct, compile_ms=c.compile_time_ms))
