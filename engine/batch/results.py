"""What a batch run gives back: per-circuit results and failures, and the whole call's BatchResult.

Arrays are in input order and little-endian: column k of a probability row is IonQ's integer key k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..sim.measure import counts_to_histogram, expectations_z

if TYPE_CHECKING:  # the compiler package loads only when a batch is compiled
    from ..cache import CircuitCacheStats
    from ..compiler import CompilerStats

@dataclass(frozen=True)
class CircuitFailure:
    """Circuit `index` (input order) did not run: the backend call of its chunk raised `error_type`."""

    index: int
    error_type: str
    message: str


@dataclass
class CircuitResult:
    """One circuit's result. `probabilities` is NaN and `counts` None when it failed."""

    index: int
    n_qubits: int
    probabilities: np.ndarray  # (2**n,) little-endian: entry k is IonQ key k
    counts: dict[str, int] | None  # IonQ-style histogram when shots were taken
    job_id: str | None = None
    failure: CircuitFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def expectations_z(self) -> np.ndarray:
        """<Z_i> for each qubit, (n,)."""
        row: np.ndarray = expectations_z(self.probabilities[None, :])[0]
        return row


@dataclass
class GroupOut:
    """The results of one structure group, rows in the group's order; `indices` maps them to input order."""

    indices: np.ndarray
    n_qubits: int
    probabilities: np.ndarray | None  # (rows, 2**n), NaN rows for failed circuits
    counts: np.ndarray | None  # (rows, 2**n) int64, -1 rows for failed circuits
    job_ids: list[str | None]
    in_order: bool = False  # rows are already in input order (a CircuitBatch input)

    def write(self, s: int, e: int, probs: np.ndarray | None, counts: np.ndarray | None, shots: int) -> None:
        """Rows [s, e) from a chunk's result, or marked failed (None). A chunk that covers the whole
        group hands over its arrays as they are: no copy, no fresh 2**n-wide allocation."""
        rows = len(self.indices)
        if probs is not None and s == 0 and e == rows:
            self.probabilities = np.asarray(probs, dtype=np.float64)
            self.counts = counts if shots else None
            return
        if self.probabilities is None:
            self.probabilities = np.empty((rows, 2 ** self.n_qubits))
            self.counts = np.empty((rows, 2 ** self.n_qubits), dtype=np.int64) if shots else None
        self.probabilities[s:e] = np.nan if probs is None else probs
        if self.counts is not None:
            self.counts[s:e] = -1 if counts is None else counts


@dataclass
class BatchResult:
    """What one `execute_batch` did. Arrays are in input order.

    `probabilities` / `counts` are dense (N, 2**n) when every circuit has the same width, else None
    (use `results`). Failed circuits: NaN probability rows, -1 count rows, listed in `failures`.
    `stage_ms` sums each stage over chunks (chunks overlap, so the sum can exceed `total_time_ms`).
    """

    n_circuits: int
    circuits_executed: int
    total_time_ms: float
    throughput_circuits_per_sec: float
    shots: int
    target: str
    gateset: str  # what ran: "qis" or "native"
    chunks: int
    api_calls: int
    stage_ms: dict[str, float]
    probabilities: np.ndarray | None
    counts: np.ndarray | None
    failures: list[CircuitFailure]
    job_ids: list[str]
    cache_stats: CircuitCacheStats | None  # what this batch did to the cache; None with caching off
    compiler_stats: list[CompilerStats]  # of each compiled template this batch ran (empty for qis)
    groups: list[GroupOut] = field(repr=False, default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def circuits_failed(self) -> int:
        return len(self.failures)

    @cached_property
    def results(self) -> list[CircuitResult]:
        """One CircuitResult per circuit, in input order."""
        failed = {f.index: f for f in self.failures}
        out: dict[int, CircuitResult] = {}
        for g in self.groups:
            probs = g.probabilities
            assert probs is not None  # every row is written, or marked failed, before a BatchResult exists
            for row, index in enumerate(g.indices.tolist()):
                hist = None
                if g.counts is not None and index not in failed:
                    hist = counts_to_histogram(g.counts[row])
                out[index] = CircuitResult(index, g.n_qubits, probs[row], hist, g.job_ids[row], failed.get(index))
        return [out[i] for i in range(self.n_circuits)]

    def expectations_z(self) -> np.ndarray:
        """<Z_i> per circuit and qubit, (N, n); NaN rows for failed circuits."""
        if self.probabilities is None:
            raise ValueError("circuits of different widths have no dense result: use results[i].expectations_z()")
        return expectations_z(self.probabilities)
