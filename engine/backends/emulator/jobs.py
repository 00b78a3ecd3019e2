"""The emulator's job store: scheduling on a clock, status progression, and IonQ-shaped job objects.

A job is scheduled when it is created: `submitted` for `submit_s`, `ready` while it waits `queue_s`
(and for a free device when `max_parallel_jobs` is set, as on a QPU that runs one job at a time),
`started` for its execution time (`job_overhead_s` + per gate + per shot), then `completed` (or
`failed` with a failure code). Status is read from the clock on every request, so a test can drive
the progression with a manual clock. Child jobs of a multi-circuit job mirror their parent.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .payload import MULTI, SINGLE, ParsedJob

PROJECT_ID = "5f4b2a1c-0e9d-4c7b-8a6f-3d2e1c0b9a87"
SUBMITTER_ID = "qstore-emulator"


@dataclass
class Timing:
    """The emulator's time model, in seconds."""

    submit_s: float = 0.0
    queue_s: float = 0.0
    job_overhead_s: float = 0.0
    exec_per_gate_s: float = 0.0
    exec_per_shot_s: float = 0.0
    max_parallel_jobs: int | None = None  # None: every job runs as soon as its queue time is over

    def execution_s(self, gates: int, shots: int, circuits: int) -> float:
        return self.job_overhead_s + self.exec_per_gate_s * gates + self.exec_per_shot_s * shots * circuits


@dataclass
class EmuJob:
    id: str
    job: ParsedJob
    created: float
    ready_at: float
    start_at: float
    end_at: float
    parent_id: str | None = None
    child_ids: list[str] = field(default_factory=list)
    index: int = 0  # for a child: its position in the parent's circuits
    canceled_at: float | None = None
    failure: tuple[str, str] | None = None
    results: list[dict[str, float]] | None = None  # one distribution per circuit, set when simulated
    sim_done: bool = False

    @property
    def type(self) -> str:
        return MULTI if self.child_ids else SINGLE

    @property
    def n_circuits(self) -> int:
        return len(self.child_ids) or 1

    def status(self, now: float) -> str:
        if self.canceled_at is not None:
            return "canceled"
        if now < self.ready_at:
            return "submitted"
        if now < self.start_at:
            return "ready"
        if now < self.end_at or not self.sim_done:
            return "started"
        return "failed" if self.failure else "completed"


class JobStore:
    """All jobs, newest last; the counters tests read (jobs created, duplicates)."""

    def __init__(self, timing: Timing, clock: Callable[[], float], wall0: float, results_style: str):
        self.timing = timing
        self.clock = clock
        self.results_style = results_style
        self.started = self._clock0 = clock()
        self._wall0 = wall0
        self.jobs: dict[str, EmuJob] = {}
        self.order: list[str] = []  # top-level jobs, oldest first
        self.client_ids: Counter = Counter()
        self.jobs_created = 0
        self.circuits_received = 0
        self._workers: list[float] = []

    @property
    def duplicates(self) -> int:
        """Jobs whose client UUID (metadata.qstore_client_id) was already used by an earlier job."""
        return sum(n - 1 for n in self.client_ids.values() if n > 1)

    def iso(self, t: float) -> str:
        wall = self._wall0 + (t - self._clock0)
        return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _schedule(self, now: float, exec_s: float) -> tuple[float, float, float]:
        ready = now + self.timing.submit_s
        start = ready + self.timing.queue_s
        limit = self.timing.max_parallel_jobs
        if limit is not None:
            while len(self._workers) < limit:
                heapq.heappush(self._workers, now)
            start = max(start, heapq.heappop(self._workers))
            heapq.heappush(self._workers, start + exec_s)
        return ready, start, start + exec_s

    def create(self, job: ParsedJob, failure: tuple[str, str] | None) -> EmuJob:
        now = self.clock()
        gates = sum(len(c.gates) for c in job.circuits)
        ready, start, end = self._schedule(now, self.timing.execution_s(gates, job.shots, len(job.circuits)))
        parent = EmuJob(str(uuid.uuid4()), job, now, ready, start, end, failure=failure or job.failure)
        if job.job_type == MULTI:
            for i in range(len(job.circuits)):
                child = EmuJob(str(uuid.uuid4()), job, now, ready, start, end, parent_id=parent.id, index=i,
                               failure=parent.failure)
                self.jobs[child.id] = child
                parent.child_ids.append(child.id)
        self.jobs[parent.id] = parent
        self.order.append(parent.id)
        self.jobs_created += 1
        self.circuits_received += len(job.circuits)
        client_id = job.metadata.get("qstore_client_id")
        if client_id:
            self.client_ids[client_id] += 1
        return parent

    def set_results(self, parent: EmuJob, results: list[dict[str, float]] | None, error: str | None) -> None:
        """Called when the simulation finishes (or fails: a SimulationError failure)."""
        if error is not None and parent.failure is None:
            parent.failure = ("SimulationError", error)
        parent.results = results
        parent.sim_done = True
        for i, cid in enumerate(parent.child_ids):
            child = self.jobs[cid]
            child.failure = parent.failure
            child.results = [results[i]] if results is not None else None
            child.sim_done = True

    def cancel(self, job_id: str) -> None:
        """Cancel a job that is not terminal (and its children); a terminal job is left as it is."""
        job = self.jobs[job_id]
        now = self.clock()
        if job.status(now) in ("completed", "failed", "canceled"):
            return
        job.canceled_at = now
        for cid in job.child_ids:
            self.jobs[cid].canceled_at = now

    # ------------------------------------------------------------------------------------- rendering

    def render(self, job: EmuJob, *, with_children: bool = True) -> dict[str, Any]:
        """The job object of GET /jobs/{id} (and, without child_job_ids, of GET /jobs)."""
        now = self.clock()
        status = job.status(now)
        p = job.job
        circuits = p.circuits if job.parent_id is None else [p.circuits[job.index]]
        one = sum(c.counts()[0] for c in circuits)
        gates = sum(len(c.gates) for c in circuits)
        started = status in ("started", "completed", "failed") or (job.canceled_at is not None
                                                                      and job.canceled_at >= job.start_at)
        done = status in ("completed", "failed")
        out: dict[str, Any] = {
            "id": job.id,
            "status": status,
            "type": SINGLE if job.parent_id is not None else job.type,
            "backend": p.backend,
            "dry_run": p.dry_run,
            "submitter_id": SUBMITTER_ID,
            "project_id": PROJECT_ID,
            "parent_job_id": job.parent_id,
            "session_id": None,
            "metadata": p.metadata or None,
            "name": p.name,
            "submitted_at": self.iso(job.created),
            "started_at": self.iso(job.start_at) if started else None,
            "completed_at": self.iso(job.end_at) if done else (self.iso(job.canceled_at)
                                                               if job.canceled_at is not None else None),
            "predicted_wait_time_ms": int(round((job.start_at - job.created) * 1000)),
            "predicted_execution_duration_ms": int(round((job.end_at - job.start_at) * 1000)),
            "execution_duration_ms": int(round((job.end_at - job.start_at) * 1000)) if done else None,
            "failure": {"code": job.failure[0], "message": job.failure[1]} if status == "failed" else None,
            "output": {},
            "settings": {k: v for k, v in p.settings.items() if k in ("compilation", "error_mitigation")},
            "stats": {"qubits": max(c.n_qubits for c in circuits), "circuits": len(circuits),
                      "gate_counts": {"1q": one, "2q": gates - one}},
            "results": self._results(job) if status == "completed" else None,
        }
        if p.noise_echo is not None:
            out["noise"] = p.noise_echo
        if p.noise_model != "ideal":
            out["shots"] = p.shots
        if with_children:
            out["child_job_ids"] = list(job.child_ids) if job.child_ids else None
        return out

    def _results(self, job: EmuJob) -> dict[str, Any]:
        multi = bool(job.child_ids)
        if self.results_style == "url":
            suffix = "/aggregated" if multi else ""
            return {"probabilities": {"url": f"/v0.4/jobs/{job.id}/results/probabilities{suffix}"}}
        if multi:
            fmt, art = "ionq.result.probabilities-aggregate.json.v1", "probabilities-aggregate"
        else:
            fmt, art = "ionq.result.probabilities.json.v1", "probabilities"
        return {fmt: {"id": art, "format": fmt, "media_type": "application/json"}}

    def list(self, *, ids: list[str] | None, parent: str | None, status: str | None, targets: list[str] | None,
             limit: int, after: str | None) -> tuple[list[EmuJob], str | None]:
        """Newest first. Child jobs appear only when asked for by `parent_job_id` or `ids`."""
        if parent is not None:
            pj = self.jobs.get(parent)
            pool = [self.jobs[c] for c in reversed(pj.child_ids)] if pj else []
        elif ids:
            pool = [self.jobs[i] for i in ids if i in self.jobs]
        else:
            pool = [self.jobs[i] for i in reversed(self.order)]
        now = self.clock()
        if status is not None:
            pool = [j for j in pool if j.status(now) == status]
        if targets:
            pool = [j for j in pool if j.job.backend in targets]
        start = 0
        if after is not None:
            start = next((k for k, j in enumerate(pool) if j.id == after), len(pool))
        page = pool[start:start + limit]
        nxt = pool[start + limit].id if start + limit < len(pool) else None
        return page, nxt
