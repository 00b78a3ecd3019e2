"""The renderings of a report: text (the terminal and the headless run), Markdown (report.md), JSON.

Text and Markdown share one list of (title, [(label, value)]) sections, so they always carry the same figures.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydantic import TypeAdapter

from ..strict_json import strict
from .sections import CurvePoint, ReportData, TrainingSection

_SPARK = "▁▂▃▄▅▆▇█"



def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def number_text(x: float) -> str:
    """A loss or a rate to 4 decimals; in scientific notation where those would be a 300-digit number (a
    diverging loss) or show a small non-zero value as 0.0000."""
    if x != 0 and math.isfinite(x) and not 1e-4 <= abs(x) < 1e6:
        return f"{x:.4g}"
    return f"{x:.4f}"


def _num(x: float | None) -> str:
    return "-" if x is None else number_text(x)


def sparkline(values: list[float], width: int = 60) -> str:
    """The loss curve in one line of block characters (bucketed means when longer than `width`)."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        chunks = ([v for v in values[int(i * size):max(int((i + 1) * size), int(i * size) + 1)] if math.isfinite(v)]
                  for i in range(width))
        values = [sum(chunk) / len(chunk) if chunk else math.nan for chunk in chunks]
    finite = [v for v in values if math.isfinite(v)]  # NaN or infinity (a diverged step) is a gap
    if not finite:
        return " " * len(values)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    return "".join(" " if not math.isfinite(v) else _SPARK[0 if span == 0 else min(7, int((v - lo) / span * 8))]
                   for v in values)


Rows = list[tuple[str, str]]


def _run(r: ReportData) -> tuple[str, Rows]:
    run = r.run
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
    return "Run", rows


def _execution(r: ReportData) -> tuple[str, Rows]:
    x = r.execution
    return "Execution Summary", [
        ("Total Circuits", f"{x.circuits:,}" + (f" ({x.failed:,} failed)" if x.failed else "")),
        ("Batches", f"{x.batches:,} in {x.chunks:,} backend calls ({x.circuits_per_call:,.1f} circuits/call)"),
        ("Total Shots", f"{x.shots:,}" if x.shots else "0 (exact probabilities)"),
        ("Batch Time", f"{x.batch_time_s:,.2f}s"),
        ("Avg Time/Batch", f"{x.avg_batch_ms:,.2f}ms"),
        ("Avg Time/Circuit", f"{x.avg_ms_per_circuit:,.4f}ms"),
        ("Avg Throughput", f"{x.throughput_cps:,.1f} circuits/sec"),
        ("Wall Throughput", f"{x.wall_throughput_cps:,.1f} circuits/sec"),
        ("Circuits by Purpose", ", ".join(f"{k} {v:,}" for k, v in x.circuits_by_purpose.items()) or "-"),
    ]


def _stages(r: ReportData) -> tuple[str, Rows]:
    return "Time per Stage", [(k, f"{v:,.1f}ms ({r.stages.share.get(k, 0.0):.1%})")
                              for k, v in r.stages.ms.items()] or [("Stages", "none recorded")]


def _features(r: ReportData) -> tuple[str, Rows]:
    return "Features Enabled", [(k.replace("_", " ").title(), str(v)) for k, v in r.features.items()] or [
        ("Features", "none recorded")]


def _cache(r: ReportData) -> tuple[str, Rows]:
    c = r.cache
    if c is None:
        return "Circuit Cache", [("Cache", "no cache statistics recorded")]
    return "Circuit Cache", [
        ("Template Hit Rate", f"{c.template_hit_rate:.1%} ({c.template_hits} of {c.template_hits + c.template_misses})"),
        ("Bound Hit Rate", f"{c.bound_hit_rate:.1%} ({c.bound_hits} of {c.bound_hits + c.bound_misses})"),
        ("Time Saved", f"{c.time_saved_ms:,.1f}ms"),
        ("Evictions", f"{c.evictions:,}"),
        ("Held", f"{c.bytes_held / 2**20:,.2f} MiB"),
    ]


def _compiler(r: ReportData) -> tuple[str, Rows]:
    c = r.compiler
    if c is None:
        return "Native Gate Compiler", [("Compiler", "not used (no compiler statistics recorded)")]
    return "Native Gate Compiler", [
        ("Target", c.target), ("Templates Compiled", f"{c.compiles:,}"),
        ("Gates In / Out", f"{c.gates_in:,} / {c.gates_out:,} ({c.n1q_out:,} 1q, {c.n2q_out:,} 2q)"),
        ("Gate Reduction", f"{c.reduction_pct:.1f}%"), ("Compile Time", f"{c.compile_ms:,.1f}ms"),
    ]


def _client(r: ReportData) -> tuple[str, Rows]:
    cl = r.client
    if cl is None:
        return "Batch Client", [("Client", "no API calls (local backend)")]
    return "Batch Client", [
        ("API Calls", f"{cl.requests:,}"),
        ("Jobs Created", f"{cl.jobs_created:,} ({cl.jobs_seen:,} seen)"),
        ("Circuits Submitted", f"{cl.circuits_submitted:,}"),
        ("Avg Circuits/Call", f"{cl.circuits_per_call:,.1f}"),
        ("Retries", f"{cl.retries:,} ({cl.rate_limited:,} rate-limited, {cl.lookups:,} job lookups)"),
        ("Bytes Sent", f"{cl.bytes_sent:,}"),
        ("Queue / Run Time", f"{cl.queue_time_s:,.2f}s / {cl.execution_time_s:,.2f}s"),
        ("Job Statuses", ", ".join(f"{k} {v}" for k, v in sorted(cl.job_statuses.items())) or "-"),
    ]


def _training(r: ReportData) -> tuple[str, Rows]:
    t = r.training
    return "Training", [
        ("Loss", f"{_num(t.first_loss)} -> {_num(t.final_loss)} (best {_num(t.best_loss)})"),
        ("Curve", sparkline([p.loss for p in t.curve]) or "-"),
        ("Final Accuracy", _pct(t.final_accuracy)),
        ("Val Accuracy", f"{_pct(t.final_val_accuracy)} (best {_pct(t.best_val_accuracy)})"),
        *[(f"Epoch {e.epoch}", f"loss {number_text(e.train_loss)}, acc {_pct(e.train_accuracy)}, "
           f"val loss {_num(e.val_loss)}, val acc {_pct(e.val_accuracy)}") for e in t.epochs],
    ]


def _cost(r: ReportData) -> tuple[str, Rows]:
    co = r.cost
    if co is None:
        return "Estimated Cost", [("Cost", "not a QPU target: no charge")]
    return "Estimated Cost", [
        ("Target", co.target), ("Circuits", f"{co.circuits:,} x {co.shots:,} shots"),
        ("Estimate", f"${co.usd:,.2f} (${co.per_circuit_usd:,.4f} per circuit)"),
        ("Source", co.source), ("Basis", co.basis),
    ]


def _ionq(r: ReportData) -> tuple[str, Rows]:
    q = r.ionq
    if q is None:
        return "IonQ QPU", [("IonQ", "not run on IonQ")]
    rows: Rows = [("Error Mitigation", q.mitigation or "-")]
    readout = q.readout
    if q.readout_p01:
        rates = ", ".join(f"q{i} {number_text(a)}/{number_text(c)}"
                          for i, (a, c) in enumerate(zip(q.readout_p01, q.readout_p10)))
        readout = f"{readout}; p01/p10 {rates}"
    rows.append(("Readout Mitigation", readout))
    if q.session_id is not None:
        rows.append(("Session", f"{q.session_id} ({q.session_status}; limits {q.session_limits})"))
    if q.jobs_costed:
        est = "" if q.estimate_usd is None else f" of ${q.estimate_usd:,.2f} estimated"
        cap = "" if q.cap_usd is None else f", cap ${q.cap_usd:,.2f}"
        how = "IonQ's actual job costs" if q.all_billed else "IonQ's job costs (some only estimated: not billed yet)"
        rows.append(("Spend", f"${q.spent_usd:,.2f}{est}{cap} over {q.jobs_costed:,} job(s), from {how}"))
    if q.dry_run is not None:
        d = q.dry_run
        rows.append(("Dry Run", f"{d.jobs} job(s), {d.circuits} circuits validated and priced: "
                                f"${d.per_circuit_usd:,.4f} per circuit; the run would cost ${d.planned_usd:,.2f} "
                                f"({d.planned_circuits:,} circuits); executed {d.executed}"))
    return "IonQ QPU", rows


def _store(r: ReportData) -> tuple[str, Rows]:
    s = r.store
    if s is None:
        return "Vector Store", [("Store", "nothing stored")]
    return "Vector Store", [
        ("Store", s.store), ("Updates", f"{s.updates:,} ({s.upserted:,} vectors upserted)"),
        ("Namespaces", ", ".join(s.namespaces) or "-"), ("kNN Accuracy", _pct(s.last_knn_accuracy)),
    ]


def _engine(r: ReportData) -> tuple[str, Rows]:
    e = r.engine
    return "Engine", [
        ("Events", f"{e.events:,} ({e.events_dropped:,} dropped by slow subscribers)"),
        ("Event Loop Worst Stall", "-" if e.loop_worst_stall_ms is None else f"{e.loop_worst_stall_ms:,.1f} ms"),
        ("Warnings / Errors", f"{e.warnings} / {len(e.errors)}"),
        *[("Error", msg) for msg in e.errors],
    ]


# The sections of the text and Markdown renderings, in order: a new section is one function and one entry here.
def _shots(r: ReportData) -> tuple[str, Rows]:
    s = r.shots
    if s is None:
        return "Shots", [("Shots", "exact expectations: none measured")]
    return "Shots", [
        ("Training steps", f"{s.step_shots:,}"), ("All batches", f"{s.total_shots:,}"),
        ("Loss", f"{number_text(s.first_loss)} -> {number_text(s.train_loss)}"),
        ("Per unit of loss", "- (the loss has not fallen)" if s.shots_per_loss is None else f"{s.shots_per_loss:,.0f}"),
    ]


def _preflight(r: ReportData) -> tuple[str, Rows]:
    p = r.preflight
    if p is None:
        return "Gradient Preflight", [("Preflight", "not run (preflight_initializations 0, or a resumed run)")]
    return "Gradient Preflight", [
        ("Variance", f"mean {p.mean_variance:.3g}, min {p.min_variance:.3g}, max {p.max_variance:.3g}"),
        ("Over", f"{p.initializations} initializations x {p.samples} inputs, {p.n_params} parameters ({p.method})"),
        ("Verdict", f"BARREN PLATEAU (mean < {p.threshold:g})" if p.barren_plateau else "trainable"),
    ]


SECTIONS: tuple[Callable[[ReportData], tuple[str, Rows]], ...] = (
    _run, _execution, _stages, _features, _cache, _compiler, _client, _preflight, _training, _shots, _cost, _ionq,
    _store, _engine,
)


def _sections(r: ReportData) -> list[tuple[str, Rows]]:
    """(title, [(label, value)]) shared by the text and Markdown renderings."""
    return [section(r) for section in SECTIONS]


_RULE = "=" * 72


def _text_lines(r: ReportData) -> list[str]:
    lines = [_RULE, "QSTORE-TUI PERFORMANCE REPORT", _RULE]
    for title, rows in _sections(r):
        lines.append("")
        lines.append(f"{title}:")
        lines += [f"  {label}: {value}" for label, value in rows]
    lines.append(_RULE)
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown_lines(r: ReportData) -> list[str]:
    lines = [f"# Performance report: {r.run.run_id or 'run'}"]
    for title, rows in _sections(r):
        lines += ["", f"## {title}", "", "| | |", "|---|---|"]
        lines += [f"| {_md_cell(label)} | {_md_cell(value)} |" for label, value in rows]
    if r.config:
        lines += ["", "## Config", "", "| field | value |", "|---|---|"]
        lines += [f"| {k} | {_md_cell(str(v))} |" for k, v in r.config.items()]
    return lines


def to_text(r: ReportData) -> str:
    return "\n".join(_text_lines(r))


def to_markdown(r: ReportData) -> str:
    return "\n".join(_markdown_lines(r)) + "\n"


def to_json(r: ReportData) -> dict[str, Any]:
    return strict(r.model_dump(mode="json"))


class _CurveJson(list):  # type: ignore[type-arg]  # the json encoder takes lists only; this one is lazy
    """The curve's points as JSON dicts, each made as the encoder reaches it and dropped after."""

    def __init__(self, points: Sequence[CurvePoint]):
        super().__init__()
        self._points = points

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (strict(_POINT.dump_python(p, mode="json")) for p in self._points)


_POINT: TypeAdapter[CurvePoint] = TypeAdapter(CurvePoint)


def to_json_bytes(r: ReportData) -> bytes:
    """report.json's bytes: exactly `json.dumps(to_json(r), indent=2).encode()`, in bounded extra memory.

    `json.dumps` with an indent joins a list of every token (~15 per curve point: +21 MB for a 20,000-step run,
    at the end of the run), and `to_json` makes a dict per curve point (+3.7 MB): here the same encoder's pieces
    go into one buffer, and each point's dict (pydantic's JSON-mode dump, as in `to_json`) is made when reached.
    """
    doc = strict(r.model_dump(mode="json", exclude={"training": {"curve"}}))
    training = doc["training"]
    doc["training"] = {name: (_CurveJson(r.training.curve) if name == "curve" else training[name])
                       for name in TrainingSection.model_fields}  # the same key order as the whole dump
    out = io.BytesIO()
    for piece in json.JSONEncoder(indent=2, allow_nan=False).iterencode(doc):
        out.write(piece.encode())
    return out.getvalue()
