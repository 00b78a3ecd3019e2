"""The embedded batched statevector simulator."""

from .measure import expectations_z, sample_counts, sample_frequencies
from .statevector import (
    MAX_QUBITS, circuit_probabilities, circuit_state, probabilities, probabilities_async, shot_frequencies,
    shot_frequencies_async, states, unitary,
)

__all__ = [
    "MAX_QUBITS", "circuit_probabilities", "circuit_state", "expectations_z", "probabilities", "probabilities_async",
    "sample_counts", "sample_frequencies", "shot_frequencies", "shot_frequencies_async", "states", "unitary",
]
