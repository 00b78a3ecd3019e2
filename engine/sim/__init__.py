"""The embedded batched statevector simulator."""

from .measure import expectations_z, sample_counts
from .statevector import (
    MAX_QUBITS, circuit_probabilities, circuit_state, probabilities, probabilities_async, states, unitary,
)

__all__ = [
    "MAX_QUBITS", "circuit_probabilities", "circuit_state", "expectations_z", "probabilities", "probabilities_async",
    "sample_counts",
    "states", "unitary",
]
