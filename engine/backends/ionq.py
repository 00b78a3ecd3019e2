"""IonQ as a Backend: a batch becomes one multi-circuit job per chunk, results come back in input order.

`run` writes the chunks straight from the batch's angle matrix (ionq_payload), submits them
concurrently (at most `max_concurrent_jobs` jobs in flight per run), polls each, fetches the aggregated probabilities and orders them by
`child_job_ids`. The ideal simulator returns exact probabilities, so shots are sampled here with
`np.random.default_rng(seed)`, exactly as the local simulator does; for noisy simulators and QPUs the
per-shot histograms are read where the job lists them (probabilities otherwise, counts by rounding), and with
`voting` aggregation each circuit's sharpened distribution. Jobs carry the run's error-mitigation settings
and IonQ session; a `SpendLedger` reserves each batch's estimate before it is sent and books each job's
actual cost. `dry_run` validates and prices a batch without running it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..circuits.template import CircuitBatch
from ..sim.measure import sample_counts
from .base import BackendLimits, ExecutionResult
from .ionq_client import IonQClient, IonQSettings, job_times, normalize_status
from .ionq_dryrun import DryRunJob, DryRunResult
from .ionq_errors import IonQError, IonQJobFailedError
from .ionq_options import ErrorMitigation
from .ionq_payload import JobChunk, JobOptions, build_chunks
from .ionq_session import SpendLedger

log = logging.getLogger("engine.ionq")


@dataclass(frozen=True)
class JobUpdateInfo:
    """One job's state for the batch-queue view."""

    job_id: str
    circuits: int
    rows: tuple[int, int]  # [start, stop) rows of the batch
    status: str  # submitted, ready, started, completed, failed, canceled
    queue_s: float | None
    run_s: float | None


class IonQBackend:
    """The Backend protocol over IonQ's API (or the emulator, which speaks the same API)."""

    def __init__(
        self,
        client_or_settings: IonQClient | IonQSettings,
        *,
        backend_name: str = "simulator",
        noise_model: str | None = None,
        shots_default: int = 1000,
        seed: int | None = None,
        max_queue_wait_time: float = 3600.0,
        max_concurrent_jobs: int = 4,
        limits: BackendLimits = BackendLimits(),
        on_job_update: Callable[[JobUpdateInfo], None] | None = None,
        mitigation: ErrorMitigation = ErrorMitigation(),
        spend: SpendLedger | None = None,
        session_id: str | None = None,
        read_histograms: bool = True,
    ):
        if isinstance(client_or_settings, IonQClient):
            self.client, self._owns_client = client_or_settings, False
        else:
            self.client, self._owns_client = client_or_settings.client(), True
        if shots_default < 1:
            raise ValueError(f"shots_default must be at least 1, got {shots_default}")
        if max_concurrent_jobs < 1:
            raise ValueError(f"max_concurrent_jobs must be at least 1, got {max_concurrent_jobs}")
        self.backend_name = backend_name
        self.noise_model = noise_model
        self.shots_default = shots_default
        self.max_queue_wait_time = max_queue_wait_time
        self.max_concurrent_jobs = max_concurrent_jobs
        self.on_job_update = on_job_update
        self.limits = limits  # IonQ's multi-circuit limits by default; smaller ones split batches further
        self.name = f"ionq:{backend_name}" + (f"[{noise_model}]" if noise_model and noise_model != "ideal" else "")
        self._rng = np.random.default_rng(seed)
        self._in_flight: dict[str, JobChunk] = {}
        self.mitigation = mitigation
        self.spend = spend  # the run's ledger: every job's estimate reserved first, its actual cost booked after
        self.session_id = session_id  # the IonQ session every job is submitted in (set once it is open)
        self.read_histograms = read_histograms
        self.result_sources: Counter[str] = Counter()  # circuits read from "histogram", "probabilities", ...
        self._posting: set[str] = set()  # client UUIDs whose job-creating POST is under way
        self._orphans: dict[str, JobChunk] = {}  # POSTs cut short by a failed batch: looked up again at the end

    @property
    def exact(self) -> bool:
        """True when IonQ returns exact probabilities (the ideal simulator), so shots are sampled here."""
        return self.backend_name == "simulator" and self.noise_model in (None, "ideal")

    @property
    def in_flight(self) -> list[str]:
        return list(self._in_flight)

    def _notify(self, chunk: JobChunk, job_id: str, job: Mapping[str, Any] | None, status: str) -> None:
        if self.on_job_update is None:
            return
        queue, run = job_times(job) if job is not None else (None, None)
        self.on_job_update(JobUpdateInfo(job_id, chunk.n_circuits, (chunk.start, chunk.stop), status, queue, run))

    async def _run_chunk(self, chunk: JobChunk, n_qubits: int, sem: asyncio.Semaphore,
                         mine: dict[str, JobChunk]) -> tuple[np.ndarray, dict[str, Any]]:
        """Submit, wait, fetch. The job stays in flight (cancellable) until it is terminal."""
        async with sem:
            begin = time.perf_counter()
            self._posting.add(chunk.client_id)
            try:
                job_id = await self.client.create_job(chunk.body, client_id=chunk.client_id,
                                                      backend=self.backend_name, circuits=chunk.n_circuits)
            except asyncio.CancelledError:
                raise  # still in _posting: the POST may have created the job; the batch's cleanup looks it up
            except BaseException:
                self._posting.discard(chunk.client_id)
                raise
            self._posting.discard(chunk.client_id)
            created = time.perf_counter()
            self._in_flight[job_id] = mine[job_id] = chunk
            self._notify(chunk, job_id, None, "submitted")
            try:
                job = await self.client.wait(
                    job_id, timeout=self.max_queue_wait_time,
                    on_update=lambda j: self._notify(chunk, job_id, j, normalize_status(j.get("status"))))
            except IonQJobFailedError:
                self._forget(job_id, mine)
                await self._settle(chunk, job_id)  # a failed job may still be billed: book what IonQ says
                raise
            if self.client.was_uncertain(chunk.client_id):  # a late copy may have landed: run only one
                await self.client.cancel_duplicates(chunk.client_id, job_id, self.backend_name)
            await self._settle(chunk, job_id)  # before forgetting it: a cancel mid-way still books it once
            self._forget(job_id, mine)
            fetch0 = time.perf_counter()
            probs = await self._read_results(job, n_qubits)
            if probs.shape[0] != chunk.n_circuits:
                raise IonQError(f"job {job_id} returned {probs.shape[0]} results for {chunk.n_circuits} circuits")
            queue, run = job_times(job)
            return probs, {"job_id": job_id, "submit": created - begin, "queue": queue or 0.0, "execute": run or 0.0,
                           "fetch": time.perf_counter() - fetch0}

    async def _settle(self, chunk: JobChunk, job_id: str) -> None:
        if self.spend is not None:
            await self.spend.settle(self.client, chunk.client_id, job_id)

    async def _read_results(self, job: Mapping[str, Any], n_qubits: int) -> np.ndarray:
        """Probabilities in input order: sharpened when `voting` was chosen, from the per-shot histograms
        for shot-based targets that list them, else the job's probabilities."""
        rows = len(job.get("child_job_ids") or []) or 1
        if self.mitigation.sharpen:
            self.result_sources["sharpened probabilities"] += rows
            return await self.client.sharpened_probabilities(job, n_qubits)
        if not self.exact and self.read_histograms:
            counts = await self.client.histogram_counts(job, n_qubits)
            if counts is not None:
                self.result_sources["histogram"] += rows
                totals = counts.sum(axis=1, keepdims=True)
                if (totals <= 0).any():
                    raise IonQError(f"job {job.get('id')}: a histogram with no shots")
                return np.asarray(counts / totals, dtype=np.float64)
        self.result_sources["probabilities"] += rows
        return await self.client.result_probabilities(job, n_qubits)

    def _options(self, shots: int, seed: int | None, native: bool, *, dry_run: bool = False) -> JobOptions:
        self.mitigation.check(self.backend_name, shots, native)
        return JobOptions(self.backend_name, shots, self.noise_model, None if self.exact else seed,
                          settings=self.mitigation.settings_body(), dry_run=dry_run, session_id=self.session_id)

    async def _book_failed_batch(self, chunks: list[JobChunk], canceled: dict[str, JobChunk]) -> None:
        """After a failed batch: book what the canceled jobs cost (IonQ may bill one that had started) and
        drop the reservations of chunks that never became jobs, so the cap check sees the real spend."""
        if self.spend is None:
            return
        for job_id, chunk in canceled.items():
            try:
                await self._settle(chunk, job_id)
            except IonQError as e:  # booked at its estimate by the ledger already, or said here
                log.warning("could not book the cost of canceled job %s: %s", job_id, e)
        for chunk in chunks:
            self.spend.release(chunk.client_id)

    def _reserve(self, chunks: list[JobChunk], shots: int) -> None:
        """Reserve every chunk's estimate before any is sent: a batch that would pass the cap sends nothing."""
        if self.spend is None:
            return
        done: list[str] = []
        try:
            for c in chunks:
                self.spend.reserve(c.client_id, c.n_circuits, shots)
                done.append(c.client_id)
        except IonQError:
            for key in done:
                self.spend.release(key)
            raise

    def _forget(self, job_id: str, mine: dict[str, JobChunk]) -> None:
        self._in_flight.pop(job_id, None)
        mine.pop(job_id, None)

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        """Execute every row; raises a typed IonQError naming the rows of the chunk that failed.

        On a failure the other jobs of this batch are canceled on the server, so nothing keeps running
        (and costing) for a batch that cannot complete.
        """
        t = batch.template
        if t.n_qubits > self.limits.max_qubits:
            raise ValueError(f"{t.n_qubits} qubits exceeds this backend's {self.limits.max_qubits}")
        if shots < 0:
            raise ValueError(f"shots must be >= 0, got {shots}")
        t0 = time.perf_counter()
        sent_shots = shots or self.shots_default
        options = self._options(sent_shots, seed, t.gateset == "native")
        chunks = await asyncio.to_thread(build_chunks, t, batch.angles(), options, self.limits)
        if not chunks:
            empty = np.zeros((0, 2 ** t.n_qubits))
            return ExecutionResult(empty, None if self.exact and not shots else empty.astype(np.int64),
                                   shots if self.exact else sent_shots, {}, [])
        t_build = time.perf_counter()
        self._reserve(chunks, sent_shots)
        sem = asyncio.Semaphore(self.max_concurrent_jobs)
        mine: dict[str, JobChunk] = {}
        tasks = [asyncio.create_task(self._run_chunk(c, t.n_qubits, sem, mine)) for c in chunks]
        try:
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:  # the caller stopped: jobs stay in flight for cancel_all()
            for task in tasks:
                task.cancel()
            raise
        failed = [(c, task) for c, task in zip(chunks, tasks)
                  if task.done() and not task.cancelled() and task.exception() is not None]
        if failed:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            canceled = dict(mine)
            for chunk in chunks:  # a POST cut short by the cancel may still have created its job: find it
                if chunk.client_id in self._posting:
                    self._posting.discard(chunk.client_id)
                    self._orphans[chunk.client_id] = chunk  # it may land later still: cancel_all looks again
                    try:
                        found = await self.client.find_jobs(chunk.client_id, self.backend_name)
                    except IonQError as e:  # the batch's own error is the one to raise; say this one
                        log.warning("could not look up the job of rows %d-%d: %s", chunk.start, chunk.stop, e)
                        found = []
                    for job_id in found:
                        canceled[job_id] = chunk
            await self._cancel(list(canceled))
            await self._book_failed_batch(chunks, canceled)
            chunk, task = failed[0]
            error = task.exception()
            if isinstance(error, IonQError):
                error.circuits = (chunk.start, chunk.stop)
            assert error is not None  # `failed` holds only tasks that raised
            raise error
        t_jobs = time.perf_counter()
        outcome = [task.result() for task in tasks]
        probs = np.concatenate([p for p, _ in outcome], axis=0)
        counts = None
        if self.exact:
            if shots:
                rng = np.random.default_rng(seed) if seed is not None else self._rng
                counts = sample_counts(probs, shots, rng)
                probs = counts / float(shots)
        else:
            counts = np.rint(probs * sent_shots).astype(np.int64)
            shots = sent_shots
        infos = [info for _, info in outcome]
        t_end = time.perf_counter()
        # Jobs run concurrently, so per-job server times are reported as the batch's longest.
        timings = {
            "build": t_build - t0,
            "submit": max(i["submit"] for i in infos),
            "queue": max(i["queue"] for i in infos),
            "execute": max(i["execute"] for i in infos),
            "fetch": max(i["fetch"] for i in infos),
            "post_process": t_end - t_jobs,
            "total": t_end - t0,
        }
        return ExecutionResult(probs, counts, shots, timings, [i["job_id"] for i in infos])

    async def dry_run(self, batch: CircuitBatch, *, shots: int = 0) -> DryRunResult:
        """Submit every chunk of the batch with `dry_run: true`: IonQ validates and prices each payload and
        runs nothing. A payload IonQ refuses raises its IonQBadRequestError; nothing is charged."""
        sent_shots = shots or self.shots_default
        options = self._options(sent_shots, None, batch.template.gateset == "native", dry_run=True)
        chunks = await asyncio.to_thread(build_chunks, batch.template, batch.angles(), options, self.limits)
        out = DryRunResult(self.backend_name, sent_shots)
        sem = asyncio.Semaphore(self.max_concurrent_jobs)

        async def one(chunk: JobChunk) -> DryRunJob:
            async with sem:
                job_id = await self.client.create_job(chunk.body, client_id=chunk.client_id,
                                                      backend=self.backend_name, circuits=chunk.n_circuits)
                job = await self.client.wait(job_id, timeout=self.max_queue_wait_time)
                cost = await self.client.job_cost(job_id)
            executed = bool(job.get("results")) or bool(job.get("execution_duration_ms"))
            value = float((cost.get("estimated_cost") or {}).get("value", 0.0))
            return DryRunJob(job_id, chunk.n_circuits, normalize_status(job.get("status")), value, executed)

        out.jobs = list(await asyncio.gather(*(one(c) for c in chunks)))
        return out

    async def _cancel(self, ids: list[str]) -> bool:
        """Cancel `ids`; False (and a warning naming them) when IonQ could not be asked."""
        if not ids:
            return True
        try:
            await self.client.cancel_many(ids)
        except IonQError as e:
            log.warning("could not cancel %d IonQ job(s) (%s): %s; they may still run and be billed",
                        len(ids), ", ".join(ids), e)
            return False
        for job_id in ids:
            self._in_flight.pop(job_id, None)
        return True

    async def cancel_all(self) -> list[str]:
        """Cancel every job still in flight (used on stop), and any job a cut-short POST created after all;
        returns the ids cancelled (none when the cancel failed: its warning names them, not a "cancelled" line)."""
        ids = list(self._in_flight)
        for client_id, chunk in list(self._orphans.items()):
            try:
                found = await self.client.find_jobs(client_id, self.backend_name)
            except IonQError as e:
                log.warning("could not look up the job of rows %d-%d: %s", chunk.start, chunk.stop, e)
                continue
            del self._orphans[client_id]
            for job_id in found:
                if job_id not in ids:
                    ids.append(job_id)
                    if self.spend is not None and all(j.job_id != job_id for j in self.spend.jobs):
                        await self._settle(chunk, job_id)
        return ids if await self._cancel(ids) else []

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()
