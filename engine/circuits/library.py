"""Circuits every benchmark and many tests share, defined once."""

from __future__ import annotations

import numpy as np

from .template import Template, TemplateBuilder


def ry_rz_ladder(n_qubits: int, layers: int) -> Template:
    """The issues' benchmark workload: RY(pi x_q) input encoding, then `layers` of RY and RZ on every
    qubit followed by a CNOT chain q -> q+1. Trainable slots are numbered RY, RZ per qubit, layer by layer."""
    b = TemplateBuilder(n_qubits, n_inputs=n_qubits)
    for q in range(n_qubits):
        b.gate("ry", q, angles=(b.input(q, np.pi),))
    for _ in range(layers):
        for q in range(n_qubits):
            b.gate("ry", q, angles=(b.trainable(),))
            b.gate("rz", q, angles=(b.trainable(),))
        for q in range(n_qubits - 1):
            b.gate("cnot", q + 1, controls=(q,))
    return b.build("ry_rz_ladder")
