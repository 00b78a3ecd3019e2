"""Batched statevector simulation in complex128, state shape (B, 2**n), little-endian.

Basis index k has qubit i in bit i (2**i), so column k of the probabilities is IonQ's integer
key k. Large batches run in chunks that keep the working set within `chunk_bytes`.
"""

from __future__ import annotations

from collections import OrderedDict
import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from threading import Lock, Thread, current_thread
from types import ModuleType
import os

import numpy as np

from ..circuits.ir import Circuit
from ..circuits.template import Template
from .heap import retain_freed_memory
from .plan import Plan, build_plan, drop_dead_diagonals
from .program import Program, build_program

MAX_QUBITS = 16
DEFAULT_CHUNK_BYTES = 8 * 2**20

_plans: OrderedDict[tuple[str, bool], Plan] = OrderedDict()
# The 256 most recent plans, fewer when their gather tables pass this: 256 large circuits at 16 qubits held
# 128 MB each (the emulator sees a new structure in every job).
PLAN_CACHE_TABLE_BYTES = 512 * 2**20
_plans_lock = Lock()
_pool: ThreadPoolExecutor | None = None  # shared by all callers; chunks are independent
POOL_PREFIX = "qstore-sim"
PARALLEL_MIN_AMPLITUDES = 2 ** 15
# With shots, rows x (shots + outcomes) from which a small circuit's batch is split too: its sampling outweighs
# its simulation (6 qubits x 1 layer, 200 rows, 1,000 shots: 0.72 against 0.90 ms), but below this the split's
# shorter chunks and wake-up cost more (8 qubits x 1 layer, 50 rows: 0.70 against 0.50 ms). Higher than
# measure.PARALLEL_MIN_DRAWS, which splits sampling alone: here the simulation's chunks are split as well.
PARALLEL_MIN_SHOTS = 200_000


def plan_for(t: Template, probabilities_only: bool = False) -> Plan:
    """The cached plan for this structure (built once per gate structure and use)."""
    key = (t.ops_hash, probabilities_only)
    with _plans_lock:
        plan = _plans.get(key)
        if plan is not None:
            _plans.move_to_end(key)
            return plan
    plan = build_plan(t)
    if probabilities_only:
        plan = drop_dead_diagonals(t, plan)
    with _plans_lock:
        _plans[key] = plan
        while len(_plans) > 1 and (len(_plans) > 256 or sum(p.table_bytes for p in _plans.values())
                                   > PLAN_CACHE_TABLE_BYTES):
            _plans.popitem(last=False)
    return plan


# States are held as (2**n, B): the batch is the innermost axis, so every update runs over long
# contiguous rows whatever the qubit, and gathers move whole rows.

def _kernels() -> ModuleType:
    """The numba kernels, imported on first use (numba's import is slow)."""
    from . import kernels

    return kernels


def program_for(t: Template, probabilities_only: bool = False) -> Program:
    """The cached plan as a compiled program (program.py): one kernel call simulates a chunk."""
    plan = plan_for(t, probabilities_only)
    if plan.program is None:
        plan.program = build_program(t, plan, np.zeros(t.n_angles, dtype=bool), pair_runs=True)
    return plan.program


def warm_up() -> None:
    """Load numba's compiled kernels (shots and adjoint included) now, on this thread (~0.5 s, once per process)."""
    from ..circuits.template import TemplateBuilder

    k = _kernels()
    t = TemplateBuilder(2).gate("ry", 0, angles=(0.1,)).gate("cnot", 1, controls=(0,)).build()
    p = program_for(t)
    angles = np.zeros((1, t.n_angles))
    psi = np.zeros((2 ** t.n_qubits, 1), dtype=np.complex128)
    k.forward(p.n_qubits, p.ins, p.gates, p.prefix, p.fixed1, p.fixed2, p.perm_src, p.perm_phase, angles, psi,
              np.empty_like(psi), np.empty((2, 2, 2, 1), dtype=np.complex128), np.empty((4, 4, 1), dtype=np.complex128),
              np.empty((4, 4), dtype=np.complex128), False)
    k.abs2_transposed(psi, np.empty((1, psi.shape[0])))
    # shots (the default) and the adjoint pass (exact local training's default) load on first use otherwise
    from .adjoint import value_and_grad
    from .measure import sample_counts

    sample_counts(np.array([[0.5, 0.5]]), 1, np.random.default_rng(0))  # the slot table (rows up to 256 wide)
    sample_counts(np.full((1, 512), 1 / 512), 1, np.random.default_rng(0))  # the alias table (wider rows)
    tt = TemplateBuilder(1)
    tt.gate("ry", 0, angles=(tt.trainable(),))
    value_and_grad(tt.build(), np.zeros((1, 1)), None, lambda z: np.ones_like(z))


_warm_started = False


def warm_up_in_background() -> None:
    """Import numba and load the compiled kernels on a daemon thread (~0.5 s, once per process).

    Called when a local backend is created, so the cost overlaps data loading and model building
    instead of landing on the first batch. Idempotent.
    """
    global _warm_started
    if not _warm_started:
        _warm_started = True
        Thread(target=warm_up, name="qstore-sim-warm-up", daemon=True).start()


def _simulate_chunk(t: Template, plan: Plan, angles: np.ndarray, initial: np.ndarray | None) -> np.ndarray:
    """Final states of one chunk, as (2**n, B): one call into the compiled program."""
    if plan.program is None:
        plan.program = build_program(t, plan, np.zeros(t.n_angles, dtype=bool), pair_runs=True)
    p = plan.program
    b = angles.shape[0]
    if initial is None:
        psi = np.empty((2 ** p.n_qubits, b), dtype=np.complex128)
    else:
        psi = np.array(np.asarray(initial).T, dtype=np.complex128, order="C")
    return _kernels().forward(
        p.n_qubits, p.ins, p.gates, p.prefix, p.fixed1, p.fixed2, p.perm_src, p.perm_phase,
        np.ascontiguousarray(angles), psi, np.empty_like(psi), np.empty((2, 2, 2, b), dtype=np.complex128),
        np.empty((4, 4, b), dtype=np.complex128), np.empty((4, 4), dtype=np.complex128), initial is not None)


def _check(t: Template, angles: np.ndarray) -> np.ndarray:
    if t.n_qubits > MAX_QUBITS:
        raise ValueError(f"the local simulator supports up to {MAX_QUBITS} qubits, got {t.n_qubits}")
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim == 1:
        angles = angles[None, :]
    if angles.ndim != 2:
        raise ValueError(f"angles must be (rows, angles) or one row, got shape {angles.shape}")
    if angles.shape[1] != t.n_angles:
        raise ValueError(f"angles has {angles.shape[1]} columns; the template has {t.n_angles} angles")
    bad = ~np.isfinite(angles)
    if bad.any():  # sin and cos of them are NaN: every amplitude of the row would be
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"angles row {row}, angle {col} is {angles[row, col]}: angles must be finite")
    return angles


def chunk_rows(n_qubits: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    return max(1, chunk_bytes // (16 * 2 ** n_qubits))


# A chunk whose state stays in a core's L2 cache (512 KB here) runs up to 1.8x faster per row than one
# that spills (8 qubits: 64 rows vs 200; 12 qubits: 8 rows vs 100); at least 8 rows keep the inner
# loops over the batch long enough.
CACHE_CHUNK_BYTES = 256 * 2**10
MIN_CACHE_ROWS = 8


def cache_rows(n_qubits: int) -> int:
    """Rows per chunk for throughput: the state within CACHE_CHUNK_BYTES, but no fewer than MIN_CACHE_ROWS."""
    return max(MIN_CACHE_ROWS, chunk_rows(n_qubits, CACHE_CHUNK_BYTES))


def states(t: Template, angles: np.ndarray, initial: np.ndarray | None = None,
           chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Final states (B, 2**n) for each row of bound angles."""
    angles = _check(t, angles)
    plan = plan_for(t)
    b = angles.shape[0]
    rows = chunk_rows(t.n_qubits, chunk_bytes)
    out = np.empty((b, 2 ** t.n_qubits), dtype=np.complex128)
    for s in range(0, b, rows):
        init = None if initial is None else initial[s:s + rows]
        out[s:s + rows] = _simulate_chunk(t, plan, angles[s:s + rows], init).T
    return out


THREADS_ENV = "QSTORE_SIM_THREADS"


@functools.cache
def _workers() -> int:
    """Simulation threads: one per core, at most 4 (os.cpu_count reads sysfs: ~15 us, so asked once), or
    QSTORE_SIM_THREADS, which a sweep sets to cores // K for each of its K local workers."""
    asked = os.environ.get(THREADS_ENV, "").strip()
    if not asked:
        return max(1, min(4, os.cpu_count() or 1))
    if not asked.isdigit() or int(asked) < 1:
        raise ValueError(f"{THREADS_ENV}={asked!r}: the simulator's thread count must be a whole number >= 1")
    return int(asked)


def _pool_for(workers: int) -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=POOL_PREFIX)
    return _pool


Sampled = tuple[int, np.ndarray, np.ndarray]  # shots, one generator state per row, the counts to fill


def _probability_job(t: Template, angles: np.ndarray, chunk_bytes: int,
                     sampled: Sampled | None = None) -> tuple[np.ndarray, Callable[[int], None], range]:
    """The output array, the per-chunk function and the chunk starts of one probabilities call.

    With `sampled` = (shots, states, counts), each chunk's job also samples its rows (measure.sample_rows_into)
    right after simulating them, while they are in cache, and the output holds counts / shots.
    """
    angles = _check(t, angles)
    retain_freed_memory()
    plan = plan_for(t, probabilities_only=True)
    b = angles.shape[0]
    size = 2 ** t.n_qubits
    rows = min(chunk_rows(t.n_qubits, chunk_bytes), cache_rows(t.n_qubits))
    draws = 0 if sampled is None else b * (sampled[0] + size)
    split = b * size >= PARALLEL_MIN_AMPLITUDES or draws >= PARALLEL_MIN_SHOTS
    workers = _workers() if split else 1
    chunks = max(1, -(-b // rows))  # a batch of no rows is one empty chunk, not a division by zero
    chunks = -(-chunks // workers) * workers  # equal shares for the threads: 4 x 50 rows, not 64, 64, 64, 8
    rows = max(1, -(-b // chunks))
    out = np.empty((b, size), dtype=np.float64)

    def run(s: int) -> None:
        psi = _simulate_chunk(t, plan, angles[s:s + rows], None)
        _kernels().abs2_transposed(psi, out[s:s + rows])
        if sampled is not None:
            from .measure import sample_rows_into

            shots, states, counts = sampled
            sample_rows_into(out[s:s + rows], shots, states[s:s + rows], counts[s:s + rows], True, s)

    return out, run, range(0, b, rows)


def _run_jobs(run: Callable[[int], None], starts: range) -> None:
    """The chunks on this thread and workers - 1 pool threads, each taking the next chunk left.

    The calling thread works instead of waiting: waking an idle pool thread took ~120 us (p50; p90 ~230 us)
    on this VM, which all of a 200-row batch's threads paid before, and a chunk here takes 250-500 us.
    Every chunk is done before the first error (lowest chunk first) is raised.
    """
    workers = min(_workers(), len(starts))
    if workers == 1 or current_thread().name.startswith(POOL_PREFIX + "_"):  # nested: never wait on the pool
        for s in starts:
            run(s)
        return
    left = iter(starts)
    lock = Lock()
    errors: dict[int, BaseException] = {}

    def drain() -> None:
        while True:
            with lock:
                s = next(left, None)
            if s is None:
                return
            try:
                run(s)
            except BaseException as exc:  # raised by the caller once every chunk is done
                errors[s] = exc

    helpers = [_pool_for(_workers()).submit(drain) for _ in range(workers - 1)]
    drain()
    for f in helpers:
        f.result()
    if errors:
        raise errors[min(errors)]


async def _run_jobs_async(run: Callable[[int], None], starts: range) -> None:
    """The chunks go straight to the simulator's pool, and the loop is woken once, when the last is done:
    going through `asyncio.to_thread` and a future per chunk cost ~0.2 ms of hand-offs, 10% of a
    200-row batch. No simulation runs on the loop."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    remaining = [len(starts)]
    lock = Lock()

    def finish(error: BaseException | None) -> None:
        if not done.done():
            done.set_exception(error) if error is not None else done.set_result(None)

    def job(s: int) -> None:
        error = None
        try:
            run(s)
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if error is not None or last:
            loop.call_soon_threadsafe(finish, error)

    pool = _pool_for(_workers())
    for s in starts:
        pool.submit(job, s)
    await done


def probabilities(t: Template, angles: np.ndarray, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Exact probabilities (B, 2**n).

    Rows are split into chunks (bounded memory) and the chunks run on a small thread pool: the
    kernels release the GIL, so on 2 cores two chunks simulate at once.
    """
    out, run, starts = _probability_job(t, angles, chunk_bytes)
    _run_jobs(run, starts)
    return out


async def probabilities_async(t: Template, angles: np.ndarray, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """`probabilities` for async callers (see _run_jobs_async)."""
    out, run, starts = _probability_job(t, angles, chunk_bytes)
    await _run_jobs_async(run, starts)
    return out


def _shots_job(t: Template, angles: np.ndarray, shots: int, rng: np.random.Generator,
               chunk_bytes: int) -> tuple[np.ndarray, np.ndarray, Callable[[int], None], range]:
    from .measure import check_shots, shot_states

    check_shots(shots)
    angles = _check(t, angles)
    states = shot_states(rng, angles.shape[0])
    counts = np.empty((angles.shape[0], 2 ** t.n_qubits), dtype=np.int64)
    out, run, starts = _probability_job(t, angles, chunk_bytes, (shots, states, counts))
    return out, counts, run, starts


def shot_frequencies(t: Template, angles: np.ndarray, shots: int, rng: np.random.Generator,
                     chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """(counts / shots, counts) of `shots` seeded shots of every row: the same draws, bit for bit, as
    `sample_frequencies(probabilities(t, angles), shots, rng)`, but each chunk is sampled by the job that
    simulated it, while its probabilities are in cache, so a batch is one round of chunk jobs, not two."""
    out, counts, run, starts = _shots_job(t, angles, shots, rng, chunk_bytes)
    _run_jobs(run, starts)
    return out, counts


async def shot_frequencies_async(t: Template, angles: np.ndarray, shots: int, rng: np.random.Generator,
                                 chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """`shot_frequencies` for async callers."""
    out, counts, run, starts = _shots_job(t, angles, shots, rng, chunk_bytes)
    await _run_jobs_async(run, starts)
    return out, counts


def circuit_state(c: Circuit) -> np.ndarray:
    t, row = Template.from_circuit(c.validate())
    return states(t, row[None, :])[0]


def circuit_probabilities(c: Circuit) -> np.ndarray:
    t, row = Template.from_circuit(c.validate())
    return probabilities(t, row[None, :])[0]


def unitary(c: Circuit) -> np.ndarray:
    """The (2**n, 2**n) unitary in the little-endian basis: column k is the image of basis state k. A circuit
    IonQ would refuse (a qubit out of range, a NaN angle) raises CircuitError, not IndexError or NaNs."""
    t, row = Template.from_circuit(c.validate())
    dim = 2 ** c.n_qubits
    cols = states(t, np.repeat(row[None, :], dim, axis=0), initial=np.eye(dim, dtype=np.complex128))
    return cols.T
