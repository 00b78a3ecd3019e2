"""IonQ v0.4 job bodies written straight from a batch's angle matrix, chunking, and result reading.

A batch is one template and B rows of angles, so every circuit of a job has the same JSON shape
and only the numbers differ. We compile that shape once into a format string and fill it per row
with `repr(float)` (what `json.dumps` writes, exact on the way back), never building Circuit
objects. Chunks respect IonQ's multi-circuit limits: 5,000 circuits, 150,000 gates, 10 MB.

Results come back as `{"<int>": p}` with little-endian integer keys (qubit i is bit 2**i); a
multi-circuit job's aggregate is keyed by child job id and is ordered here by the job's
`child_job_ids`, never by the order of the JSON object.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..circuits.gates import spec
from ..circuits.template import Op, Template
from .base import BackendLimits
from .ionq_errors import IonQError

CLIENT_ID_KEY = "qstore_client_id"
ROWS_KEY = "qstore_rows"
SINGLE = "ionq.circuit.v1"
MULTI = "ionq.multi-circuit.v1"
AGGREGATE_FORMAT = "ionq.result.probabilities-aggregate.json.v1"
PROBABILITIES_FORMAT = "ionq.result.probabilities.json.v1"
HISTOGRAM_FORMAT = "ionq.result.histogram.json.v1"
# Room for the job envelope (type, backend, shots, noise, metadata, input header) in the byte budget.
ENVELOPE_BYTES = 2048


@dataclass(frozen=True)
class JobOptions:
    """What every chunk of one run shares: target, shots, noise, a name, settings, dry run, session."""

    backend: str = "simulator"
    shots: int = 1000
    noise_model: str | None = None
    noise_seed: int | None = None
    name: str | None = None
    settings: Mapping[str, Mapping[str, bool]] | None = None  # spec CircuitJobSettings, e.g. error_mitigation
    dry_run: bool = False
    session_id: str | None = None

    def envelope(self, job_type: str, client_id: str, rows: tuple[int, int]) -> dict[str, Any]:
        if not 1 <= self.shots <= 1_000_000:
            raise ValueError(f"shots must be in 1..1000000, got {self.shots}")
        out: dict[str, Any] = {"type": job_type, "backend": self.backend, "shots": int(self.shots)}
        if self.name:
            out["name"] = self.name
        out["metadata"] = {CLIENT_ID_KEY: client_id, ROWS_KEY: f"{rows[0]}-{rows[1]}"}
        if self.backend == "simulator" and self.noise_model is not None:
            noise: dict[str, Any] = {"model": self.noise_model}
            if self.noise_seed is not None:
                noise["seed"] = int(self.noise_seed) % 2**31
            out["noise"] = noise
        if self.settings:
            out["settings"] = {k: dict(v) for k, v in self.settings.items()}
        if self.dry_run:
            out["dry_run"] = True
        if self.session_id:
            out["session_id"] = self.session_id
        return out


@dataclass(frozen=True)
class JobChunk:
    """One job's worth of rows [start, stop) and its request body, tagged with a fresh client UUID."""

    start: int
    stop: int
    body: bytes
    client_id: str
    job_type: str
    n_gates: int

    @property
    def n_circuits(self) -> int:
        return self.stop - self.start


def _op_format(gateset: str, op: Op) -> str:
    """The JSON of one gate with `{!r}` where its parameters go (braces doubled for str.format)."""
    s = spec(gateset, op.name)
    if gateset == "native":
        if op.name in ("gpi", "gpi2"):
            return f'{{{{"gate":"{op.name}","target":{op.targets[0]},"phase":{{!r}}}}}}'
        if op.name == "ms":
            return (f'{{{{"gate":"ms","targets":[{op.targets[0]},{op.targets[1]}],'
                    '"phases":[{!r},{!r}],"angle":{!r}}}')
        return f'{{{{"gate":"zz","targets":[{op.targets[0]},{op.targets[1]}],"angle":{{!r}}}}}}'
    parts = [f'"gate":"{op.name}"']
    if s.n_targets == 1:
        parts.append(f'"target":{op.targets[0]}')
    else:
        parts.append(f'"targets":[{",".join(str(t) for t in op.targets)}]')
    if len(op.controls) == 1:
        parts.append(f'"control":{op.controls[0]}')
    elif op.controls:
        parts.append(f'"controls":[{",".join(str(c) for c in op.controls)}]')
    if s.n_params:
        parts.append('"rotation":{!r}')
    return "{{" + ",".join(parts) + "}}"


def gate_list_format(template: Template) -> str:
    """Format string for the circuit's gate list `[...]`; `.format(*row)` fills one row of angles."""
    return "[" + ",".join(_op_format(template.gateset, op) for op in template.ops) + "]"


def gate_lists(template: Template, angles: np.ndarray) -> list[str]:
    """The JSON gate list of every row, as text."""
    fmt = gate_list_format(template)
    if template.n_angles == 0:
        return [fmt.format()] * angles.shape[0]
    rows = np.asarray(angles, dtype=np.float64)
    if not np.isfinite(rows).all():
        raise ValueError("angles must be finite")
    return [fmt.format(*r) for r in rows.tolist()]


def _chunk_bounds(sizes: list[int], gates_per_circuit: int, limits: BackendLimits) -> list[tuple[int, int]]:
    """Greedy split into [start, stop) ranges that respect the circuit, gate and byte limits."""
    if gates_per_circuit > limits.max_gates:
        raise ValueError(f"one circuit has {gates_per_circuit} gates; IonQ allows {limits.max_gates} per job")
    budget = limits.max_bytes - ENVELOPE_BYTES
    bounds, start, used, count = [], 0, 0, 0
    for i, size in enumerate(sizes):
        cost = size + 1  # the comma between circuits
        if cost > budget:
            raise ValueError(f"circuit {i} alone is {size} bytes of JSON; IonQ allows {limits.max_bytes} per job")
        if count and (count + 1 > limits.max_circuits or (count + 1) * gates_per_circuit > limits.max_gates
                      or used + cost > budget):
            bounds.append((start, i))
            start, used, count = i, 0, 0
        used += cost
        count += 1
    if count:
        bounds.append((start, len(sizes)))
    return bounds


def _body(options: JobOptions, template: Template, lists: list[str], rows: tuple[int, int],
          client_id: str) -> tuple[bytes, str]:
    one = rows[1] - rows[0] == 1
    job_type = SINGLE if one else MULTI
    head = json.dumps(options.envelope(job_type, client_id, rows), separators=(",", ":"))
    if one:
        inp = f'{{"qubits":{template.n_qubits},"gateset":"{template.gateset}","circuit":{lists[0]}}}'
    else:
        circuits = ",".join(f'{{"circuit":{g}}}' for g in lists)
        inp = f'{{"gateset":"{template.gateset}","qubits":{template.n_qubits},"circuits":[{circuits}]}}'
    return (head[:-1] + ',"input":' + inp + "}").encode(), job_type


def build_chunks(template: Template, angles: np.ndarray, options: JobOptions,
                 limits: BackendLimits = BackendLimits()) -> list[JobChunk]:
    """Job bodies for all rows: one multi-circuit job per chunk (a single-circuit job for a chunk of one)."""
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim != 2 or angles.shape[1] != template.n_angles:
        raise ValueError(f"angles must have shape (B, {template.n_angles}), got {angles.shape}")
    if angles.shape[0] == 0:
        return []
    lists = gate_lists(template, angles)
    gates = len(template.ops)
    chunks = []
    wrap = len('{"circuit":}')
    for start, stop in _chunk_bounds([len(s) + wrap for s in lists], gates, limits):
        client_id = str(uuid.uuid4())
        body, job_type = _body(options, template, lists[start:stop], (start, stop), client_id)
        if len(body) > limits.max_bytes:  # only an enormous job name can push the envelope this far
            raise ValueError(f"a job body of {len(body)} bytes exceeds IonQ's {limits.max_bytes}; shorten the name")
        chunks.append(JobChunk(start, stop, body, client_id, job_type, gates * (stop - start)))
    return chunks


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResultRef:
    """Where a completed job's probabilities live: a path relative to the API base."""

    path: str
    aggregated: bool


def result_ref(job: Mapping[str, Any], api_prefix: str) -> ResultRef:
    """Read a job's `results` (artifact style or URL style) into the path to GET.

    Artifact style: `{"<format>": {"id", "format", "media_type"}}` -> `/jobs/{id}/artifacts/{artifact id}`.
    URL style: `{"probabilities": {"url": "/v0.4/jobs/{id}/results/probabilities[/aggregated]"}}`.
    A job that lists neither is read from the documented `/results/probabilities` endpoint.
    """
    job_id = str(job["id"])
    multi = job.get("type") == MULTI or bool(job.get("child_job_ids"))
    results = job.get("results") or {}
    fmt = AGGREGATE_FORMAT if multi else PROBABILITIES_FORMAT
    art = results.get(fmt)
    if isinstance(art, Mapping) and art.get("id"):
        return ResultRef(f"/jobs/{job_id}/artifacts/{art['id']}", multi)
    url = results.get("probabilities", {}).get("url") if isinstance(results.get("probabilities"), Mapping) else None
    if url:
        path = str(url)
        if api_prefix and path.startswith(api_prefix + "/"):
            path = path[len(api_prefix):]
        return ResultRef(path, multi)
    suffix = "/aggregated" if multi else ""
    return ResultRef(f"/jobs/{job_id}/results/probabilities{suffix}", multi)


def histogram_path(job: Mapping[str, Any], api_prefix: str) -> str | None:
    """Where a circuit job's shot histogram lives (artifact or URL style), or None when it lists none."""
    results = job.get("results") or {}
    art = results.get(HISTOGRAM_FORMAT)
    if isinstance(art, Mapping) and art.get("id"):
        return f"/jobs/{job['id']}/artifacts/{art['id']}"
    ref = results.get("histogram")
    url = ref.get("url") if isinstance(ref, Mapping) else None
    if url:
        path = str(url)
        return path[len(api_prefix):] if api_prefix and path.startswith(api_prefix + "/") else path
    return None


def dense_row(dist: Any, n_qubits: int, where: str) -> np.ndarray:
    """`{"<int>": p}` (values may be numeric strings) to a dense (2**n,) float64 row."""
    if not isinstance(dist, Mapping):
        raise IonQError(f"{where}: expected an object of probabilities, got {type(dist).__name__}")
    size = 2 ** n_qubits
    row = np.zeros(size, dtype=np.float64)
    for key, value in dist.items():
        try:
            k = int(key)
            p = float(value)
        except (TypeError, ValueError):
            raise IonQError(f"{where}: bad result entry {key!r}: {value!r}") from None
        if not 0 <= k < size:
            raise IonQError(f"{where}: state {k} is out of range for {n_qubits} qubits")
        if not math.isfinite(p) or p < 0:
            raise IonQError(f"{where}: probability of state {k} is {p}")
        row[k] = p
    return row


def aggregated_rows(agg: Any, child_ids: list[str], n_qubits: int, job_id: str) -> np.ndarray:
    """The aggregate `{child_id: {"<int>": p}}` as (len(child_ids), 2**n), in `child_job_ids` order."""
    if not isinstance(agg, Mapping):
        raise IonQError(f"job {job_id}: aggregated results are not an object")
    missing = [c for c in child_ids if c not in agg]
    extra = set(agg) - set(child_ids)
    if missing or extra:
        raise IonQError(f"job {job_id}: aggregated results do not match child_job_ids "
                        f"({len(missing)} missing, {len(extra)} unknown)")
    return np.stack([dense_row(agg[c], n_qubits, f"job {job_id} child {c}") for c in child_ids])
