"""Noise models for the emulator: global depolarizing plus readout bit flips, from published fidelities.

A circuit with n1 one-qubit and n2 two-qubit gates keeps the ideal distribution with probability
lambda = f1q**n1 * f2q**n2 and is otherwise uniformly mixed; then every qubit's readout flips with
probability 1 - spam. This is a coarse approximation (no coherent errors, no crosstalk), good enough
to see a training run degrade the way it does on hardware. Like IonQ's noisy simulators, noisy
models return probabilities estimated from `shots` samples; `ideal` returns exact probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .measure import n_qubits_of, sample_counts


@dataclass(frozen=True)
class NoiseModel:
    name: str
    f1q: float  # one-qubit gate fidelity
    f2q: float  # two-qubit gate fidelity
    spam: float  # state preparation and measurement fidelity, per qubit
    source: str  # where the numbers come from


NOISE_MODELS: dict[str, NoiseModel] = {
    "aria-1": NoiseModel("aria-1", 0.9995, 0.996, 0.9961,
                         "IonQ-published Aria averages: 1q 99.95%, 2q 99.6%, SPAM 99.61% (API_NOTES 2.2)"),
    # No verified Forte figures in our sources: these are Aria's values, standing in until a live
    # characterization is read from GET /backends/qpu.forte-1/characterizations.
    "forte-1": NoiseModel("forte-1", 0.9995, 0.996, 0.9961, "PLACEHOLDER: Aria's published values"),
}
MODEL_NAMES: tuple[str, ...] = ("ideal", *NOISE_MODELS)


def noise_model(name: str) -> NoiseModel | None:
    """The model called `name` (None for "ideal"); a clear error for anything else."""
    if name == "ideal":
        return None
    try:
        return NOISE_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown noise model {name!r}; expected one of {', '.join(MODEL_NAMES)}") from None


def noisy_distribution(probs: np.ndarray, model: NoiseModel, n_1q: np.ndarray, n_2q: np.ndarray) -> np.ndarray:
    """The exact distribution (B, 2**n) under the model: depolarized, then readout bit flips."""
    probs = np.asarray(probs, dtype=np.float64)
    n = n_qubits_of(probs)
    lam = model.f1q ** np.asarray(n_1q, dtype=np.float64) * model.f2q ** np.asarray(n_2q, dtype=np.float64)
    out = lam[:, None] * probs + (1.0 - lam)[:, None] / probs.shape[1]
    e = 1.0 - model.spam
    # Little-endian index k: in C order the axes of shape (B, 2, ..., 2) are bits n-1 .. 0.
    cube = out.reshape((probs.shape[0],) + (2,) * n)
    for axis in range(1, n + 1):
        cube = (1.0 - e) * cube + e * np.flip(cube, axis=axis)
    return cube.reshape(probs.shape)


def apply_noise(probs: np.ndarray, model: str, n_1q: np.ndarray, n_2q: np.ndarray,
                rng: np.random.Generator, shots: int) -> np.ndarray:
    """What IonQ's simulator returns for `model`: exact probabilities for "ideal", else counts / shots."""
    m = noise_model(model)
    if m is None:
        return np.asarray(probs, dtype=np.float64)
    counts = sample_counts(noisy_distribution(probs, m, n_1q, n_2q), shots, rng)
    return counts / float(shots)
