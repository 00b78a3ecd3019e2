"""Before any circuit runs: the model's native compile, cross-checked with another SDK.

Our own verification uses our simulator; this second opinion uses cirq's or qiskit's gate definitions
(`quantum_sdk`). A compile that fails it stops the run: a wrong circuit must never reach hardware.

cirq's first import takes seconds (~3.6 s here), so the session begins it as a run starts (`prefetch_sdk`), beside
the build, and the check runs on a daemon thread: a run stopped or an app quit while it runs ends at once instead
of waiting for the import (asyncio's default executor is joined at exit). The app does not import it when it
opens: on its own thread the import still holds the GIL, and key presses in those seconds took ~0.4 s longer.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable
from functools import partial
from threading import Lock, Thread
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from .config import TrainingConfig
from .events import Log, _Event

if TYPE_CHECKING:
    from .model import QuantumModel

T = TypeVar("T")
SDK_MODULES = {"cirq": "cirq", "qiskit": "qiskit.quantum_info"}  # what the cross-check imports, by quantum_sdk
_prefetching: set[str] = set()
_prefetch_lock = Lock()


def prefetch_sdk(sdk: str) -> None:
    """Import the cross-check's SDK on a daemon thread, once per process; a missing SDK is left for the check to
    name. Cheap to call again."""
    module = SDK_MODULES.get(sdk)
    with _prefetch_lock:
        if module is None or module in sys.modules or module in _prefetching:
            return
        _prefetching.add(module)

    def load() -> None:
        try:
            importlib.import_module(module)
        except ImportError:  # the check says which extra to install
            pass

    Thread(target=load, name=f"qstore-import-{sdk}", daemon=True).start()


def _succeed(done: asyncio.Future[T], result: T) -> None:
    if not done.done():  # not cancelled meanwhile
        done.set_result(result)


def _fail(done: asyncio.Future[T], error: BaseException) -> None:
    if not done.done():
        done.set_exception(error)


async def in_daemon_thread(fn: Callable[[], T]) -> T:
    """fn() on a daemon thread of its own, awaited: unlike asyncio.to_thread, a process that exits meanwhile does
    not wait for it to finish."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def post(action: Callable[[], None]) -> None:
        try:
            loop.call_soon_threadsafe(action)
        except RuntimeError:  # the loop is closed: nobody awaits it any more
            pass

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting coroutine (bound now: the name ends with the block)
            post(partial(_fail, done, exc))
        else:
            post(partial(_succeed, done, result))

    Thread(target=run, name="qstore-native-check", daemon=True).start()
    return await done


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

    fidelity = await in_daemon_thread(check)
    if fidelity < 1 - 1e-9:
        raise CompilationError(f"the {cfg.native_target} native compile of the model failed the "
                               f"{cfg.quantum_sdk} cross-check: fidelity {fidelity:.12f}")
    emit(Log(level="info", message=f"native compile ({cfg.native_target}) of the model checked with "
                                   f"{cfg.quantum_sdk}: fidelity {fidelity:.12f}"))
