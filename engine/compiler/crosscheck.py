"""An independent second opinion on a compile: the fidelity computed by cirq or qiskit.

`verify` uses our own simulator; this recomputes the same process fidelity with the unitaries of
the SDK named by `TrainingConfig.quantum_sdk`, so a bug shared by our simulator and our compiler
cannot hide. cirq uses cirq-ionq's native gate classes; qiskit builds each native gate from its
standard gates (sigma(phi) = RZ(phi) X RZ(-phi)), so neither reuses our matrices.
"""

from __future__ import annotations

import numpy as np

from ..circuits.ir import Circuit
from .program import permutation_index
from .verify import frame_phases

MAX_QUBITS = 10  # two dense unitaries: 2 * 16 MiB at 10 qubits


class CrossCheckError(RuntimeError):
    """The SDK is missing or the circuit is too large for a dense cross-check."""


def _cirq_unitary(c: Circuit) -> np.ndarray:
    import cirq

    from ..circuits.cirq_interop import to_cirq

    qubits = cirq.LineQubit.range(c.n_qubits)
    circuit = to_cirq(c)
    circuit += cirq.I.on_each(*qubits)  # every wire present, even unused ones
    return circuit.unitary(qubit_order=qubits[::-1], dtype=np.complex128)


def _qiskit_unitary(c: Circuit) -> np.ndarray:
    try:
        from qiskit import QuantumCircuit
        from qiskit.quantum_info import Operator
    except ImportError:
        raise CrossCheckError("quantum_sdk='qiskit' needs qiskit: pip install 'qstore-tui[qiskit]'") from None
    tau = 2 * np.pi
    qc = QuantumCircuit(c.n_qubits)
    for g in c.gates:
        t = g.targets
        if c.gateset == "native":
            if g.name in ("gpi", "gpi2"):
                qc.rz(-tau * g.params[0], t[0])
                qc.x(t[0]) if g.name == "gpi" else qc.rx(np.pi / 2, t[0])
                qc.rz(tau * g.params[0], t[0])
            elif g.name == "ms":
                qc.rz(-tau * g.params[0], t[0])
                qc.rz(-tau * g.params[1], t[1])
                qc.rxx(tau * g.params[2], t[0], t[1])
                qc.rz(tau * g.params[0], t[0])
                qc.rz(tau * g.params[1], t[1])
            else:
                qc.rzz(tau * g.params[0], t[0], t[1])
            continue
        simple = {"x": qc.x, "y": qc.y, "z": qc.z, "h": qc.h, "s": qc.s, "si": qc.sdg, "t": qc.t, "ti": qc.tdg,
                  "v": qc.sx, "vi": qc.sxdg}
        if g.name == "cnot":
            qc.mcx(list(g.controls), t[0])
        elif g.name == "swap":
            qc.swap(t[0], t[1])
        elif g.name in ("xx", "yy", "zz"):
            getattr(qc, "r" + g.name)(g.params[0], t[0], t[1])
        elif g.controls:
            sub = QuantumCircuit(1)
            if g.name in simple:
                getattr(sub, {"si": "sdg", "ti": "tdg", "v": "sx", "vi": "sxdg"}.get(g.name, g.name))(0)
            else:
                getattr(sub, g.name)(g.params[0], 0)
            qc.append(sub.to_gate().control(len(g.controls)), [*g.controls, t[0]])
        elif g.name in simple:
            simple[g.name](t[0])
        else:
            getattr(qc, g.name)(g.params[0], t[0])
    return Operator(qc).data  # qiskit is little-endian, like us


def crosscheck(source: Circuit, compiled: Circuit, *, sdk: str = "cirq", permutation: tuple[int, ...] | None = None,
               frames: np.ndarray | None = None) -> float:
    """Process fidelity |Tr(U^dagger V)| / 2**n with the SDK's own unitaries (frames and relabelling applied)."""
    if source.n_qubits > MAX_QUBITS:
        raise CrossCheckError(f"cross-check is dense: at most {MAX_QUBITS} qubits, got {source.n_qubits}")
    unitary = {"cirq": _cirq_unitary, "qiskit": _qiskit_unitary}.get(sdk)
    if unitary is None:
        raise CrossCheckError(f"quantum_sdk must be 'cirq' or 'qiskit', got {sdk!r}")
    u, v = unitary(source), unitary(compiled)
    if frames is not None:
        v = frame_phases(frames)[:, None] * v
    if permutation is not None:
        v = v[permutation_index(tuple(permutation)), :]
    return float(abs(np.trace(u.conj().T @ v)) / u.shape[0])
