"""The emulator's job store: scheduling on a clock, status progression, and IonQ-shaped job objects.

A job is scheduled when it is created: `submitted` for `submit_s`, `ready` while it waits `queue_s`
(and for a free device when `max_parallel_jobs` is set, as on a QPU that runs one job at a time),
`started` for its execution time (`job_overhead_s` + per gate + per shot), then `completed` (or
`failed` with a failure code). Status is read from the clock on every request, so a test can drive
the progression with a manual clock. Child jobs of a multi-circuit job mirror their parent. A dry run
takes no device time: it is `completed` at once, with no results.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .execute import CircuitResult
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
    results: list[CircuitResult] | None = None  # one per circuit, set when simulated
    sim_done: bool = False
    session_id: str | None = None

    @property
    def dry_run(self) -> bool:
        return self.job.dry_run

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
        if self.job.dry_run:  # validated and priced, nothing executed: done at once, no results
            return "completed"
        if now < self.end_at or not self.sim_done:
            return "started"
        return "failed" if self.failure else "completed"


def descriptor(artifact_id: str, fmt: str) -> dict[str, str]:
    return {"id": artifact_id, "format": fmt, "media_type": "application/json"}


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
        self.client_ids: Counter[str] = Counter()
        self.jobs_created = 0
        self.circuits_received = 0
        self.jobs_executed = 0  # simulations run (a dry run never is one)
        self.dry_runs = 0
        self.deleted: set[str] = set()
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
        if job.dry_run:
            ready = start = end = now
            self.dry_runs += 1
        else:
            ready, start, end = self._schedule(now, self.timing.execution_s(gates, job.shots, len(job.circuits)))
        parent = EmuJob(str(uuid.uuid4()), job, now, ready, start, end, failure=failure or job.failure,
                        session_id=job.session_id)
        if job.dry_run:
            parent.failure = None
            parent.sim_done = True
        if job.job_type == MULTI:
            for i in range(len(job.circuits)):
                child = EmuJob(str(uuid.uuid4()), job, now, ready, start, end, parent_id=parent.id, index=i,
                               failure=parent.failure, session_id=job.session_id, sim_done=parent.sim_done)
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

    def set_results(self, parent: EmuJob, results: list[CircuitResult] | None, error: str | None) -> None:
        """Called when the simulation finishes (or fails: a SimulationError failure)."""
        if error is not None and parent.failure is None:
            parent.failure = ("SimulationError", error)
        parent.results = results  # one per circuit submitted, in order: a child's is results[child.index]
        parent.sim_done = True
        for cid in parent.child_ids:  # by index, not position: a child deleted mid-simulation shifts positions
            child = self.jobs[cid]
            child.failure = parent.failure
            child.results = [results[child.index]] if results is not None else None
            child.sim_done = True

    def delete(self, job_id: str) -> list[str]:
        """Remove a job (a parent with its children); a job still running is canceled first. The ids removed."""
        job = self.jobs.get(job_id)
        if job is None:
            return []
        self.cancel(job_id)
        removed = [job_id, *job.child_ids]
        for i in removed:
            self.jobs.pop(i, None)
            self.deleted.add(i)
        if job_id in self.order:
            self.order.remove(job_id)
        if job.parent_id is not None and job.parent_id in self.jobs:  # its results stay, unlisted (by index)
            self.jobs[job.parent_id].child_ids.remove(job_id)
        return removed

    def child_results(self, parent: EmuJob, results: list[CircuitResult]) -> list[tuple[str, CircuitResult]]:
        """(child id, its result) for a parent's listed children that have one: a canceled child has none."""
        return [(cid, results[self.jobs[cid].index]) for cid in parent.child_ids
                if self.jobs[cid].canceled_at is None]

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
            "session_id": job.session_id,
            "metadata": p.metadata or None,
            "name": p.name,
            "submitted_at": self.iso(job.created),
            "started_at": self.iso(job.start_at) if started else None,
            "completed_at": self.iso(job.end_at) if done else (self.iso(job.canceled_at)
                                                               if job.canceled_at is not None else None),
            "predicted_wait_time_ms": int(round((job.start_at - job.created) * 1000)),
            "predicted_execution_duration_ms": int(round((job.end_at - job.start_at) * 1000)),
            "execution_duration_ms": int(round((job.end_at - job.start_at) * 1000)) if done else None,
            "failure": ({"code": job.failure[0], "message": job.failure[1]}
                        if status == "failed" and job.failure is not None else None),
            "output": self._output(job) if status == "completed" else {},
            "settings": self._settings(job),
            "stats": {"qubits": max(c.n_qubits for c in circuits), "circuits": len(circuits),
                      "gate_counts": {"1q": one, "2q": gates - one}},
            "results": self._results(job) if status == "completed" and not p.dry_run else None,
        }
        if p.noise_echo is not None:
            out["noise"] = p.noise_echo
        if p.noise_model != "ideal":
            out["shots"] = p.shots
        if with_children:
            out["child_job_ids"] = list(job.child_ids) if job.child_ids else None
        return out

    def _results(self, job: EmuJob) -> dict[str, Any]:
        """Result descriptors: artifacts (the current spec) or the older results URLs. Histogram and per-shot
        results exist for shot-based jobs only (noisy models, QPU targets), per circuit (not on a parent)."""
        multi = bool(job.child_ids)
        shot_based = job.job.shot_based
        if self.results_style == "url":
            base = f"/v0.4/jobs/{job.id}/results"
            if multi:
                return {"probabilities": {"url": f"{base}/probabilities/aggregated"}}
            out = {"probabilities": {"url": f"{base}/probabilities"}}
            if shot_based:
                out |= {"histogram": {"url": f"{base}/histogram"}, "shots": {"url": f"{base}/shots"}}
            return out
        if multi:
            return {"ionq.result.probabilities-aggregate.json.v1": descriptor(
                "probabilities-aggregate", "ionq.result.probabilities-aggregate.json.v1")}
        out = {"ionq.result.probabilities.json.v1": descriptor("probabilities", "ionq.result.probabilities.json.v1")}
        if shot_based:
            out["ionq.result.histogram.json.v1"] = descriptor("histogram", "ionq.result.histogram.json.v1")
            out["ionq.result.shots.json.v1"] = descriptor("shots", "ionq.result.shots.json.v1")
        return out

    @staticmethod
    def _settings(job: EmuJob) -> dict[str, Any]:
        """The job's settings as sent, with the debiasing IonQ applied (its default when not sent) on QPUs."""
        p = job.job
        out = {k: v for k, v in p.settings.items() if k in ("compilation", "error_mitigation")}
        if p.backend != "simulator":
            out["error_mitigation"] = {**(out.get("error_mitigation") or {}), "debiasing": p.debiasing}
        return out

    def _output(self, job: EmuJob) -> dict[str, Any]:
        """`output.error_mitigation` for a debiased job: its variants and the two aggregations."""
        if job.results is None or not job.job.debiasing or job.child_ids:
            return {}
        r = job.results[0]
        variants = [{"variant_id": v.variant_id, "qubit_map": v.qubit_map, "shots": v.shots, "results": {
            "ionq.result.probabilities.json.v1": descriptor(f"variant-{v.variant_id}-probabilities",
                                                            "ionq.result.probabilities.json.v1"),
            "ionq.result.histogram.json.v1": descriptor(f"variant-{v.variant_id}-histogram",
                                                        "ionq.result.histogram.json.v1"),
        }} for v in r.variants]
        return {"error_mitigation": {
            "debiasing": {"variants": variants, "aggregation_method": "average"},
            "aggregations": {m: descriptor(f"aggregation-{m}", "ionq.result.histogram.json.v2")
                             for m in ("average", "voting")},
        }}

    def list(self, *, ids: list[str] | None, parent: str | None, status: str | None, targets: list[str] | None,
             limit: int, after: str | None, session: str | None = None) -> tuple[list[EmuJob], str | None]:
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
        if session is not None:
            pool = [j for j in pool if j.session_id == session]
        start = 0
        if after is not None:
            start = next((k for k, j in enumerate(pool) if j.id == after), len(pool))
        page = pool[start:start + limit]
        nxt = pool[start + limit].id if start + limit < len(pool) else None
        return page, nxt
