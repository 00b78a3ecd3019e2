"""Running a parsed job on the local simulator: circuits grouped by structure, one batched call each.

Circuits with the same gates (only the numbers differ) share a template, so a multi-circuit job of
one model structure is a single `engine.sim.probabilities` call. Noise follows IonQ: exact
probabilities for the ideal simulator, shot-sampled probabilities (with histogram and per-shot data)
for noisy models and QPU targets.

Debiasing (QPU targets only, as at IonQ) splits the shots over symmetrized variants: each variant
runs on its own qubit map and with its own bit-flip mask before measurement, undone classically. The
variants are aggregated by `average` (served as the job's probabilities) and by `voting` (IonQ's
"sharpening": each variant votes for its most frequent outcome; ties split the vote). The emulator's
noise model is symmetric across qubits and outcomes, so here the variants are statistically
equivalent: debiasing reproduces IonQ's shape (variants, artifacts, aggregations), not a bias reduction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...circuits.template import Template
from ...sim import probabilities
from ...sim.measure import probabilities_to_json, sample_counts
from ...sim.noise import NoiseModel, noise_model, noisy_distribution
from .payload import ParsedJob

MAX_VARIANTS = 20
CANCEL_CHECK_ROWS = 64  # circuits simulated between two looks at the cancel flag
SHOTS_PER_VARIANT = 100  # emulator choice: one variant per 100 shots, at most MAX_VARIANTS


@dataclass(frozen=True)
class Variant:
    variant_id: str
    qubit_map: list[int]
    shots: int
    counts: np.ndarray  # (2**n,) int64, outcomes in the logical (un-flipped) basis


@dataclass(frozen=True)
class CircuitResult:
    """One circuit's results: what each results endpoint and artifact serves."""

    probabilities: dict[str, float]  # exact (ideal) or counts / shots (the average aggregation when debiased)
    counts: np.ndarray | None = None  # (2**n,) int64 for shot-based results
    voting: dict[str, float] | None = None  # the sharpened distribution when debiased
    variants: list[Variant] = field(default_factory=list)


def variant_count(shots: int) -> int:
    return max(2, min(MAX_VARIANTS, shots // SHOTS_PER_VARIANT))


def _debiased(p: np.ndarray, shots: int, device_qubits: int, rng: np.random.Generator) -> CircuitResult:
    n = int(p.shape[0]).bit_length() - 1
    k = variant_count(shots)
    split = [shots // k + (1 if i < shots % k else 0) for i in range(k)]
    idx = np.arange(p.shape[0])
    variants: list[Variant] = []
    votes = np.zeros(p.shape[0])
    for s in split:
        mask = int(rng.integers(0, 2 ** n)) if n else 0
        flipped = sample_counts(p[idx ^ mask][None, :], s, rng)[0]  # measured in the flipped basis
        counts = flipped[idx ^ mask]  # classically un-flipped
        qubit_map = sorted(rng.choice(device_qubits, size=n, replace=False).tolist()) if n <= device_qubits \
            else list(range(n))
        rng.shuffle(qubit_map)
        variants.append(Variant(str(uuid.UUID(bytes=rng.bytes(16), version=4)), [int(q) for q in qubit_map],
                                s, counts.astype(np.int64)))
        top = np.flatnonzero(counts == counts.max())
        votes[top] += 1.0 / len(top)
    total = np.sum([v.counts for v in variants], axis=0)
    return CircuitResult(probabilities_to_json(total / float(shots)), total.astype(np.int64),
                         probabilities_to_json(votes / k), variants)


def _model(job: ParsedJob) -> NoiseModel | None:
    return job.noise_override if job.noise_override is not None else noise_model(job.noise_model)


class SimulationCanceled(Exception):
    """The job was canceled while it simulated: its results are not wanted."""


def _never() -> bool:
    return False


def simulate(job: ParsedJob, rng: np.random.Generator,
             canceled: Callable[[], bool] = _never) -> list[CircuitResult]:
    """One result per circuit, in input order, over the job's qubit count. `canceled` is asked between chunks of
    circuits (a single circuit runs to its end): True stops the work with SimulationCanceled."""
    n = job.n_qubits
    model = _model(job)
    groups: dict[str, tuple[Template, list[int], list[np.ndarray]]] = {}
    for i, c in enumerate(job.circuits):
        if c.n_qubits != n:  # results are keyed over the job's qubits; extra qubits stay |0>
            c = type(c)(n, c.gates, c.gateset, c.name)
        t, row = Template.from_circuit(c)
        entry = groups.setdefault(t.ops_hash, (t, [], []))
        entry[1].append(i)
        entry[2].append(row)
    out: list[CircuitResult | None] = [None] * len(job.circuits)
    for t, idx, rows in groups.values():
        angles = np.array(rows).reshape(len(rows), t.n_angles)
        parts = []
        for start in range(0, len(rows), CANCEL_CHECK_ROWS):
            if canceled():
                raise SimulationCanceled
            parts.append(probabilities(t, angles[start:start + CANCEL_CHECK_ROWS]))
        probs = np.concatenate(parts)
        if model is None:
            for k, i in enumerate(idx):
                out[i] = CircuitResult(probabilities_to_json(probs[k]))
            continue
        one = np.array([job.circuits[i].counts()[0] for i in idx])
        two = np.array([len(job.circuits[i].gates) for i in idx]) - one
        exact = noisy_distribution(probs, model, one, two)
        if job.debiasing:
            device = job.device_qubits or model.n_qubits or n
            for k, i in enumerate(idx):
                out[i] = _debiased(exact[k], job.shots, max(device, n), rng)
            continue
        counts = sample_counts(exact, job.shots, rng)
        for k, i in enumerate(idx):
            out[i] = CircuitResult(probabilities_to_json(counts[k] / float(job.shots)), counts[k])
    return [r for r in out if r is not None]
