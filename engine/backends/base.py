"""The Backend protocol: execute one CircuitBatch (one structure, B rows) and return arrays.

Every backend (the local simulator, IonQ over HTTP, the emulator through the IonQ client)
returns results in input order as dense little-endian arrays: column k of `probabilities`
is IonQ's integer key k (qubit i is bit 2**i).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..circuits.template import CircuitBatch


@dataclass(frozen=True)
class BackendLimits:
    """What one call to `run` may carry (IonQ's multi-circuit job limits by default)."""

    max_circuits: int = 5000
    max_gates: int = 150_000
    max_bytes: int = 10_000_000
    max_qubits: int = 16


@dataclass
class ExecutionResult:
    probabilities: np.ndarray  # (B, 2**n): exact, or counts / shots
    counts: np.ndarray | None  # (B, 2**n) int64 when shots were taken, else None
    shots: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds: submit, queue, execute, post_process
    job_ids: list[str] = field(default_factory=list)

    def expectations_z(self) -> np.ndarray:
        """<Z_i> for every qubit, (B, n), from the probabilities."""
        from ..sim.measure import expectations_z

        return expectations_z(self.probabilities)


@runtime_checkable
class Backend(Protocol):
    name: str
    limits: BackendLimits

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        """Execute every row of the batch; shots=0 asks for exact probabilities where possible."""
        ...

    async def close(self) -> None: ...
