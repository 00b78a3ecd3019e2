"""What a run on IonQ adds around its IonQBackend: the target check, the IonQ session with its limits,
the spend ledger with its events, the mitigation line, and dry runs. The session calls `start` once the
backend and the price are known and `finish` whatever way the run ends (completed, failed, stopped,
interrupted), so the IonQ session is always ended.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..circuits.template import CircuitBatch
from ..events import DryRunReport, IonQSessionUpdate, Log, MitigationInfo, SpendUpdate, _Event
from .ionq import IonQBackend
from .ionq_backends import target_list
from .ionq_errors import IonQError, IonQSpendCapError
from .ionq_options import Aggregation, ErrorMitigation
from .ionq_session import JobCostBooked, QpuSession, SessionLimits, SpendLedger

Emit = Callable[[_Event], object]


class TargetUnavailableError(IonQError):
    """The configured target is not (or no longer) offered by IonQ; `field` names the config field."""

    field = "quantum_target"


@dataclass(frozen=True)
class QpuRunSettings:
    """The config values a QPU run needs (kept apart from TrainingConfig so the backend layer stands alone)."""

    target: str
    shots: int
    native: bool  # jobs are submitted in native gates (IonQ does not debias those by default)
    max_cost_usd: float | None = None
    session_max_jobs: int | None = None  # None: the run's planned jobs (an upper bound), plus a tenth for retries
    session_max_minutes: int = 480
    debiasing: bool | None = None
    aggregation: Aggregation = "average"
    dry_run: bool = False  # priced, never run or charged: no session (its cost limit refused the priced jobs)

    @property
    def mitigation(self) -> ErrorMitigation:
        return ErrorMitigation(self.debiasing, self.aggregation)

    @property
    def is_qpu(self) -> bool:
        return self.target.startswith("qpu.")


class QpuRun:
    """`await run.start(backend, ...)`, train, `await run.finish()` (idempotent)."""

    def __init__(self, settings: QpuRunSettings, emit: Emit):
        self.settings = settings
        self.emit = emit
        self.session: QpuSession | None = None
        self.ledger: SpendLedger | None = None
        self._estimate_usd: float | None = None

    def mitigation_event(self, readout: str = "off", p01: tuple[float, ...] = (),
                         p10: tuple[float, ...] = ()) -> MitigationInfo:
        s = self.settings
        return MitigationInfo(ionq=s.mitigation.describe(s.target, s.shots, s.native), readout=readout,
                              readout_p01=list(p01), readout_p10=list(p10))

    async def check_target(self, backend: IonQBackend) -> None:
        """Refuse a target IonQ does not list (or lists retired); offline, the built-in list decides and says so."""
        listing = await target_list(backend.client)
        if listing.source == "builtin":
            self.emit(Log(level="warning", message=f"target checked against the built-in list: {listing.note}"))
        problem = listing.problem(self.settings.target)
        if problem is not None:
            raise TargetUnavailableError(f"quantum_target: {problem}")
        info = listing.get(self.settings.target)
        if (self.settings.debiasing and info is not None and info.error_mitigations
                and "debiasing" not in info.error_mitigations):
            raise TargetUnavailableError(f"ionq_debiasing: {self.settings.target} does not offer debiasing "
                                         f"(it lists {', '.join(info.error_mitigations)})")

    async def start(self, backend: IonQBackend, *, price_per_circuit_usd: float, planned_circuits: int,
                    planned_jobs: int, spent_before_usd: float = 0.0,
                    readout: tuple[str, tuple[float, ...], tuple[float, ...]] = ("off", (), ()),
                    target_checked: bool = False) -> None:
        """Check the target (unless the caller has) and settings, open the session (QPU targets), hang the ledger
        on the backend."""
        s = self.settings
        s.mitigation.check(s.target, s.shots, s.native)
        if not target_checked:
            await self.check_target(backend)
        self._estimate_usd = planned_circuits * price_per_circuit_usd
        self.ledger = SpendLedger(s.max_cost_usd, price_per_circuit_usd, spent_before_usd, self._booked,
                                  priced_shots=s.shots)
        backend.spend = self.ledger
        backend.mitigation = s.mitigation
        self.emit(self.mitigation_event(*readout))
        if not s.is_qpu or s.dry_run:
            return
        if s.max_cost_usd is None:  # only the emulator gets here (a real QPU run needs a cap to start at all)
            self.emit(Log(level="warning", message=f"no max_cost_usd: the jobs on {s.target} run outside an IonQ "
                                                   "session, with no cost limit"))
            return
        if s.max_cost_usd - spent_before_usd <= 0:  # a resumed run that has spent its cap already
            raise IonQSpendCapError(spent_before_usd, 0.0, s.max_cost_usd)
        jobs = s.session_max_jobs or max(1, math.ceil(planned_jobs * 1.1))
        limits = SessionLimits(s.max_cost_usd - spent_before_usd, jobs, s.session_max_minutes)
        self.session = QpuSession(backend.client, s.target, limits)
        session_id = await self.session.open()
        backend.session_id = session_id
        self.emit(IonQSessionUpdate(session_id=session_id, status="opened", backend=s.target,
                                    cost_limit_usd=limits.cost_limit_usd, job_count_limit=limits.job_count_limit,
                                    duration_limit_min=limits.duration_limit_min))

    def _booked(self, b: JobCostBooked) -> None:
        self.emit(SpendUpdate(job_id=b.job_id, job_usd=b.job_usd, billed=b.billed, spent_usd=b.spent_usd,
                              jobs=b.jobs, cap_usd=b.cap_usd, estimate_usd=self._estimate_usd))

    async def finish(self) -> None:
        """End the IonQ session, if one is open (an IonQError says which session could not be ended)."""
        session = self.session
        if session is None or session.ended or session.id is None:
            return
        limits = session.limits
        try:
            await session.end()
        except IonQError as e:  # IonQ ends it itself at its duration limit; say so, the run still ends
            raise IonQError(f"could not end IonQ session {session.id} (IonQ ends it at its "
                            f"{limits.duration_limit_min}-minute limit): {e}") from None
        self.emit(IonQSessionUpdate(session_id=session.id, status="ended", backend=session.backend,
                                    cost_limit_usd=limits.cost_limit_usd, job_count_limit=limits.job_count_limit,
                                    duration_limit_min=limits.duration_limit_min))


async def dry_run_step(backend: IonQBackend, batches: list[CircuitBatch], *, shots: int,
                       planned_circuits: int) -> DryRunReport:
    """Dry-run every payload of one training step (each batch, every chunk): validated and priced, nothing run;
    the whole run's cost is the per-circuit estimate times the planned circuits (one template, one price)."""
    jobs = circuits = executed = 0
    usd = 0.0
    for batch in batches:
        result = await backend.dry_run(batch, shots=shots)
        jobs += len(result.jobs)
        circuits += result.circuits
        executed += result.executed
        usd += result.estimated_usd
    per = usd / circuits if circuits else 0.0
    return DryRunReport(target=backend.backend_name, jobs=jobs, circuits=circuits, shots=shots or backend.shots_default,
                        estimated_usd=usd, per_circuit_usd=per, planned_circuits=planned_circuits,
                        planned_usd=per * planned_circuits, executed=executed)
