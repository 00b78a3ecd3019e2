"""Circuits: the IR, IonQ JSON, parametrized templates and batches, cirq interop (lazy)."""

from .errors import CircuitError
from .ionq_json import circuit_to_json, parse_circuit
from .ir import Circuit, Gate
from .template import Angle, CircuitBatch, Op, Template, TemplateBuilder

__all__ = [
    "Angle", "Circuit", "CircuitBatch", "CircuitError", "Gate", "Op", "Template", "TemplateBuilder",
    "circuit_to_json", "parse_circuit",
]
