"""The per-circuit peer for bench/train.py: a Backend that runs every circuit of a batch on its own
with `cirq.Simulator`, the way a cirq-based trainer executes one circuit per sample and evaluation.

Each row is bound to a concrete circuit, converted to a `cirq.Circuit` (engine.circuits.cirq_interop)
and simulated: `simulate` for exact probabilities (shots = 0), or `run` with a measurement of every
qubit and `repetitions = shots`. Results follow our little-endian convention (qubit i is bit 2**i).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from engine.backends.base import BackendLimits, ExecutionResult
from engine.circuits.template import CircuitBatch


class CirqSimulatorBackend:
    name = "cirq"

    def __init__(self) -> None:
        self.limits = BackendLimits(max_circuits=1_000_000, max_gates=10**9, max_bytes=2**62, max_qubits=16)

    def run_sync(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        import cirq

        from engine.circuits.cirq_interop import to_cirq

        t0 = time.perf_counter()
        n = batch.template.n_qubits
        qubits = cirq.LineQubit.range(n)
        simulator = cirq.Simulator(dtype=np.complex128, seed=None if seed is None else seed % 2**32)
        probs = np.empty((len(batch), 2 ** n))
        counts = np.empty((len(batch), 2 ** n), dtype=np.int64) if shots else None
        weights = 1 << np.arange(n)
        for row, circuit in enumerate(batch.template.bind(batch.params, batch.inputs)):
            c = to_cirq(circuit)
            if shots:
                measured = simulator.run(c + cirq.measure(*qubits, key="m"), repetitions=shots)
                keys = measured.measurements["m"].astype(np.int64) @ weights  # column i is qubit i
                counts[row] = np.bincount(keys, minlength=2 ** n)
                probs[row] = counts[row] / shots
            else:
                # qubit n-1 first: cirq's first qubit is the most significant bit
                state = simulator.simulate(c, qubit_order=qubits[::-1]).final_state_vector
                probs[row] = np.abs(state) ** 2
        return ExecutionResult(probs, counts, shots, {"execute": time.perf_counter() - t0})

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        return await asyncio.to_thread(self.run_sync, batch, shots=shots, seed=seed)

    async def close(self) -> None:
        return None
