"""What a dry run found: every job IonQ validated and priced, and whether anything ran.

A dry-run job (`"dry_run": true`) is validated and priced by IonQ but never executed; its `results`
are null. `executed` counts jobs that came back with results anyway, which must be zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DryRunJob:
    job_id: str
    circuits: int
    status: str
    estimated_usd: float
    executed: bool  # the job has results or an execution time: it ran


@dataclass
class DryRunResult:
    """The dry-run jobs of one batch (one per chunk)."""

    target: str
    shots: int
    jobs: list[DryRunJob] = field(default_factory=list)

    @property
    def circuits(self) -> int:
        return sum(j.circuits for j in self.jobs)

    @property
    def estimated_usd(self) -> float:
        return sum(j.estimated_usd for j in self.jobs)

    @property
    def executed(self) -> int:
        return sum(j.executed for j in self.jobs)

    @property
    def per_circuit_usd(self) -> float:
        return self.estimated_usd / self.circuits if self.circuits else 0.0
