"""Build a PerformanceReport from a run's events: one small handler per event type, then the derived figures.

Every figure is derived from `events.jsonl` (e.g. total circuits = the sum of BatchExecuted.circuits), so a report
rebuilt later, by `qstore-tui report RUN` or the TUI's Report screen, says the same.

A resumed run has several segments (each starts with RunStarted). Counters that a session reports cumulatively
(CacheStats, CompilerStats, ClientStats, EngineStats, CostEstimate) are taken as the last value of each segment
and added up; the training curve keeps, for every step, the value of the latest segment (steps redone after a
resume replace the lost ones); executed circuits all count, including those of steps redone, because they ran
(and on a QPU, cost money).

To report a new event: write `@on(MyEvent) def _my_event(b: ReportBuilder, ev: MyEvent) -> None` that updates
`b.report` (or state on the builder); a cumulative counter is `CUMULATIVE`; figures derived from the whole run go
in a function listed in `FINISHERS`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from pydantic import BaseModel

from ..config import FEATURE_SWITCHES, TrainingConfig
from ..events import (
    STAGES, BatchExecuted, CacheStats, Checkpoint, ClientStats, CompilerCounters, CompilerStats, CostEstimate,
    CostFigures, DryRunReport, EngineStats, EpochFinished, EpochSummary, Error, IonQSessionUpdate, JobUpdate, Log,
    MitigationInfo, RunFinished, RunStarted, SpendUpdate, StepMetrics, StoreUpdate, _Event,
)
from .document import PerformanceReport
from .sections import CacheSection, ClientSection, CurvePoint, DryRunSection, IonQSection, StoreSection

E = TypeVar("E", bound=_Event)

_CONFIG_KEYS = ("backend", "quantum_target", "n_qubits", "circuit_depth", "entanglement", "dataset", "n_samples",
                "optimizer", "gradient_method", "learning_rate", "batch_size", "epochs", "shots_per_circuit", "seed")


@dataclass
class ReportBuilder:
    """The report being built and the state the handlers share until the derived figures are computed."""

    config: TrainingConfig | None = None
    report: PerformanceReport = field(default_factory=PerformanceReport)
    segments: list[dict[type[_Event], _Event]] = field(default_factory=list)  # last cumulative event of each kind
    curve: list[CurvePoint] = field(default_factory=list)  # ascending steps, one point each (a list: a dict of
    # 20,000 steps cost another ~1 MB at the end of a long run)
    epochs: dict[int, EpochSummary] = field(default_factory=dict)
    stage_ms: Counter[str] = field(default_factory=Counter)
    purposes: Counter[str] = field(default_factory=Counter)
    job_status: dict[str, str] = field(default_factory=dict)  # job id -> its latest status
    namespaces: set[str] = field(default_factory=set)
    final: RunFinished | None = None
    last_step: StepMetrics | None = None
    wall_s: float = 0.0  # the segments' RunFinished wall times, and the spans of those that have none
    open_since: float | None = None  # the start of a segment without its RunFinished (yet)
    last_time: float | None = None  # the time of the event before the one being added

    def add(self, ev: _Event) -> None:
        r = self.report
        r.engine.events += 1
        r.run.finished_at = ev.time
        handler = HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)
        self.last_time = ev.time

    def close_open_segment(self) -> None:
        """A segment that ended without RunFinished (killed, or still running) lasted until its last event."""
        if self.open_since is not None and self.last_time is not None:
            self.wall_s += max(0.0, self.last_time - self.open_since)
        self.open_since = None

    def per_segment(self, kind: type[E]) -> list[E]:
        """The last `kind` event of every segment that has one."""
        return [cast(E, s[kind]) for s in self.segments if kind in s]

    def finish(self) -> PerformanceReport:
        for step in FINISHERS:
            step(self)
        return self.report


def build_report(events: Iterable[_Event], config: TrainingConfig | None = None) -> PerformanceReport:
    """The report of a run from its events (and, for the config summary, its config)."""
    builder = ReportBuilder(config)
    for ev in events:
        builder.add(ev)
    return builder.finish()


# ----------------------------------------------------------------------------------------- handlers

HANDLERS: dict[type[_Event], Callable[[ReportBuilder, _Event], None]] = {}


def on(kind: type[E]) -> Callable[[Callable[[ReportBuilder, E], None]], Callable[[ReportBuilder, E], None]]:
    """Register the handler of one event type."""

    def register(handler: Callable[[ReportBuilder, E], None]) -> Callable[[ReportBuilder, E], None]:
        if kind in HANDLERS:
            raise ValueError(f"{kind.__name__} already has a report handler")
        HANDLERS[kind] = cast(Callable[[ReportBuilder, _Event], None], handler)
        return handler

    return register


@on(RunStarted)
def _run_started(b: ReportBuilder, ev: RunStarted) -> None:
    run = b.report.run
    b.segments.append({})
    run.segments += 1
    if run.segments == 1:
        run.run_id, run.started_at = ev.run_id, ev.time
    run.backend, run.target = ev.backend, ev.target
    run.n_qubits, run.n_params, run.total_steps = ev.n_qubits, ev.n_params, ev.total_steps
    b.report.features = dict(ev.features)
    if run.segments > 1:  # a resume: steps from its checkpoint on are redone, the old ones were lost
        run.resumed_from_steps.append(ev.resumed_from_step)
        del b.curve[bisect_left(b.curve, ev.resumed_from_step, key=_step_of):]
    b.close_open_segment()
    b.open_since = ev.time
    b.final = None


@on(BatchExecuted)
def _batch_executed(b: ReportBuilder, ev: BatchExecuted) -> None:
    x = b.report.execution
    x.batches += 1
    x.circuits += ev.circuits
    x.failed += ev.failed
    x.chunks += ev.chunks
    x.shots += ev.circuits * ev.shots
    x.batch_time_s += ev.total_ms / 1000.0
    b.purposes[ev.purpose or "other"] += ev.circuits
    b.stage_ms.update(ev.stage_ms)


@on(StepMetrics)
def _step_metrics(b: ReportBuilder, ev: StepMetrics) -> None:
    b.last_step = ev
    b.report.run.total_steps = ev.total_steps
    point = CurvePoint(step=ev.step, epoch=ev.epoch, loss=ev.loss, accuracy=ev.accuracy, grad_norm=ev.grad_norm)
    curve = b.curve
    if not curve or ev.step > curve[-1].step:  # the usual case: the next step
        curve.append(point)
        return
    i = bisect_left(curve, ev.step, key=_step_of)
    if curve[i].step == ev.step:  # a step reported again: the later report wins
        curve[i] = point
    else:
        curve.insert(i, point)


def _step_of(point: CurvePoint) -> int:
    return point.step


@on(EpochFinished)
def _epoch_finished(b: ReportBuilder, ev: EpochFinished) -> None:
    b.epochs[ev.epoch] = EpochSummary.model_validate(ev.model_dump(include=set(EpochSummary.model_fields)))


@on(JobUpdate)
def _job_update(b: ReportBuilder, ev: JobUpdate) -> None:
    b.job_status[ev.job_id] = ev.status


CUMULATIVE: tuple[type[_Event], ...] = (CacheStats, CompilerStats, ClientStats, EngineStats, CostEstimate)


def _keep_last_of_segment(b: ReportBuilder, ev: _Event) -> None:
    if not b.segments:  # counters before any RunStarted: a segment of their own
        b.segments.append({})
    b.segments[-1][type(ev)] = ev


for _kind in CUMULATIVE:
    on(_kind)(_keep_last_of_segment)


@on(Checkpoint)
def _checkpoint(b: ReportBuilder, ev: Checkpoint) -> None:
    b.report.run.checkpoints += 1
    b.report.run.last_checkpoint_step = ev.step


@on(StoreUpdate)
def _store_update(b: ReportBuilder, ev: StoreUpdate) -> None:
    store = b.report.store = b.report.store or StoreSection(store=ev.store)
    store.updates += 1
    store.upserted += ev.upserted
    b.namespaces.add(ev.namespace)
    if ev.knn_accuracy is not None:
        store.last_knn_accuracy = ev.knn_accuracy


@on(Log)
def _log(b: ReportBuilder, ev: Log) -> None:
    b.report.engine.warnings += ev.level == "warning"


@on(Error)
def _error(b: ReportBuilder, ev: Error) -> None:
    b.report.engine.errors.append(f"{ev.source}: {ev.message}" + (" (fatal)" if ev.fatal else ""))


@on(RunFinished)
def _run_finished(b: ReportBuilder, ev: RunFinished) -> None:
    b.final = ev
    b.wall_s += ev.wall_s
    b.open_since = None


# ------------------------------------------------------------------------------------ derived figures


def _finish_run(b: ReportBuilder) -> None:
    run = b.report.run
    run.steps = b.last_step.step + 1 if b.last_step else 0
    if b.final is not None:
        run.status, run.message = b.final.status, b.final.message
        run.steps = b.final.steps
    elif run.segments:
        run.status = "incomplete"
    b.close_open_segment()
    run.wall_s = b.wall_s


def _finish_execution(b: ReportBuilder) -> None:
    x = b.report.execution
    x.circuits_by_purpose = dict(b.purposes)
    if x.batches:
        x.avg_batch_ms = x.batch_time_s * 1000.0 / x.batches
    if x.circuits:
        x.avg_ms_per_circuit = x.batch_time_s * 1000.0 / x.circuits
    if x.chunks:
        x.circuits_per_call = x.circuits / x.chunks
    if x.batch_time_s > 0:
        x.throughput_cps = x.circuits / x.batch_time_s
    if b.wall_s > 0:
        x.wall_throughput_cps = x.circuits / b.wall_s


def _finish_stages(b: ReportBuilder) -> None:
    stage_ms, stages = b.stage_ms, b.report.stages
    total = sum(stage_ms.values())
    ordered = [s for s in STAGES if s in stage_ms] + sorted(s for s in stage_ms if s not in STAGES)
    stages.ms = {s: stage_ms[s] for s in ordered}
    stages.share = {s: stage_ms[s] / total for s in ordered} if total > 0 else {}


def _rate(hits: int, misses: int) -> float:
    return hits / (hits + misses) if hits + misses else 0.0


def _summed(items: Sequence[BaseModel], names: Iterable[str]) -> dict[str, float]:
    """Each named counter added up over the segments' last events."""
    return {name: sum(getattr(i, name) for i in items) for name in names}


def _finish_cache(b: ReportBuilder) -> None:
    items = b.per_segment(CacheStats)
    if not items:
        return
    counters = ("template_hits", "template_misses", "bound_hits", "bound_misses", "evictions", "time_saved_ms")
    # bytes_held is a level, not a counter: the last segment's
    c = CacheSection.model_validate({**_summed(items, counters), "bytes_held": items[-1].bytes_held})
    c.template_hit_rate = _rate(c.template_hits, c.template_misses)
    c.bound_hit_rate = _rate(c.bound_hits, c.bound_misses)
    b.report.cache = c


def _finish_compiler(b: ReportBuilder) -> None:
    items = b.per_segment(CompilerStats)
    if not items:
        return
    gates_in = sum(i.gates_in for i in items)
    reduction = (sum(i.reduction_pct * i.gates_in for i in items) / gates_in) if gates_in else items[-1].reduction_pct
    b.report.compiler = CompilerCounters(
        target=items[-1].target, compiles=sum(i.compiles for i in items), gates_in=gates_in,
        gates_out=sum(i.gates_out for i in items), n1q_out=sum(i.n1q_out for i in items),
        n2q_out=sum(i.n2q_out for i in items), reduction_pct=reduction, compile_ms=sum(i.compile_ms for i in items),
    )


def _finish_client(b: ReportBuilder) -> None:
    items = b.per_segment(ClientStats)
    if not items and not b.job_status:
        return
    calls: Counter[str] = Counter()
    for i in items:
        calls.update(i.calls)
    counters = ("requests", "jobs_created", "circuits_submitted", "retries", "rate_limited", "lookups", "bytes_sent",
                "queue_time_s", "execution_time_s")
    c = ClientSection.model_validate({**_summed(items, counters), "calls": dict(calls), "jobs_seen": len(b.job_status),
                                      "job_statuses": dict(Counter(b.job_status.values()))})
    c.circuits_per_call = c.circuits_submitted / c.jobs_created if c.jobs_created else 0.0
    b.report.client = c


def _finish_cost(b: ReportBuilder) -> None:
    items = b.per_segment(CostEstimate)
    if not items:
        return
    circuits = sum(i.circuits for i in items)
    usd = sum(i.usd for i in items)
    b.report.cost = CostFigures(
        target=items[-1].target, circuits=circuits, shots=items[-1].shots, usd=usd,
        per_circuit_usd=usd / circuits if circuits else items[-1].per_circuit_usd,
        source="+".join(sorted({i.source for i in items})), basis=items[-1].basis,
    )


def _finish_engine(b: ReportBuilder) -> None:
    items, e = b.per_segment(EngineStats), b.report.engine
    if not items:
        return
    e.loop_worst_stall_ms = max(i.loop_worst_stall_ms for i in items)
    samples = sum(i.loop_samples for i in items)
    e.loop_mean_stall_ms = sum(i.loop_mean_stall_ms * i.loop_samples for i in items) / samples if samples else 0.0
    e.events_dropped = sum(i.events_dropped for i in items)


def _finish_training(b: ReportBuilder) -> None:
    t, final = b.report.training, b.final
    t.curve = b.curve
    t.epochs = [b.epochs[e] for e in sorted(b.epochs)]
    if t.curve:
        t.first_loss, t.final_loss = t.curve[0].loss, t.curve[-1].loss
        t.best_loss = min((p.loss for p in t.curve if math.isfinite(p.loss)), default=None)  # NaN is no best
        t.final_accuracy = t.curve[-1].accuracy
    vals = [e.val_accuracy for e in t.epochs if e.val_accuracy is not None]
    if vals:
        t.final_val_accuracy = vals[-1]
        t.best_val_accuracy = max((v for v in vals if math.isfinite(v)), default=None)
    if final is not None:
        t.final_loss = final.final_loss if final.final_loss is not None else t.final_loss
        t.final_accuracy = final.final_accuracy if final.final_accuracy is not None else t.final_accuracy
        t.final_val_accuracy = final.val_accuracy if final.val_accuracy is not None else t.final_val_accuracy


def _finish_store(b: ReportBuilder) -> None:
    if b.report.store is not None:
        b.report.store.namespaces = sorted(b.namespaces)


def _finish_config(b: ReportBuilder) -> None:
    """The config summary; the features from the config when no RunStarted recorded them (same keys)."""
    if b.config is None:
        return
    b.report.config = {k: getattr(b.config, k) for k in _CONFIG_KEYS}
    if not b.report.features:
        b.report.features = {name: bool(getattr(b.config, name)) for name in FEATURE_SWITCHES}


def _ionq(b: ReportBuilder) -> IonQSection:
    if b.report.ionq is None:
        b.report.ionq = IonQSection()
    return b.report.ionq


@on(MitigationInfo)
def _mitigation(b: ReportBuilder, ev: MitigationInfo) -> None:
    s = _ionq(b)
    s.mitigation = ev.ionq or s.mitigation
    if ev.readout_p01 or s.readout == "off":  # the measured calibration replaces the announcement
        s.readout, s.readout_p01, s.readout_p10 = ev.readout, list(ev.readout_p01), list(ev.readout_p10)


@on(IonQSessionUpdate)
def _ionq_session(b: ReportBuilder, ev: IonQSessionUpdate) -> None:
    s = _ionq(b)
    s.session_id, s.session_status = ev.session_id, ev.status
    s.session_limits = (f"cost ${ev.cost_limit_usd:,.2f}, {ev.job_count_limit:,} jobs, "
                        f"{ev.duration_limit_min:,} min")


@on(SpendUpdate)
def _spend(b: ReportBuilder, ev: SpendUpdate) -> None:
    s = _ionq(b)  # spent_usd already includes a resumed run's earlier segments
    s.spent_usd, s.cap_usd, s.estimate_usd = ev.spent_usd, ev.cap_usd, ev.estimate_usd
    s.jobs_costed += 1
    s.all_billed = s.all_billed and ev.billed


@on(DryRunReport)
def _dry_run(b: ReportBuilder, ev: DryRunReport) -> None:
    _ionq(b).dry_run = DryRunSection(jobs=ev.jobs, circuits=ev.circuits, per_circuit_usd=ev.per_circuit_usd,
                                     planned_circuits=ev.planned_circuits, planned_usd=ev.planned_usd,
                                     executed=ev.executed)


FINISHERS: tuple[Callable[[ReportBuilder], None], ...] = (
    _finish_run, _finish_execution, _finish_stages, _finish_cache, _finish_compiler, _finish_client, _finish_cost,
    _finish_engine, _finish_training, _finish_store, _finish_config,
)
