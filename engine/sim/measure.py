"""Measurement: <Z_i> from probabilities and seeded shot sampling."""

from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np

DIRECT_MAX_OUTCOMES = 256  # rows up to this wide sample from direct_kernels' slot table (a byte names a slot's outcome)
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


def shot_states(rng: np.random.Generator, rows: int) -> np.ndarray:
    """One xoshiro256+ state (4 uint64) per row, drawn from `rng`: a row's shots depend on its state only."""
    states = rng.bit_generator.random_raw(rows * 4).reshape(rows, 4)  # raw words: ~3x faster than integers()
    states[:, 0] |= np.uint64(1)  # no stream starts from the all-zero state, xoshiro's fixed point
    return states


def sample_rows_into(p: np.ndarray, shots: int, states: np.ndarray, counts: np.ndarray, frequencies: bool,
                     first_row: int = 0) -> None:
    """counts[r] = a multinomial(shots, p[r] / sum) draw from states[r], on this thread; with `frequencies`,
    p[r] is overwritten by counts[r] / shots. Raises ValueError naming row first_row + r for a row that
    is not finite or does not sum to a positive number."""
    size = p.shape[1]
    n_qubits = n_qubits_of(p)
    if shots > max(MULTINOMIAL_MIN_SHOTS, 256 * size):
        _multinomial_rows(p, shots, states, counts, frequencies, first_row)
        return
    if 2 <= size <= DIRECT_MAX_OUTCOMES:
        from .direct_kernels import sample_rows as sample_direct

        bad = int(sample_direct(p, int(shots), states, counts, frequencies))
    else:
        from .alias_kernels import sample_rows

        w, light, heavy, table = (np.empty(size + 1, dtype=np.uint64) for _ in range(4))
        bad = int(sample_rows(p, int(shots), n_qubits, states, counts, w, light, heavy, table, frequencies))
    if bad >= 0:
        raise ValueError(f"probabilities row {first_row + bad} is not finite or does not sum to a positive number")


MAX_SHOTS = 2**40  # counts and draws stay in int64 with room to spare; IonQ allows far fewer
# Past this many shots a row's counts are drawn as one multinomial (a binomial an outcome, O(outcomes)), not shot
# by shot: 2**40 shots took ~14 minutes a circuit at a nanosecond a shot.
MULTINOMIAL_MIN_SHOTS = 2**22


def _multinomial_rows(p: np.ndarray, shots: int, states: np.ndarray, counts: np.ndarray, frequencies: bool,
                      first_row: int) -> None:
    """counts[r] ~ multinomial(shots, max(p[r], 0) / sum) by numpy's conditional binomials, seeded by states[r]
    (so a row's draw depends on its own state, as in the compiled samplers)."""
    for r in range(p.shape[0]):
        row = np.maximum(p[r], 0.0)
        total = float(row.sum())
        if not (np.isfinite(row).all() and 0.0 < total < np.inf):
            raise ValueError(f"probabilities row {first_row + r} is not finite or does not sum to a positive number")
        counts[r] = np.random.default_rng([int(w) for w in states[r]]).multinomial(shots, row / total)
        if frequencies:
            p[r] = counts[r] / shots


def check_shots(shots: int) -> None:
    """A whole number of shots, 1 to MAX_SHOTS: 2.7 is not truncated to 2, nor True read as 1."""
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral):
        raise TypeError(f"shots must be a whole number, got {shots!r}")
    if not 1 <= shots <= MAX_SHOTS:
        raise ValueError(f"shots must be between 1 and {MAX_SHOTS:,}, got {shots}")


def sample_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial counts (B, 2**n) int64, one row per circuit; rows sum to `shots`.

    Compiled, per row a table of the row's integer weights, then table loads a shot: the distribution drawn
    is the weights' exactly, seeded from `rng` (one xoshiro256+ stream per row). Rows of up to 256 outcomes
    use a direct table of 4,096 slots (direct_kernels: five shots a random number, one load each, ~3% of
    them placed among the remainders; weights within 2**-39 of p / total); wider rows Walker's alias method
    (alias_kernels: one number, one load and a select a shot; weights p / total to float64 rounding).
    Negative entries count as zero; each row is normalized.
    """
    return _sample(probs, shots, rng, frequencies=False)[1]


def sample_frequencies(probs: np.ndarray, shots: int, rng: np.random.Generator, *,
                       overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(counts / shots, counts) for `sample_counts(probs, shots, rng)`, the same draws; the frequencies
    are written by the sampler row by row, not by a second pass over the batch. With `overwrite`, a C-contiguous
    float64 `probs` the caller no longer needs becomes the frequencies (no copy)."""
    return _sample(probs, shots, rng, frequencies=True, overwrite=overwrite)


def _sample(probs: np.ndarray, shots: int, rng: np.random.Generator, frequencies: bool,
            overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    check_shots(shots)
    if frequencies and not overwrite:
        p = np.array(probs, dtype=np.float64, order="C")  # overwritten by the frequencies
    else:
        p = np.ascontiguousarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (circuits, outcomes), got shape {p.shape}")
    from .statevector import _run_jobs, _workers

    b, size = p.shape
    n_qubits_of(p)  # a bad width is refused before anything is drawn from rng
    states = shot_states(rng, b)
    counts = np.empty((b, size), dtype=np.int64)  # every row written by the kernel

    workers = _workers() if b > 1 and b * (shots + size) >= PARALLEL_MIN_DRAWS else 1
    step = max(1, -(-b // workers))  # no rows: one empty part

    def run(s: int) -> None:  # rows are independent streams: splitting them changes nothing but the wall time
        rows = slice(s, min(b, s + step))
        sample_rows_into(p[rows], shots, states[rows], counts[rows], frequencies, s)

    _run_jobs(run, range(0, b, step))  # every part done before the first error (lowest rows first) is raised
    return p, counts


def counts_to_histogram(counts_row: np.ndarray) -> dict[str, int]:
    """One row of counts as an IonQ-style histogram: decimal little-endian keys, zeros omitted."""
    nz = np.flatnonzero(counts_row)
    return {str(int(k)): int(counts_row[k]) for k in nz}


def probabilities_to_json(probs_row: np.ndarray, tol: float = 0.0) -> dict[str, float]:
    """One row of probabilities as IonQ's v1 result: `{"<int>": p}` with zero entries omitted."""
    nz = np.flatnonzero(probs_row > tol)
    return {str(int(k)): float(probs_row[k]) for k in nz}
