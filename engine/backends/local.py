"""The embedded local simulator as a Backend: exact probabilities, or seeded shots.

With a `noise` model (engine.sim.noise, e.g. built from today's characterization of a QPU) every result is
the noisy distribution sampled with the run's shots, as IonQ's noisy simulators return: a researcher can
pre-train against a QPU's live figures before paying for it. A noisy run needs shots (exact noisy
probabilities would be something no device gives).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from ..circuits.template import CircuitBatch
from ..sim import (
    MAX_QUBITS, probabilities, probabilities_async, sample_frequencies, shot_frequencies, shot_frequencies_async,
)
from ..sim.noise import NoiseModel, noisy_distribution
from ..sim.statevector import warm_up_in_background
from .base import BackendLimits, ExecutionResult


class LocalSimulatorBackend:
    """Runs a whole batch in one vectorized call, on worker threads so the event loop never stalls."""

    name = "local"

    def __init__(self, seed: int | None = None, max_qubits: int = MAX_QUBITS, noise: NoiseModel | None = None):
        self.limits = BackendLimits(max_circuits=1_000_000, max_gates=10**9, max_bytes=2**62, max_qubits=max_qubits)
        self._rng = np.random.default_rng(seed)
        self.noise = noise
        if noise is not None:
            self.name = f"local[{noise.name}]"
        warm_up_in_background()

    def _check(self, batch: CircuitBatch, shots: int) -> None:
        if batch.template.n_qubits > self.limits.max_qubits:
            raise ValueError(f"{batch.template.n_qubits} qubits exceeds the local simulator's {self.limits.max_qubits}")
        if self.noise is not None and not shots:
            raise ValueError(f"the noise model {self.noise.name!r} needs shots: shots_per_circuit must be > 0")

    def _noisy(self, probs: np.ndarray, batch: CircuitBatch) -> np.ndarray:
        if self.noise is None:
            return probs
        n2 = sum(1 for op in batch.template.ops if len(op.qubits) >= 2)
        n1 = len(batch.template.ops) - n2
        rows = probs.shape[0]
        return noisy_distribution(probs, self.noise, np.full(rows, n1), np.full(rows, n2))

    def _rng_for(self, seed: int | None) -> np.random.Generator:
        return np.random.default_rng(seed) if seed is not None else self._rng

    def _sample(self, probs: np.ndarray, shots: int, seed: int | None,
                batch: CircuitBatch) -> tuple[np.ndarray, np.ndarray]:
        # the noisy distribution is this call's own array: it becomes the frequencies
        return sample_frequencies(self._noisy(probs, batch), shots, self._rng_for(seed), overwrite=True)

    def run_sync(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        """The same as `run`, for callers without an event loop."""
        self._check(batch, shots)
        t0 = time.perf_counter()
        counts = None
        if shots and self.noise is None:  # sampled by the chunk jobs that simulate
            probs, counts = shot_frequencies(batch.template, batch.angles(), shots, self._rng_for(seed))
        else:
            probs = probabilities(batch.template, batch.angles())
        t1 = time.perf_counter()
        if shots and counts is None:
            probs, counts = self._sample(probs, shots, seed, batch)
        return ExecutionResult(probs, counts, shots, {"execute": t1 - t0, "post_process": time.perf_counter() - t1})

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        """Simulation and sampling run on worker threads; the event loop only awaits them."""
        self._check(batch, shots)
        t0 = time.perf_counter()
        counts = None
        if shots and self.noise is None:  # sampled by the chunk jobs that simulate
            probs, counts = await shot_frequencies_async(batch.template, batch.angles(), shots, self._rng_for(seed))
        else:
            probs = await probabilities_async(batch.template, batch.angles())
        t1 = time.perf_counter()
        if shots and counts is None:
            probs, counts = await asyncio.to_thread(self._sample, probs, shots, seed, batch)
        return ExecutionResult(probs, counts, shots, {"execute": t1 - t0, "post_process": time.perf_counter() - t1})

    async def close(self) -> None:
        return None
