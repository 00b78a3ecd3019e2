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


class CirqSweepBackend:
    """The peer at cirq's best: one parametrized `cirq.Circuit` per template (a sympy symbol per angle) and the
    whole batch as one `cirq.ListSweep` of resolvers through `simulate_sweep` (exact) or `run_sweep` (shots),
    instead of binding and converting circuit by circuit."""

    name = "cirq-sweep"

    def __init__(self) -> None:
        self.limits = BackendLimits(max_circuits=1_000_000, max_gates=10**9, max_bytes=2**62, max_qubits=16)
        self._circuits: dict[str, tuple[object, list[object]]] = {}

    def _parametrized(self, batch: CircuitBatch):
        import cirq
        import sympy

        t = batch.template
        key = t.structure_hash
        if key not in self._circuits:
            qubits = cirq.LineQubit.range(t.n_qubits)
            symbols = [sympy.Symbol(f"a{k}") for k in range(t.n_angles)]
            rot = {"rx": cirq.rx, "ry": cirq.ry, "rz": cirq.rz}
            fixed = {"x": cirq.X, "h": cirq.H, "y": cirq.Y, "z": cirq.Z}
            ops = []
            for op, off in zip(t.ops, t.param_offsets):
                if op.name in rot and not op.controls:
                    ops.append(rot[op.name](symbols[off]).on(qubits[op.targets[0]]))
                elif op.name in ("cnot", "not", "x") and len(op.controls) == 1:
                    ops.append(cirq.CNOT(qubits[op.controls[0]], qubits[op.targets[0]]))
                elif op.name in fixed and not op.controls:
                    ops.append(fixed[op.name].on(qubits[op.targets[0]]))
                else:
                    raise ValueError(f"CirqSweepBackend: gate {op.name!r} with {len(op.controls)} controls is not mapped")
            self._circuits[key] = (cirq.Circuit(ops), symbols)
        return self._circuits[key]

    def run_sync(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        import cirq

        t0 = time.perf_counter()
        circuit, symbols = self._parametrized(batch)
        n = batch.template.n_qubits
        qubits = cirq.LineQubit.range(n)
        angles = batch.angles()
        names = [s.name for s in symbols]
        sweep = cirq.ListSweep([cirq.ParamResolver(dict(zip(names, row.tolist()))) for row in angles])
        simulator = cirq.Simulator(dtype=np.complex128, seed=None if seed is None else seed % 2**32)
        probs = np.empty((len(batch), 2 ** n))
        counts = np.empty((len(batch), 2 ** n), dtype=np.int64) if shots else None
        if shots:
            weights = 1 << np.arange(n)
            measured = cirq.Circuit(circuit, cirq.measure(*qubits, key="m"))
            for row, res in enumerate(simulator.run_sweep(measured, sweep, repetitions=shots)):
                keys = res.measurements["m"].astype(np.int64) @ weights
                counts[row] = np.bincount(keys, minlength=2 ** n)
                probs[row] = counts[row] / shots
        else:
            for row, res in enumerate(simulator.simulate_sweep(circuit, sweep, qubit_order=qubits[::-1])):
                probs[row] = np.abs(res.final_state_vector) ** 2
        return ExecutionResult(probs, counts, shots, {"execute": time.perf_counter() - t0})

    async def run(self, batch: CircuitBatch, *, shots: int = 0, seed: int | None = None) -> ExecutionResult:
        return await asyncio.to_thread(self.run_sync, batch, shots=shots, seed=seed)

    async def close(self) -> None:
        return None
