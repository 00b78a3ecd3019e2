"""The report's sections: figures derived from a run's events, as pydantic models (the JSON rendering is theirs).

Where an event already carries a section's figures (an epoch, the cache, compiler and client counters, the
cost), the section is that event's payload model from `engine.events`, not a copy of it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass

from ..events import (
    CacheCounters, ClientCounters, CompilerCounters, CostFigures, EpochSummary, GradientVarianceFigures, ShotFigures,
)


class RunSection(BaseModel):
    run_id: str = ""
    status: str = "incomplete"
    backend: str = ""
    target: str = ""
    n_qubits: int = 0
    n_params: int = 0
    steps: int = 0
    total_steps: int = 0
    segments: int = 0
    resumed_from_steps: list[int] = Field(default_factory=list)
    checkpoints: int = 0
    last_checkpoint_step: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    wall_s: float = 0.0
    message: str = ""


class ExecutionSection(BaseModel):
    batches: int = 0
    circuits: int = 0
    failed: int = 0
    chunks: int = 0
    shots: int = 0  # circuits x shots, summed
    batch_time_s: float = 0.0
    avg_batch_ms: float = 0.0
    avg_ms_per_circuit: float = 0.0
    circuits_per_call: float = 0.0  # circuits per backend call (chunk)
    throughput_cps: float = 0.0  # circuits per second of batch time
    wall_throughput_cps: float = 0.0  # circuits per second of wall time
    circuits_by_purpose: dict[str, int] = Field(default_factory=dict)


class StagesSection(BaseModel):
    ms: dict[str, float] = Field(default_factory=dict)
    share: dict[str, float] = Field(default_factory=dict)  # of the summed stage time


class CacheSection(CacheCounters):
    """The cache counters summed over the run's segments, with their hit rates."""

    template_hit_rate: float = 0.0
    bound_hit_rate: float = 0.0


class ClientSection(ClientCounters):
    """The client counters summed over the run's segments, with what the JobUpdate events add."""

    circuits_per_call: float = 0.0
    jobs_seen: int = 0  # distinct job ids in JobUpdate events
    job_statuses: dict[str, int] = Field(default_factory=dict)  # final status of each job


@dataclass(slots=True, frozen=True)
class CurvePoint:
    """One step of the training curve. A slotted pydantic dataclass, not a model: the report holds one per step,
    and at ~160 B instead of ~1.1 KB a 20,000-step run's curve is 3 MB, not 22 MB (same JSON either way)."""

    step: int
    epoch: int
    loss: float
    accuracy: float | None = None
    grad_norm: float | None = None


class TrainingSection(BaseModel):
    curve: list[CurvePoint] = Field(default_factory=list)
    epochs: list[EpochSummary] = Field(default_factory=list)
    first_loss: float | None = None
    final_loss: float | None = None
    best_loss: float | None = None
    final_accuracy: float | None = None
    final_val_accuracy: float | None = None
    best_val_accuracy: float | None = None


class StoreSection(BaseModel):
    store: str = ""
    updates: int = 0
    upserted: int = 0
    namespaces: list[str] = Field(default_factory=list)
    last_knn_accuracy: float | None = None


class EngineSection(BaseModel):
    events: int = 0
    loop_worst_stall_ms: float | None = None
    loop_mean_stall_ms: float | None = None
    events_dropped: int = 0
    warnings: int = 0
    errors: list[str] = Field(default_factory=list)


class DryRunSection(BaseModel):
    jobs: int
    circuits: int
    per_circuit_usd: float
    planned_circuits: int
    planned_usd: float
    executed: int


class IonQSection(BaseModel):
    """A run on IonQ: the error mitigation used, its IonQ session, the actual spend, a dry run's findings."""

    mitigation: str = ""  # IonQ's debiasing and aggregation, in words
    readout: str = "off"  # readout-error mitigation: off, or where the calibration came from
    readout_p01: list[float] = Field(default_factory=list)
    readout_p10: list[float] = Field(default_factory=list)
    session_id: str | None = None
    session_status: str | None = None  # opened, ended
    session_limits: str = ""
    spent_usd: float = 0.0  # actual (GET /jobs/{id}/cost), over every segment
    jobs_costed: int = 0
    all_billed: bool = True  # False: some jobs were booked at their estimate (IonQ had not billed them yet)
    estimate_usd: float | None = None
    cap_usd: float | None = None
    dry_run: DryRunSection | None = None


class ReportData(BaseModel):
    """Every section of the report; `PerformanceReport` adds the renderings."""

    run: RunSection = Field(default_factory=RunSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    stages: StagesSection = Field(default_factory=StagesSection)
    features: dict[str, bool] = Field(default_factory=dict)  # TrainingConfig switch name -> on
    cache: CacheSection | None = None
    compiler: CompilerCounters | None = None
    client: ClientSection | None = None
    training: TrainingSection = Field(default_factory=TrainingSection)
    cost: CostFigures | None = None
    shots: ShotFigures | None = None  # runs that measure shots (engine/report/frugal.py)
    preflight: GradientVarianceFigures | None = None  # the gradient-variance preflight, when it ran
    ionq: IonQSection | None = None
    store: StoreSection | None = None
    engine: EngineSection = Field(default_factory=EngineSection)
    config: dict[str, Any] = Field(default_factory=dict)
