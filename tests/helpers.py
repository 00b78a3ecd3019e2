"""Test helpers: the model template and a cirq reference state in our (little-endian) basis."""

from __future__ import annotations

import numpy as np

from engine.circuits import Circuit
from engine.circuits.library import ry_rz_ladder


model_template = ry_rz_ladder  # the issues' benchmark workload


def cirq_state(c: Circuit) -> np.ndarray:
    """cirq's final state, re-ordered to our little-endian basis (qubit i is bit 2**i)."""
    import cirq

    from engine.circuits.cirq_interop import to_cirq

    qubits = cirq.LineQubit.range(c.n_qubits)
    # qubit_order reversed: cirq's first qubit is the most significant bit, so put qubit n-1 first.
    return cirq.final_state_vector(to_cirq(c), qubit_order=qubits[::-1], dtype=np.complex128)


def equal_up_to_phase(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - e^{i phi} b| after aligning the global phase on the largest entry."""
    k = int(np.argmax(np.abs(b)))
    phase = a[k] / b[k] if abs(b[k]) > 1e-12 else 1.0
    phase /= abs(phase)
    return float(np.max(np.abs(a - phase * b)))


def local_trainer(cfg, backend=None, *, bus=None, **kw):
    """A QuantumTrainer over the local simulator (or `backend`), its batch manager built as the session builds it."""
    from engine.backends.local import LocalSimulatorBackend
    from engine.parts import build_manager
    from engine.trainer import QuantumTrainer

    manager = build_manager(cfg, backend if backend is not None else LocalSimulatorBackend(), bus=bus)
    return QuantumTrainer(cfg, manager, bus=bus, **kw)
