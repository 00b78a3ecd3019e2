"""BatchRunner: the trainer's door to its executor. Runs a step's batches, refuses failed or non-finite rows
(never silently skipped), and counts circuits, batches, shots and time for the trainer's statistics."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .circuits.template import CircuitBatch
from .sim.measure import expectations_z
from .training_results import LimitReached, TrainingError

if TYPE_CHECKING:
    from .batch import BatchResult, PerformanceStats
    from .batch.results import CircuitFailure

__all__ = ["BatchRunner", "Executor"]


class Executor(Protocol):
    """What the trainer runs batches through: a CircuitBatchManager (see engine.parts.build_manager), or a
    wrapper around one."""

    async def execute_batch(self, batch: CircuitBatch | Sequence[CircuitBatch], *, shots: int, seed: int,
                            purpose: str) -> BatchResult: ...

    def get_performance_stats(self) -> PerformanceStats: ...


_SESSION_LIMITS = (("job_count_limit", "ionq_session_max_jobs"), ("cost_limit", "max_cost_usd"),
                   ("duration_limit", "ionq_session_max_minutes"), ("has ended", "ionq_session_max_minutes"))


def session_limit_field(failure: CircuitFailure) -> str | None:
    """The config field behind an IonQ session's refusal of a job (its job count, cost or duration limit), None
    for any other failure: such a refusal is a limit the run set, so it stops with a checkpoint, not a failure."""
    if failure.error_type != "IonQBadRequestError" or "session" not in failure.message:
        return None
    return next((field for mark, field in _SESSION_LIMITS if mark in failure.message), None)


class BatchRunner:
    """Runs batches through `executor` with `shots_of()` shots per circuit (read at each call, as the config may
    change between runs); `step_of()` names the step in errors."""

    def __init__(self, executor: Executor, shots_of: Callable[[], int], step_of: Callable[[], int]):
        self.executor = executor
        self._shots_of = shots_of
        self._step_of = step_of
        self.circuits = 0
        self.batches = 0
        self.batch_s = 0.0
        self.shots_spent = 0  # by every batch, validation included

    def count(self, rows: int, seconds: float, *, shots: int = 0) -> None:
        """Account for one batch of `rows` circuits (also for passes that bypass the executor, as adjoint)."""
        self.batch_s += seconds
        self.batches += 1
        self.circuits += rows
        self.shots_spent += shots

    async def expectations(self, batch: CircuitBatch, purpose: str, seed: int) -> np.ndarray:
        """<Z> (B, n) for every row; failed circuits are an error, never silently skipped."""
        return expectations_z(await self.probabilities(batch, purpose, seed))

    async def probabilities(self, batch: CircuitBatch | Sequence[CircuitBatch], purpose: str, seed: int) -> np.ndarray:
        """Outcome probabilities (B, 2^n) of every row; several batches (structures) run as one call, rows in
        list order. Failed circuits are an error, never silently skipped."""
        t0 = time.perf_counter()
        shots = self._shots_of()
        result = await self.executor.execute_batch(batch, shots=shots, seed=seed, purpose=purpose)
        n_rows = len(batch) if isinstance(batch, CircuitBatch) else sum(len(b) for b in batch)
        self.count(n_rows, time.perf_counter() - t0, shots=n_rows * shots)
        if result.probabilities is None:  # a CircuitBatch is one structure: always dense
            raise TrainingError(f"step {self._step_of()}: the {purpose} batch has no dense result")
        probs = np.asarray(result.probabilities)
        failures = result.failures
        bad = ~np.isfinite(probs).all(axis=1)
        if failures or bad.any():
            capped = [f for f in failures if f.error_type == "IonQSpendCapError"]
            if capped:  # not submitted, for the cap: the trainer stops with a checkpoint instead of failing
                f = capped[0]
                raise LimitReached(f"spend cap: step {self._step_of()}: {len(capped)} of {n_rows} {purpose} circuits "
                                   f"not submitted (circuit {f.index}: {f.message})")
            for f in failures:
                field = session_limit_field(f)
                if field is not None:
                    raise LimitReached(f"{field}: IonQ's session refused the step {self._step_of()} {purpose} job "
                                       f"({f.message}); raise {field} and resume the run")
            if failures:
                f = failures[0]
                detail = f"circuit {f.index}: {f.error_type}: {f.message}"
            else:
                detail = f"circuit {int(np.argmax(bad))}: no result"
            n_bad = len(failures) if failures else int(bad.sum())
            raise TrainingError(
                f"step {self._step_of()}: {n_bad} of {n_rows} {purpose} circuits failed (first: {detail})"
            )
        return probs
