"""The embedded local simulator as a Backend: exact probabilities, or seeded shots."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from ..circuits.template import CircuitBatch
from ..sim import MAX_QUBITS, probabilities, probabilities_async, sample_counts
from ..sim.statevector import warm_up_in_background
from .base import BackendLimits, ExecutionResult


class LocalSimulatorBackend:
    """Runs a whole batch in one vectorized call, on worker threads so the event loop never stalls."""

    name = "local"

    def __init__(self, seed: int | None = None, max_qubits: int = MAX_QUBITS):
        self.limits = BackendLimits(max_circuits=1_000_000, max_gates=10**9, max_bytes=2**62, max_qubits=max_qubits)
        self._rng = np.random.default_rng(seed)
        warm_up_in_background()

    def _check(self, batch: CircuitBatch) -> None:
        if batch.template.n_qubits > self.limits.max_qubits:
            raise ValueError(f"{batch.template.n_qubits} qubits exceeds the local simulator's {self.limits.max_qubits}")

    def _sample(self, probs: np.ndarray, shots: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed) if seed is not None else self._rng
        counts = sample_counts(probs, shots, rng)
        return counts / float(shots), counts

    def run_sync(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        """The same as `run`, for callers without an event loop."""
        self._check(batch)
        t0 = time.perf_counter()
        probs = probabilities(batch.template, batch.angles())
        t1 = time.perf_counter()
        counts = None
        if shots:
            probs, counts = self._sample(probs, shots, seed)
        return ExecutionResult(probs, counts, shots, {"execute": t1 - t0, "post_process": time.perf_counter() - t1})

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        """Simulation and sampling run on worker threads; the event loop only awaits them."""
        self._check(batch)
        t0 = time.perf_counter()
        probs = await probabilities_async(batch.template, batch.angles())
        t1 = time.perf_counter()
        counts = None
        if shots:
            probs, counts = await asyncio.to_thread(self._sample, probs, shots, seed)
        return ExecutionResult(probs, counts, shots, {"execute": t1 - t0, "post_process": time.perf_counter() - t1})

    async def close(self) -> None:
        return None
