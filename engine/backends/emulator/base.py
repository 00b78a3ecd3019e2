"""The emulator's state and the helpers every group of routes shares (job lookup, prices, costs, keys)."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import Counter

import numpy as np
from aiohttp import web

from .faults import FaultPlan
from .jobs import EmuJob, JobStore
from .replies import error as _error
from .replies import request_json
from .sessions import SessionStore
from .settings import HARDWARE_QUBITS, EmulatorSettings, Exchange


class EmulatorBase:
    """The app's state; lives on the server's event loop."""

    def __init__(self, settings: EmulatorSettings):
        self.settings = settings
        self.clock = settings.clock or time.monotonic
        self.store = JobStore(settings.timing, self.clock, time.time(), settings.results_style)
        self.faults = FaultPlan()
        self.faults.set(settings.faults, seed=settings.seed)
        self.sessions = SessionStore(self.clock, self.store.iso)
        self.requests: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        self._seeds = np.random.SeedSequence(settings.seed)
        self._tasks: set[asyncio.Task[None]] = set()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("apiKey "):
            return False
        given = header[len("apiKey "):].encode()
        return any(hmac.compare_digest(given, k.encode()) for k in self.settings.api_keys)

    def _key_index(self, request: web.Request) -> int:
        given = request.headers.get("Authorization", "")[len("apiKey "):]
        return next(i for i, k in enumerate(self.settings.api_keys) if hmac.compare_digest(given.encode(), k.encode()))

    def _job(self, request: web.Request) -> EmuJob | None:
        return self.store.jobs.get(request.match_info["id"])

    async def _ids(self, request: web.Request) -> list[str] | web.Response:
        """The `{"ids": [...]}` body of a bulk operation."""
        try:
            body = request_json(await request.read())
        except ValueError as e:
            return _error(400, f"the request body is not valid JSON: {e}")
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error(400, '"ids" must be an array of job ids', ("ids",))
        if isinstance(body, dict) and set(body) - {"ids"}:
            extra = sorted(set(body) - {"ids"})[0]
            return _error(400, f'"{extra}" is not allowed', (extra,))
        return ids

    def _price(self, backend: str, shots: int, gates_1q: int, gates_2q: int) -> float:
        return self.settings.rates[backend].cost(shots, gates_1q, gates_2q)

    def _job_cost(self, job: EmuJob) -> tuple[float, float, bool]:
        """(estimated, committed, final) cost of a job. Committed is what it costs so far: nothing for a dry
        run or a job canceled before it started or failed before it ran, the estimate otherwise. Final: the
        actual cost is known (the job is done; a dry run's is 0)."""
        if job.parent_id is not None:  # a child's share is billed on its parent
            circuits = [job.job.circuits[job.index]]
            one = sum(c.counts()[0] for c in circuits)
            two = sum(len(c.gates) for c in circuits) - one
        else:
            one, two = job.job.gate_counts()
        estimate = self._price(job.job.backend, job.job.shots, one, two)
        status = job.status(self.clock())
        if job.job.dry_run:
            return estimate, 0.0, True
        if status == "canceled":
            ran = job.canceled_at is not None and job.canceled_at >= job.start_at
            return estimate, estimate if ran else 0.0, True
        if status == "failed":
            return estimate, 0.0, True
        return estimate, estimate, status == "completed"

    def _session_spend(self, session_id: str) -> float:
        s = self.sessions.sessions.get(session_id)
        if s is None:
            return 0.0
        return s.spent_deleted + sum(self._job_cost(self.store.jobs[j])[1] for j in s.job_ids if j in self.store.jobs)

    def _qubits(self, backend: str) -> int:
        return min(HARDWARE_QUBITS[backend], self.settings.max_qubits)
