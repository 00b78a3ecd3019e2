"""Before any circuit runs: the model's native compile, cross-checked with another SDK.

Our own verification uses our simulator; this second opinion uses cirq's or qiskit's gate definitions
(`quantum_sdk`). A compile that fails it stops the run: a wrong circuit must never reach hardware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .config import TrainingConfig
from .events import Log, _Event

if TYPE_CHECKING:
    from .model import QuantumModel


async def crosscheck_native_compile(config: TrainingConfig, model: QuantumModel,
                                    emit: Callable[[_Event], object]) -> None:
    """Compile the model's circuit (at its current parameters) and compare it with the SDK; CompilationError if
    they differ. Models wider than the dense check's limit are skipped, and a Log event says so."""
    from .compiler import NativeGateCompiler
    from .compiler.crosscheck import MAX_QUBITS, crosscheck
    from .compiler.errors import CompilationError

    cfg = config
    if model.n_qubits > MAX_QUBITS:
        emit(Log(level="info", message=f"{cfg.quantum_sdk} cross-check skipped: dense check stops at "
                                       f"{MAX_QUBITS} qubits, the model has {model.n_qubits}"))
        return

    def check() -> float:
        theta = model.split()[0]
        (source,) = model.template.bind(theta[None, :], np.full((1, model.template.n_inputs), 0.5))
        res = NativeGateCompiler(cfg.native_target, optimize=cfg.enable_circuit_compression).compile(source)
        return crosscheck(source, res.circuit, sdk=cfg.quantum_sdk, permutation=res.permutation, frames=res.frames)

    fidelity = await asyncio.to_thread(check)
    if fidelity < 1 - 1e-9:
        raise CompilationError(f"the {cfg.native_target} native compile of the model failed the "
                               f"{cfg.quantum_sdk} cross-check: fidelity {fidelity:.12f}")
    emit(Log(level="info", message=f"native compile ({cfg.native_target}) of the model checked with "
                                   f"{cfg.quantum_sdk}: fidelity {fidelity:.12f}"))
