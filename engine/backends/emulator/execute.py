"""Running a parsed job on the local simulator: circuits grouped by structure, one batched call each.

Circuits with the same gates (only the numbers differ) share a template, so a multi-circuit job of
one model structure is a single `engine.sim.probabilities` call. Noise follows IonQ: exact
probabilities for the ideal simulator, shot-sampled probabilities for noisy models and QPU targets.
"""

from __future__ import annotations

import numpy as np

from ...circuits.template import Template
from ...sim import probabilities
from ...sim.measure import probabilities_to_json
from ...sim.noise import apply_noise
from .payload import ParsedJob


def simulate(job: ParsedJob, rng: np.random.Generator) -> list[dict[str, float]]:
    """One `{"<int>": p}` distribution per circuit, in input order, over the job's qubit count."""
    n = job.n_qubits
    groups: dict[str, tuple[Template, list[int], list[np.ndarray]]] = {}
    for i, c in enumerate(job.circuits):
        if c.n_qubits != n:  # results are keyed over the job's qubits; extra qubits stay |0>
            c = type(c)(n, c.gates, c.gateset, c.name)
        t, row = Template.from_circuit(c)
        entry = groups.setdefault(t.ops_hash, (t, [], []))
        entry[1].append(i)
        entry[2].append(row)
    out: list[dict[str, float]] = [{}] * len(job.circuits)
    for t, idx, rows in groups.values():
        probs = probabilities(t, np.array(rows).reshape(len(rows), t.n_angles))
        one = np.array([job.circuits[i].counts()[0] for i in idx])
        two = np.array([len(job.circuits[i].gates) for i in idx]) - one
        probs = apply_noise(probs, job.noise_model, one, two, rng, job.shots)
        for k, i in enumerate(idx):
            out[i] = probabilities_to_json(probs[k])
    return out
