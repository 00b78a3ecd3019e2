"""The performance report of a run, built from its events only, as text, Markdown and JSON.

Every figure is derived from `events.jsonl` (e.g. total circuits = the sum of BatchExecuted.circuits),
so a report rebuilt later, by `qstore-tui report RUN` or the TUI's Report screen, says the same.

A resumed run has several segments (each starts with RunStarted). Counters that a session reports
cumulatively (CacheStats, CompilerStats, ClientStats, EngineStats, CostEstimate) are taken as the
last value of each segment and added up; the training curve keeps, for every step, the value of the
latest segment (steps redone after a resume replace the lost ones); executed circuits all count,
including those of steps redone, because they ran (and on a QPU, cost money).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from pydantic import BaseModel, Field

from .config import TrainingConfig
from .events import (
    BatchExecuted, CacheStats, Checkpoint, ClientStats, CompilerStats, CostEstimate, EngineStats, EpochFinished,
    Error, JobUpdate, Log, RunFinished, RunStarted, StepMetrics, StoreUpdate, _Event,
)

STAGES = ("bind", "compile", "submit", "queue", "execute", "post_process")
_SPARK = "▁▂▃▄▅▆▇█"


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


class CacheSection(BaseModel):
    template_hits: int = 0
    template_misses: int = 0
    bound_hits: int = 0
    bound_misses: int = 0
    evictions: int = 0
    bytes_held: int = 0
    time_saved_ms: float = 0.0
    template_hit_rate: float = 0.0
    bound_hit_rate: float = 0.0


class CompilerSection(BaseModel):
    target: str = ""
    compiles: int = 0
    gates_in: int = 0
    gates_out: int = 0
    n1q_out: int = 0
    n2q_out: int = 0
    reduction_pct: float = 0.0
    compile_ms: float = 0.0


class ClientSection(BaseModel):
    requests: int = 0
    calls: dict[str, int] = Field(default_factory=dict)
    jobs_created: int = 0
    circuits_submitted: int = 0
    circuits_per_call: float = 0.0
    retries: int = 0
    rate_limited: int = 0
    lookups: int = 0
    bytes_sent: int = 0
    queue_time_s: float = 0.0
    execution_time_s: float = 0.0
    jobs_seen: int = 0  # distinct job ids in JobUpdate events
    job_statuses: dict[str, int] = Field(default_factory=dict)  # final status of each job


class CurvePoint(BaseModel):
    step: int
    epoch: int
    loss: float
    accuracy: float | None = None
    grad_norm: float | None = None


class EpochPoint(BaseModel):
    epoch: int
    train_loss: float
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None


class TrainingSection(BaseModel):
    curve: list[CurvePoint] = Field(default_factory=list)
    epochs: list[EpochPoint] = Field(default_factory=list)
    first_loss: float | None = None
    final_loss: float | None = None
    best_loss: float | None = None
    final_accuracy: float | None = None
    final_val_accuracy: float | None = None
    best_val_accuracy: float | None = None


class CostSection(BaseModel):
    target: str
    circuits: int
    shots: int
    usd: float
    per_circuit_usd: float
    source: str
    basis: str


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


class PerformanceReport(BaseModel):
    run: RunSection = Field(default_factory=RunSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    stages: StagesSection = Field(default_factory=StagesSection)
    features: dict[str, bool] = Field(default_factory=dict)
    cache: CacheSection | None = None
    compiler: CompilerSection | None = None
    client: ClientSection | None = None
    training: TrainingSection = Field(default_factory=TrainingSection)
    cost: CostSection | None = None
    store: StoreSection | None = None
    engine: EngineSection = Field(default_factory=EngineSection)
    config: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_text(self) -> str:
        return "\n".join(_text_lines(self))

    def to_markdown(self) -> str:
        return "\n".join(_markdown_lines(self)) + "\n"


# ---------------------------------------------------------------------------------------- build

_CONFIG_KEYS = ("backend", "quantum_target", "n_qubits", "circuit_depth", "entanglement", "dataset", "n_samples",
                "optimizer", "gradient_method", "learning_rate", "batch_size", "epochs", "shots_per_circuit", "seed")


class _Segment:
    """The cumulative counters of one session (RunStarted to the next RunStarted)."""

    def __init__(self) -> None:
        self.cache: CacheStats | None = None
        self.compiler: CompilerStats | None = None
        self.client: ClientStats | None = None
        self.engine: EngineStats | None = None
        self.cost: CostEstimate | None = None


def build_report(events: Iterable[_Event], config: TrainingConfig | None = None) -> PerformanceReport:
    """The report of a run from its events (and, for the config summary, its config)."""
    r = PerformanceReport()
    segments: list[_Segment] = []
    curve: dict[int, CurvePoint] = {}
    epochs: dict[int, EpochPoint] = {}
    stage_ms: Counter[str] = Counter()
    purposes: Counter[str] = Counter()
    job_status: dict[str, str] = {}
    final: RunFinished | None = None
    last_step: StepMetrics | None = None
    wall_s = 0.0
    first_time: float | None = None
    store: StoreSection | None = None
    namespaces: set[str] = set()

    def segment() -> _Segment:
        if not segments:
            segments.append(_Segment())
        return segments[-1]

    for ev in events:
        r.engine.events += 1
        first_time = ev.time if first_time is None else first_time
        r.run.finished_at = ev.time
        if isinstance(ev, RunStarted):
            segments.append(_Segment())
            r.run.segments += 1
            if r.run.segments == 1:
                r.run.run_id, r.run.started_at = ev.run_id, ev.time
            r.run.backend, r.run.target = ev.backend, ev.target
            r.run.n_qubits, r.run.n_params, r.run.total_steps = ev.n_qubits, ev.n_params, ev.total_steps
            r.features = dict(ev.features)
            if r.run.segments > 1:  # a resume: steps from its checkpoint on are redone, the old ones were lost
                r.run.resumed_from_steps.append(ev.resumed_from_step)
                for step in [s for s in curve if s >= ev.resumed_from_step]:
                    del curve[step]
            final = None
        elif isinstance(ev, BatchExecuted):
            x = r.execution
            x.batches += 1
            x.circuits += ev.circuits
            x.failed += ev.failed
            x.chunks += ev.chunks
            x.shots += ev.circuits * ev.shots
            x.batch_time_s += ev.total_ms / 1000.0
            purposes[ev.purpose or "other"] += ev.circuits
            stage_ms.update(ev.stage_ms)
        elif isinstance(ev, StepMetrics):
            last_step = ev
            curve[ev.step] = CurvePoint(step=ev.step, epoch=ev.epoch, loss=ev.loss, accuracy=ev.accuracy,
                                        grad_norm=ev.grad_norm)
            r.run.total_steps = ev.total_steps
        elif isinstance(ev, EpochFinished):
            epochs[ev.epoch] = EpochPoint(epoch=ev.epoch, train_loss=ev.train_loss, train_accuracy=ev.train_accuracy,
                                          val_loss=ev.val_loss, val_accuracy=ev.val_accuracy)
        elif isinstance(ev, JobUpdate):
            job_status[ev.job_id] = ev.status
        elif isinstance(ev, CacheStats):
            segment().cache = ev
        elif isinstance(ev, CompilerStats):
            segment().compiler = ev
        elif isinstance(ev, ClientStats):
            segment().client = ev
        elif isinstance(ev, EngineStats):
            segment().engine = ev
        elif isinstance(ev, CostEstimate):
            segment().cost = ev
        elif isinstance(ev, Checkpoint):
            r.run.checkpoints += 1
            r.run.last_checkpoint_step = ev.step
        elif isinstance(ev, StoreUpdate):
            store = store or StoreSection(store=ev.store)
            store.updates += 1
            store.upserted += ev.upserted
            namespaces.add(ev.namespace)
            if ev.knn_accuracy is not None:
                store.last_knn_accuracy = ev.knn_accuracy
        elif isinstance(ev, Log):
            r.engine.warnings += ev.level == "warning"
        elif isinstance(ev, Error):
            r.engine.errors.append(f"{ev.source}: {ev.message}" + (" (fatal)" if ev.fatal else ""))
        elif isinstance(ev, RunFinished):
            final = ev
            wall_s += ev.wall_s

    # run
    r.run.steps = last_step.step + 1 if last_step else 0
    if final is not None:
        r.run.status, r.run.message = final.status, final.message
        r.run.steps = final.steps
    elif r.run.segments:
        r.run.status = "incomplete"
    r.run.wall_s = wall_s
    # execution
    x = r.execution
    x.circuits_by_purpose = dict(purposes)
    if x.batches:
        x.avg_batch_ms = x.batch_time_s * 1000.0 / x.batches
    if x.circuits:
        x.avg_ms_per_circuit = x.batch_time_s * 1000.0 / x.circuits
    if x.chunks:
        x.circuits_per_call = x.circuits / x.chunks
    if x.batch_time_s > 0:
        x.throughput_cps = x.circuits / x.batch_time_s
    if wall_s > 0:
        x.wall_throughput_cps = x.circuits / wall_s
    # stages
    total_stage = sum(stage_ms.values())
    ordered = [s for s in STAGES if s in stage_ms] + sorted(s for s in stage_ms if s not in STAGES)
    r.stages.ms = {s: stage_ms[s] for s in ordered}
    r.stages.share = {s: stage_ms[s] / total_stage for s in ordered} if total_stage > 0 else {}
    # per-segment counters
    r.cache = _sum_cache([s.cache for s in segments if s.cache])
    r.compiler = _sum_compiler([s.compiler for s in segments if s.compiler])
    r.client = _sum_client([s.client for s in segments if s.client], job_status)
    r.cost = _sum_cost([s.cost for s in segments if s.cost])
    engines = [s.engine for s in segments if s.engine]
    if engines:
        r.engine.loop_worst_stall_ms = max(e.loop_worst_stall_ms for e in engines)
        samples = sum(e.loop_samples for e in engines)
        r.engine.loop_mean_stall_ms = (
            sum(e.loop_mean_stall_ms * e.loop_samples for e in engines) / samples if samples else 0.0)
        r.engine.events_dropped = sum(e.events_dropped for e in engines)
    # training
    t = r.training
    t.curve = [curve[s] for s in sorted(curve)]
    t.epochs = [epochs[e] for e in sorted(epochs)]
    if t.curve:
        t.first_loss, t.final_loss = t.curve[0].loss, t.curve[-1].loss
        t.best_loss = min(p.loss for p in t.curve)
        t.final_accuracy = t.curve[-1].accuracy
    vals = [e.val_accuracy for e in t.epochs if e.val_accuracy is not None]
    if vals:
        t.final_val_accuracy, t.best_val_accuracy = vals[-1], max(vals)
    if final is not None:
        t.final_loss = final.final_loss if final.final_loss is not None else t.final_loss
        t.final_accuracy = final.final_accuracy if final.final_accuracy is not None else t.final_accuracy
        t.final_val_accuracy = final.val_accuracy if final.val_accuracy is not None else t.final_val_accuracy
    # store
    if store is not None:
        store.namespaces = sorted(namespaces)
    r.store = store
    if config is not None:
        r.config = {k: getattr(config, k) for k in _CONFIG_KEYS}
        if not r.features:
            r.features = {"batch_api": config.use_batch_api, "native_gates": config.use_native_gates,
                          "smart_caching": config.enable_smart_caching, "adaptive_batch_sizing":
                          config.adaptive_batch_sizing, "circuit_compression": config.enable_circuit_compression}
    return r


def _sum_cache(items: list[CacheStats]) -> CacheSection | None:
    if not items:
        return None
    c = CacheSection(
        template_hits=sum(i.template_hits for i in items), template_misses=sum(i.template_misses for i in items),
        bound_hits=sum(i.bound_hits for i in items), bound_misses=sum(i.bound_misses for i in items),
        evictions=sum(i.evictions for i in items), bytes_held=items[-1].bytes_held,
        time_saved_ms=sum(i.time_saved_ms for i in items),
    )
    c.template_hit_rate = _rate(c.template_hits, c.template_misses)
    c.bound_hit_rate = _rate(c.bound_hits, c.bound_misses)
    return c


def _rate(hits: int, misses: int) -> float:
    return hits / (hits + misses) if hits + misses else 0.0


def _sum_compiler(items: list[CompilerStats]) -> CompilerSection | None:
    if not items:
        return None
    gates_in = sum(i.gates_in for i in items)
    reduction = (sum(i.reduction_pct * i.gates_in for i in items) / gates_in) if gates_in else items[-1].reduction_pct
    return CompilerSection(
        target=items[-1].target, compiles=sum(i.compiles for i in items), gates_in=gates_in,
        gates_out=sum(i.gates_out for i in items), n1q_out=sum(i.n1q_out for i in items),
        n2q_out=sum(i.n2q_out for i in items), reduction_pct=reduction, compile_ms=sum(i.compile_ms for i in items),
    )


def _sum_client(items: list[ClientStats], job_status: dict[str, str]) -> ClientSection | None:
    if not items and not job_status:
        return None
    calls: Counter[str] = Counter()
    for i in items:
        calls.update(i.calls)
    c = ClientSection(
        requests=sum(i.requests for i in items), calls=dict(calls), jobs_created=sum(i.jobs_created for i in items),
        circuits_submitted=sum(i.circuits_submitted for i in items), retries=sum(i.retries for i in items),
        rate_limited=sum(i.rate_limited for i in items), lookups=sum(i.lookups for i in items),
        bytes_sent=sum(i.bytes_sent for i in items), queue_time_s=sum(i.queue_time_s for i in items),
        execution_time_s=sum(i.execution_time_s for i in items),
        jobs_seen=len(job_status), job_statuses=dict(Counter(job_status.values())),
    )
    c.circuits_per_call = c.circuits_submitted / c.jobs_created if c.jobs_created else 0.0
    return c


def _sum_cost(items: list[CostEstimate]) -> CostSection | None:
    if not items:
        return None
    circuits = sum(i.circuits for i in items)
    usd = sum(i.usd for i in items)
    sources = sorted({i.source for i in items})
    return CostSection(
        target=items[-1].target, circuits=circuits, shots=items[-1].shots, usd=usd,
        per_circuit_usd=usd / circuits if circuits else items[-1].per_circuit_usd,
        source="+".join(sources), basis=items[-1].basis,
    )


# --------------------------------------------------------------------------------------- render


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None, fmt: str = ".4f") -> str:
    return "-" if x is None else format(x, fmt)


def sparkline(values: list[float], width: int = 60) -> str:
    """The loss curve in one line of block characters (bucketed means when longer than `width`)."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [sum(chunk) / len(chunk) for chunk in
                  (values[int(i * size):max(int((i + 1) * size), int(i * size) + 1)] for i in range(width))]
    lo, hi = min(values), max(values)
    span = hi - lo
    return "".join(_SPARK[0 if span == 0 else min(7, int((v - lo) / span * 8))] for v in values)


def _sections(r: PerformanceReport) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, [(label, value)]) shared by the text and Markdown renderings."""
    run = r.run
    x = r.execution
    out: list[tuple[str, list[tuple[str, str]]]] = []
    rows = [
        ("Run", run.run_id or "-"), ("Status", run.status + (f" ({run.message})" if run.message else "")),
        ("Backend", f"{run.backend} / {run.target}" if run.backend else "-"),
        ("Model", f"{run.n_qubits} qubits, {run.n_params} parameters"),
        ("Steps", f"{run.steps:,} of {run.total_steps:,}"),
        ("Wall Time", f"{run.wall_s:,.1f}s"),
        ("Checkpoints", f"{run.checkpoints}" + (f" (last at step {run.last_checkpoint_step})"
                                                 if run.last_checkpoint_step is not None else "")),
    ]
    if run.resumed_from_steps:
        rows.append(("Resumed", ", ".join(f"from step {s}" for s in run.resumed_from_steps)))
    out.append(("Run", rows))
    out.append(("Execution Summary", [
        ("Total Circuits", f"{x.circuits:,}" + (f" ({x.failed:,} failed)" if x.failed else "")),
        ("Batches", f"{x.batches:,} in {x.chunks:,} backend calls ({x.circuits_per_call:,.1f} circuits/call)"),
        ("Total Shots", f"{x.shots:,}" if x.shots else "0 (exact probabilities)"),
        ("Batch Time", f"{x.batch_time_s:,.2f}s"),
        ("Avg Time/Batch", f"{x.avg_batch_ms:,.2f}ms"),
        ("Avg Time/Circuit", f"{x.avg_ms_per_circuit:,.4f}ms"),
        ("Avg Throughput", f"{x.throughput_cps:,.1f} circuits/sec"),
        ("Wall Throughput", f"{x.wall_throughput_cps:,.1f} circuits/sec"),
        ("Circuits by Purpose", ", ".join(f"{k} {v:,}" for k, v in x.circuits_by_purpose.items()) or "-"),
    ]))
    out.append(("Time per Stage", [(k, f"{v:,.1f}ms ({r.stages.share.get(k, 0.0):.1%})")
                                   for k, v in r.stages.ms.items()] or [("Stages", "none recorded")]))
    out.append(("Features Enabled", [(k.replace("_", " ").title(), str(v)) for k, v in r.features.items()]
                or [("Features", "none recorded")]))
    if r.cache:
        c = r.cache
        out.append(("Circuit Cache", [
            ("Template Hit Rate",
             f"{c.template_hit_rate:.1%} ({c.template_hits} of {c.template_hits + c.template_misses})"),
            ("Bound Hit Rate", f"{c.bound_hit_rate:.1%} ({c.bound_hits} of {c.bound_hits + c.bound_misses})"),
            ("Time Saved", f"{c.time_saved_ms:,.1f}ms"),
            ("Evictions", f"{c.evictions:,}"),
            ("Held", f"{c.bytes_held / 2**20:,.2f} MiB"),
        ]))
    else:
        out.append(("Circuit Cache", [("Cache", "no cache statistics recorded")]))
    if r.compiler:
        c2 = r.compiler
        out.append(("Native Gate Compiler", [
            ("Target", c2.target), ("Templates Compiled", f"{c2.compiles:,}"),
            ("Gates In / Out", f"{c2.gates_in:,} / {c2.gates_out:,} ({c2.n1q_out:,} 1q, {c2.n2q_out:,} 2q)"),
            ("Gate Reduction", f"{c2.reduction_pct:.1f}%"), ("Compile Time", f"{c2.compile_ms:,.1f}ms"),
        ]))
    else:
        out.append(("Native Gate Compiler", [("Compiler", "not used (no compiler statistics recorded)")]))
    if r.client:
        cl = r.client
        out.append(("Batch Client", [
            ("API Calls", f"{cl.requests:,}"),
            ("Jobs Created", f"{cl.jobs_created:,} ({cl.jobs_seen:,} seen)"),
            ("Circuits Submitted", f"{cl.circuits_submitted:,}"),
            ("Avg Circuits/Call", f"{cl.circuits_per_call:,.1f}"),
            ("Retries", f"{cl.retries:,} ({cl.rate_limited:,} rate-limited, {cl.lookups:,} job lookups)"),
            ("Bytes Sent", f"{cl.bytes_sent:,}"),
            ("Queue / Run Time", f"{cl.queue_time_s:,.2f}s / {cl.execution_time_s:,.2f}s"),
            ("Job Statuses", ", ".join(f"{k} {v}" for k, v in sorted(cl.job_statuses.items())) or "-"),
        ]))
    else:
        out.append(("Batch Client", [("Client", "no API calls (local backend)")]))
    t = r.training
    out.append(("Training", [
        ("Loss", f"{_num(t.first_loss)} -> {_num(t.final_loss)} (best {_num(t.best_loss)})"),
        ("Curve", sparkline([p.loss for p in t.curve]) or "-"),
        ("Final Accuracy", _pct(t.final_accuracy)),
        ("Val Accuracy", f"{_pct(t.final_val_accuracy)} (best {_pct(t.best_val_accuracy)})"),
        *[(f"Epoch {e.epoch}", f"loss {e.train_loss:.4f}, acc {_pct(e.train_accuracy)}, "
           f"val loss {_num(e.val_loss)}, val acc {_pct(e.val_accuracy)}") for e in t.epochs],
    ]))
    if r.cost:
        co = r.cost
        out.append(("Estimated Cost", [
            ("Target", co.target), ("Circuits", f"{co.circuits:,} x {co.shots:,} shots"),
            ("Estimate", f"${co.usd:,.2f} (${co.per_circuit_usd:,.4f} per circuit)"),
            ("Source", co.source), ("Basis", co.basis),
        ]))
    else:
        out.append(("Estimated Cost", [("Cost", "not a QPU target: no charge")]))
    if r.store:
        s = r.store
        out.append(("Vector Store", [
            ("Store", s.store), ("Updates", f"{s.updates:,} ({s.upserted:,} vectors upserted)"),
            ("Namespaces", ", ".join(s.namespaces) or "-"), ("kNN Accuracy", _pct(s.last_knn_accuracy)),
        ]))
    else:
        out.append(("Vector Store", [("Store", "nothing stored")]))
    e = r.engine
    out.append(("Engine", [
        ("Events", f"{e.events:,} ({e.events_dropped:,} dropped by slow subscribers)"),
        ("Event Loop Worst Stall", "-" if e.loop_worst_stall_ms is None else f"{e.loop_worst_stall_ms:,.1f} ms"),
        ("Warnings / Errors", f"{e.warnings} / {len(e.errors)}"),
        *[("Error", msg) for msg in e.errors],
    ]))
    return out


_RULE = "=" * 72


def _text_lines(r: PerformanceReport) -> list[str]:
    lines = [_RULE, "QSTORE-TUI PERFORMANCE REPORT", _RULE]
    for title, rows in _sections(r):
        lines.append("")
        lines.append(f"{title}:")
        lines += [f"  {label}: {value}" for label, value in rows]
    lines.append(_RULE)
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown_lines(r: PerformanceReport) -> list[str]:
    lines = [f"# Performance report: {r.run.run_id or 'run'}"]
    for title, rows in _sections(r):
        lines += ["", f"## {title}", "", "| | |", "|---|---|"]
        lines += [f"| {_md_cell(label)} | {_md_cell(value)} |" for label, value in rows]
    if r.config:
        lines += ["", "## Config", "", "| field | value |", "|---|---|"]
        lines += [f"| {k} | {_md_cell(str(v))} |" for k, v in r.config.items()]
    return lines
