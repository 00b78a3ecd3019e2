"""Typed events the engine emits, and the bus that delivers them.

Every event is a pydantic model with a literal `kind`, so `events.jsonl` parses back into the
same classes (`parse_event`). The bus never blocks the engine: each subscriber has a bounded
queue and a full queue drops the event for that subscriber and counts the drop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    # NaN and infinity (a diverged loss, an exploding gradient norm) are written as JSON's NaN / Infinity, which
    # the log reads back: pydantic's default, null, made such a line unreadable and the run's report with it.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")
    seq: int = 0  # set by the bus
    time: float = 0.0  # seconds since the epoch, set by the bus from its clock


STAGES = ("parse", "bind", "compile", "submit", "queue", "execute", "post_process")  # BatchExecuted.stage_ms keys


# ----- payloads: the figures an event carries, shared with the performance report (engine/report) -----


class EpochSummary(BaseModel):
    """The figures of one finished epoch."""

    epoch: int
    train_loss: float
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None


class CacheCounters(BaseModel):
    """The circuit cache's counters (cumulative per session)."""

    template_hits: int
    template_misses: int
    bound_hits: int
    bound_misses: int
    evictions: int
    bytes_held: int
    time_saved_ms: float


class CompilerCounters(BaseModel):
    """The native compiler's totals (cumulative per session)."""

    target: str
    compiles: int
    gates_in: int
    gates_out: int
    n1q_out: int
    n2q_out: int
    reduction_pct: float
    compile_ms: float


class ClientCounters(BaseModel):
    """The IonQ client's counters (cumulative per session)."""

    requests: int
    calls: dict[str, int] = Field(default_factory=dict)  # "GET /jobs/{id}" -> requests
    jobs_created: int = 0  # job-creating POSTs that made a job
    circuits_submitted: int = 0
    retries: int = 0
    rate_limited: int = 0
    lookups: int = 0
    bytes_sent: int = 0
    queue_time_s: float = 0.0
    execution_time_s: float = 0.0


class GradientVarianceFigures(BaseModel):
    """The gradient-variance preflight (engine/preflight.py): Var over random initializations of dC/dtheta_j."""

    initializations: int
    samples: int  # training inputs the cost averages over
    n_params: int
    method: str  # "adjoint" (exact statevector)
    mean_variance: float  # over parameters
    min_variance: float
    max_variance: float
    threshold: float
    barren_plateau: bool  # mean_variance < threshold
    wall_ms: float


class CostFigures(BaseModel):
    """What the circuits of a QPU-target run cost (or would cost), and where the price came from."""

    target: str
    circuits: int
    shots: int
    usd: float
    per_circuit_usd: float
    source: str  # "ionq-estimate" (the /jobs/estimate endpoint) or "formula"
    basis: str  # the prices or the endpoint's answer, in words


# ----- the events -----


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    run_id: str
    backend: str
    target: str
    n_qubits: int
    n_params: int
    total_steps: int
    resumed_from_step: int = 0
    features: dict[str, bool] = Field(default_factory=dict)


class BatchExecuted(_Event):
    kind: Literal["batch_executed"] = "batch_executed"
    batch_id: int
    circuits: int
    failed: int = 0
    chunks: int = 1
    shots: int = 0
    total_ms: float
    throughput_cps: float
    stage_ms: dict[str, float] = Field(default_factory=dict)  # keys from STAGES
    purpose: str = ""  # e.g. "spsa", "parameter_shift", "loss", "validation"


class BatchSizeDecision(_Event):
    kind: Literal["batch_size_decision"] = "batch_size_decision"
    old_size: int
    new_size: int
    chunk_ms: float
    target_ms: float
    reason: str


class StepMetrics(_Event):
    kind: Literal["step_metrics"] = "step_metrics"
    epoch: int
    step: int  # global optimizer step, 0-based
    total_steps: int
    loss: float
    accuracy: float | None = None
    grad_norm: float | None = None
    spsa_a: float | None = None
    spsa_c: float | None = None
    learning_rate: float | None = None
    circuits: int = 0  # circuits executed for this step
    shots: int | None = None  # shots measured for this step (None: exact expectations)


class EpochFinished(EpochSummary, _Event):
    kind: Literal["epoch_finished"] = "epoch_finished"


class JobUpdate(_Event):
    kind: Literal["job_update"] = "job_update"
    job_id: str
    circuits: int
    status: str
    queue_s: float | None = None
    run_s: float | None = None


class CacheStats(CacheCounters, _Event):
    kind: Literal["cache_stats"] = "cache_stats"


class CompilerStats(CompilerCounters, _Event):
    kind: Literal["compiler_stats"] = "compiler_stats"


class Checkpoint(_Event):
    kind: Literal["checkpoint"] = "checkpoint"
    step: int
    epoch: int
    path: str


class StoreUpdate(_Event):
    kind: Literal["store_update"] = "store_update"
    epoch: int
    upserted: int
    namespace: str
    store: str
    knn_accuracy: float | None = None


class Log(_Event):
    kind: Literal["log"] = "log"
    level: Literal["debug", "info", "warning", "error"] = "info"
    message: str


class Error(_Event):
    kind: Literal["error"] = "error"
    source: str
    message: str
    fatal: bool = False


class ClientStats(ClientCounters, _Event):
    """Cumulative IonQ client counters of this session (one segment of a resumed run)."""

    kind: Literal["client_stats"] = "client_stats"


class CostEstimate(CostFigures, _Event):
    """What the circuits of a QPU-target run cost (or would cost), and where the price came from."""

    kind: Literal["cost_estimate"] = "cost_estimate"


class SpendUpdate(_Event):
    """The actual spend of a QPU run so far: one finished job's cost (GET /jobs/{id}/cost) added."""

    kind: Literal["spend_update"] = "spend_update"
    job_id: str
    job_usd: float
    billed: bool  # True: IonQ's billed `cost`; False: only its `estimated_cost` was known
    spent_usd: float
    jobs: int
    cap_usd: float | None = None
    estimate_usd: float | None = None  # the run's estimate, shown beside the spend


class IonQSessionUpdate(_Event):
    """An IonQ session of the run opened or ended, with the limits IonQ enforces on it."""

    kind: Literal["ionq_session"] = "ionq_session"
    session_id: str
    status: Literal["opened", "ended"]
    backend: str
    cost_limit_usd: float
    job_count_limit: int
    duration_limit_min: int


class MitigationInfo(_Event):
    """What error mitigation a run uses: IonQ's settings and aggregation, and readout mitigation."""

    kind: Literal["mitigation"] = "mitigation"
    ionq: str = ""  # e.g. "debiasing off (IonQ's default), aggregation average"; "" off IonQ
    readout: str = "off"  # "off", or where the calibration came from
    readout_p01: list[float] = Field(default_factory=list)  # per qubit
    readout_p10: list[float] = Field(default_factory=list)


class DryRunReport(_Event):
    """A dry run: IonQ validated and priced every payload of one step; nothing ran."""

    kind: Literal["dry_run"] = "dry_run"
    target: str
    jobs: int
    circuits: int
    shots: int
    estimated_usd: float  # for the dry-run jobs themselves
    per_circuit_usd: float
    planned_circuits: int
    planned_usd: float  # what the whole run would cost
    executed: int  # dry-run jobs that ran anyway: must be 0


class EngineStats(_Event):
    """Health of the engine process: event-loop stalls and events dropped by slow subscribers."""

    kind: Literal["engine_stats"] = "engine_stats"
    loop_worst_stall_ms: float
    loop_mean_stall_ms: float
    loop_samples: int
    events_dropped: int


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    status: Literal["completed", "stopped", "failed", "interrupted"]
    steps: int
    final_loss: float | None = None
    final_accuracy: float | None = None
    val_accuracy: float | None = None
    wall_s: float = 0.0
    message: str = ""


class ShotFigures(BaseModel):
    """Shots a run has measured, and what they bought: shots per unit of training-loss decrease."""

    step_shots: int  # by the training steps (what shot_budget caps)
    total_shots: int  # every batch of this segment and the checkpointed steps before, validation included
    first_loss: float  # the run's first minibatch loss
    train_loss: float  # the latest epoch's training loss
    shots_per_loss: float | None  # step_shots / (first_loss - train_loss); None while the loss has not fallen


class ShotsSpent(ShotFigures, _Event):
    """At every epoch end of a run that measures shots (cumulative over the run, resumes included)."""

    kind: Literal["shots_spent"] = "shots_spent"
    epoch: int


class GradientPreflight(GradientVarianceFigures, _Event):
    """Before training: the gradient's variance over random initializations (a barren-plateau warning)."""

    kind: Literal["gradient_preflight"] = "gradient_preflight"


Event = Annotated[
    Union[RunStarted, BatchExecuted, BatchSizeDecision, StepMetrics, EpochFinished, JobUpdate, CacheStats,
          CompilerStats, Checkpoint, StoreUpdate, Log, Error, ClientStats, CostEstimate, EngineStats,
          RunFinished, SpendUpdate, IonQSessionUpdate, MitigationInfo, DryRunReport, GradientPreflight,
          ShotsSpent],
    Field(discriminator="kind"),
]
_adapter: TypeAdapter[Any] = TypeAdapter(Event)


def parse_event(line: str | bytes) -> _Event:
    """One line of events.jsonl back into its event class."""
    return _adapter.validate_json(line)


EventSink = Callable[[_Event], None]


class EventBus:
    """Fan-out to bounded subscriber queues plus synchronous sinks (the events.jsonl writer)."""

    def __init__(self, clock: Callable[[], float] = time.time, queue_size: int = 1000):
        self._clock = clock
        self._queue_size = queue_size
        self._subscribers: list[asyncio.Queue[_Event]] = []
        self._sinks: list[EventSink] = []
        self._seq = 0
        self.dropped = 0

    def subscribe(self, maxsize: int | None = None) -> asyncio.Queue[_Event]:
        q: asyncio.Queue[_Event] = asyncio.Queue(maxsize or self._queue_size)
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[_Event]) -> None:
        if q in self._subscribers:
            self._subscribers.remove(q)

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def continue_from(self, seq: int) -> None:
        """Number the next event after `seq`: a resumed run appends to its events.jsonl."""
        self._seq = max(self._seq, seq)

    def emit(self, event: _Event) -> _Event:
        """Stamp and deliver; never blocks and never raises for a slow subscriber."""
        self._seq += 1
        event.seq = self._seq
        event.time = self._clock()
        for sink in self._sinks:
            sink(event)
        for q in self._subscribers:
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
        return event


def emit_to(bus: EventBus | None, event: _Event) -> None:
    """Emit when there is a bus: engine parts work standalone (tests, library use) without one."""
    if bus is not None:
        bus.emit(event)
