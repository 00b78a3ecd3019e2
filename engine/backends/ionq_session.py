"""A QPU run inside one IonQ session, and the run's spend: actual job costs summed against the cap.

`QpuSession` opens `POST /sessions` with the spec's `SessionSettingsRequest`: a `cost_limit` in USD (from
`max_cost_usd`), a `job_count_limit` and a `duration_limit_min`, so IonQ itself refuses anything past the
run's limits even if this process misbehaves; every job of the run carries its `session_id`, and the
session is ended (`POST /sessions/{id}/end`) when the run completes, fails, is stopped or interrupted.

`SpendLedger` is our own guard in front of IonQ's: before a job is submitted its estimate is reserved,
and a job whose estimate would take spent + reserved past the cap is not submitted (IonQSpendCapError,
which the session turns into a checkpoint and a stop). When a job is done its actual cost is read from
`GET /jobs/{id}/cost` (`cost`, or `estimated_cost` when IonQ has not billed it yet, said so) and
replaces the reservation.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .ionq_client import IonQClient
from .ionq_errors import IonQError, IonQSpendCapError

log = logging.getLogger("engine.ionq")


@dataclass(frozen=True)
class SessionLimits:
    """The limits IonQ enforces on the session (spec SessionSettingsRequest)."""

    cost_limit_usd: float
    job_count_limit: int
    duration_limit_min: int

    def __post_init__(self) -> None:
        if not self.cost_limit_usd > 0:
            raise ValueError(f"cost_limit_usd must be > 0, got {self.cost_limit_usd}")
        if self.job_count_limit < 1:
            raise ValueError(f"job_count_limit must be >= 1, got {self.job_count_limit}")
        if self.duration_limit_min < 1:
            raise ValueError(f"duration_limit_min must be >= 1, got {self.duration_limit_min}")

    def request_body(self, backend: str) -> dict[str, Any]:
        """The CreateSessionRequest body."""
        return {"backend": backend, "settings": {
            "job_count_limit": int(self.job_count_limit), "duration_limit_min": int(self.duration_limit_min),
            "cost_limit": {"unit": "usd", "value": float(self.cost_limit_usd)}}}


class QpuSession:
    """One IonQ session: `async with QpuSession(client, backend, limits) as s:` ... `s.id` ... (ended on exit)."""

    def __init__(self, client: IonQClient, backend: str, limits: SessionLimits):
        self.client = client
        self.backend = backend
        self.limits = limits
        self.id: str | None = None
        self.status: str | None = None
        self.ended = False

    async def open(self) -> str:
        session = await self.client.create_session(self.limits.request_body(self.backend))
        self.id = str(session["id"])
        self.status = str(session.get("status"))
        log.info("opened IonQ session %s on %s (cost limit $%.2f, %d jobs, %d min)", self.id, self.backend,
                 self.limits.cost_limit_usd, self.limits.job_count_limit, self.limits.duration_limit_min)
        return self.id

    async def end(self) -> None:
        """End the session; safe to call twice and on a session that never opened."""
        if self.id is None or self.ended:
            return
        session = await self.client.end_session(self.id)
        self.status = str(session.get("status"))
        self.ended = True
        log.info("ended IonQ session %s (%s)", self.id, self.status)

    async def __aenter__(self) -> "QpuSession":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: an interrupted run (a cancelled task) must still end its session.
        await asyncio.shield(self.end())


@dataclass(frozen=True)
class JobSpend:
    """The cost of one finished job."""

    job_id: str
    usd: float
    billed: bool  # True: IonQ's `cost`; False: only `estimated_cost` was known
    estimated_usd: float


@dataclass(frozen=True)
class JobCostBooked:
    """What the ledger knows after a job finished: for events and the Training screen."""

    job_id: str
    job_usd: float
    billed: bool
    spent_usd: float
    jobs: int
    cap_usd: float | None


@dataclass
class SpendLedger:
    """Actual spend of a run so far, and the cap check before every submission."""

    cap_usd: float | None
    price_per_circuit_usd: float = 0.0
    spent_before_usd: float = 0.0  # spend of the run's earlier segments (a resumed run)
    on_update: Callable[[JobCostBooked], None] | None = None
    priced_shots: int = 0  # the shots the price is for (0: any job is priced at it)
    jobs: list[JobSpend] = field(default_factory=list)
    _reserved: dict[str, float] = field(default_factory=dict)

    @property
    def spent_usd(self) -> float:
        return self.spent_before_usd + sum(j.usd for j in self.jobs)

    @property
    def reserved_usd(self) -> float:
        return sum(self._reserved.values())

    def reserve(self, key: str, circuits: int, shots: int = 0) -> float:
        """Reserve the estimate of a job of `circuits` (of `shots` each); IonQSpendCapError when it would pass the
        cap. A job of more shots than the price is for (readout calibration's 100,000) is priced up in proportion,
        an upper bound (a per-job minimum only lowers the share of the shots); fewer shots keep the price."""
        scale = max(1.0, shots / self.priced_shots) if shots and self.priced_shots else 1.0
        estimate = circuits * self.price_per_circuit_usd * scale
        committed = self.spent_usd + self.reserved_usd
        if self.cap_usd is not None and committed + estimate > self.cap_usd + 1e-9:
            raise IonQSpendCapError(committed, estimate, self.cap_usd)
        self._reserved[key] = estimate
        return estimate

    def release(self, key: str) -> None:
        """Drop a reservation whose job was never created."""
        self._reserved.pop(key, None)

    async def settle(self, client: IonQClient, key: str, job_id: str) -> JobSpend:
        """Read the job's cost from IonQ and book it in place of its reservation (once per job)."""
        for booked in self.jobs:
            if booked.job_id == job_id:
                self._reserved.pop(key, None)
                return booked
        estimate = self._reserved.get(key, 0.0)
        try:
            body: Mapping[str, Any] = await client.job_cost(job_id)
        except IonQError as e:  # booked at the estimate, and said so: spend is never under-counted silently
            log.warning("could not read the cost of job %s (%s); booking its estimate $%.4f", job_id, e, estimate)
            spend = JobSpend(job_id, estimate, False, estimate)
        else:
            billed = isinstance(body.get("cost"), Mapping)
            part = body["cost"] if billed else body.get("estimated_cost") or {}
            unit = str(part.get("unit", "usd"))
            if unit != "usd":
                raise IonQError(f"job {job_id} is priced in {unit!r}; max_cost_usd needs USD")
            spend = JobSpend(job_id, float(part.get("value", estimate)), billed,
                             float((body.get("estimated_cost") or {}).get("value", estimate)))
        self._reserved.pop(key, None)
        self.jobs.append(spend)
        if self.on_update is not None:
            self.on_update(JobCostBooked(job_id, spend.usd, spend.billed, self.spent_usd, len(self.jobs), self.cap_usd))
        return spend
