"""Verification: a compiled circuit against its source, with our own simulator.

The compiled circuit drops its residual Z frames before measurement and may have relabelled qubits
(compiled-away SWAPs). Both are put back here, so the number is the process fidelity
|Tr(U^dagger V)| / 2**n of the full operation, and 1 means equal up to global phase. The trace is
summed over blocks of basis columns (the simulator's `states` from basis inputs, as in
`engine.sim.unitary`), so 12 qubits need megabytes, not the gigabyte of two full unitaries.
"""

from __future__ import annotations

import numpy as np

from ..circuits.ir import Circuit
from ..circuits.template import Template
from ..sim import states
from .program import permutation_index


BLOCK_AMPLITUDES = 2 ** 20


def frame_phases(frames: np.ndarray) -> np.ndarray:
    """The diagonal (2**n,) of RZ(2 pi frames[w]) on every wire w, little-endian."""
    frames = np.asarray(frames, dtype=np.float64)
    idx = np.arange(2 ** frames.shape[0])
    angle = np.zeros(idx.shape[0])
    for w, f in enumerate(frames):
        bit = (idx >> w) & 1
        angle += (2 * bit - 1) * np.pi * f
    return np.exp(1j * angle)


def verify(source: Circuit, compiled: Circuit, permutation: tuple[int, ...] | None = None,
           frames: np.ndarray | None = None) -> float:
    """Process fidelity |Tr(U^dagger V)| / 2**n, V = compiled, then its dropped frames, then the relabelling undone."""
    if compiled.n_qubits != source.n_qubits:
        raise ValueError(f"compiled circuit has {compiled.n_qubits} qubits, the source {source.n_qubits}")
    dim = 2 ** source.n_qubits
    phases = frame_phases(frames) if frames is not None else None
    index = permutation_index(tuple(permutation)) if permutation is not None else None
    su, row_u = Template.from_circuit(source)
    sv, row_v = Template.from_circuit(compiled)
    block = max(1, min(dim, BLOCK_AMPLITUDES // dim))
    trace = 0j
    for start in range(0, dim, block):
        k = min(block, dim - start)
        basis = np.zeros((k, dim), dtype=np.complex128)
        basis[np.arange(k), start + np.arange(k)] = 1.0
        u = states(su, np.repeat(row_u[None, :], basis.shape[0], axis=0), initial=basis)
        v = states(sv, np.repeat(row_v[None, :], basis.shape[0], axis=0), initial=basis)
        if phases is not None:
            v = v * phases
        if index is not None:
            v = v[:, index]
        trace += np.vdot(u, v)
    return float(abs(trace) / dim)
