"""Measurement: <Z_i> from probabilities and seeded shot sampling."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PARALLEL_MIN_DRAWS = 50_000  # below this, handing rows to a second thread costs more than it saves


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
    """Multinomial counts (B, 2**n) int64, one row per circuit; rows sum to `shots`.

    Walker's alias method in compiled code (alias_kernels.sample_rows): per row an integer table of
    2**n equal buckets that each hold at most two outcomes, built in O(2**n), then one 64-bit
    xoshiro256+ number and one table load a shot, so the distribution is the row's to float64
    rounding; seeded from `rng` (one stream per row). Negative entries count as zero; each row is
    normalized.
    """
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    p = np.ascontiguousarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (circuits, outcomes), got shape {p.shape}")
    from .alias_kernels import sample_rows
    from .statevector import _pool_for, _workers

    b, size = p.shape
    n = n_qubits_of(p)
    states = rng.integers(0, 2**64, size=(b, 4), dtype=np.uint64)
    states[:, 0] |= np.uint64(1)  # no stream starts from the all-zero state, xoshiro's fixed point
    counts = np.empty((b, size), dtype=np.int64)  # every row written by the kernel

    def run(rows: slice) -> int:
        scratch = [np.empty(size + 1, dtype=np.uint64) for _ in range(4)]  # weights, light, heavy, table
        bad = int(sample_rows(p[rows], int(shots), n, states[rows], counts[rows], *scratch))
        return bad if bad < 0 else bad + (rows.start or 0)

    workers = _workers() if b > 1 and b * (shots + size) >= PARALLEL_MIN_DRAWS else 1
    step = -(-b // workers)
    parts = [slice(s, min(b, s + step)) for s in range(0, b, step)]
    if len(parts) == 1:
        results = [run(parts[0])]
    else:  # rows are independent streams: splitting them changes nothing but the wall time
        results = [f.result() for f in [_pool_for(workers).submit(run, part) for part in parts]]
    bad = [r for r in results if r >= 0]
    if bad:
        raise ValueError(f"probabilities row {bad[0]} is not finite or does not sum to a positive number")
    return counts


def counts_to_histogram(counts_row: np.ndarray) -> dict[str, int]:
    """One row of counts as an IonQ-style histogram: decimal little-endian keys, zeros omitted."""
    nz = np.flatnonzero(counts_row)
    return {str(int(k)): int(counts_row[k]) for k in nz}


def probabilities_to_json(probs_row: np.ndarray, tol: float = 0.0) -> dict[str, float]:
    """One row of probabilities as IonQ's v1 result: `{"<int>": p}` with zero entries omitted."""
    nz = np.flatnonzero(probs_row > tol)
    return {str(int(k)): float(probs_row[k]) for k in nz}
