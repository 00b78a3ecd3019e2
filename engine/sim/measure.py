"""Measurement: <Z_i> from probabilities and seeded shot sampling."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def z_signs(n_qubits: int) -> np.ndarray:
    """(2**n, n): +1 where qubit i is 0 in basis state k, -1 where it is 1 (little-endian)."""
    idx = np.arange(2 ** n_qubits)[:, None]
    bits = (idx >> np.arange(n_qubits)[None, :]) & 1
    out = 1.0 - 2.0 * bits
    out.flags.writeable = False
    return out


def n_qubits_of(probs: np.ndarray) -> int:
    size = probs.shape[-1]
    n = size.bit_length() - 1
    if 2 ** n != size:
        raise ValueError(f"probability rows have {size} entries, not a power of two")
    return n


def expectations_z(probs: np.ndarray) -> np.ndarray:
    """<Z_i> for every qubit: (B, n)."""
    return probs @ z_signs(n_qubits_of(probs))


def sample_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial counts (B, 2**n) int64, one row per circuit; rows sum to `shots`."""
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    p = p / p.sum(axis=-1, keepdims=True)
    return rng.multinomial(shots, p).astype(np.int64)


def counts_to_histogram(counts_row: np.ndarray) -> dict[str, int]:
    """One row of counts as an IonQ-style histogram: decimal little-endian keys, zeros omitted."""
    nz = np.flatnonzero(counts_row)
    return {str(int(k)): int(counts_row[k]) for k in nz}


def probabilities_to_json(probs_row: np.ndarray, tol: float = 0.0) -> dict[str, float]:
    """One row of probabilities as IonQ's v1 result: `{"<int>": p}` with zero entries omitted."""
    nz = np.flatnonzero(probs_row > tol)
    return {str(int(k)): float(probs_row[k]) for k in nz}
