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


def kernel_row_total(p: np.ndarray) -> float:
    """A probability row's total as the samplers' kernels add it: four partial sums of the positive entries."""
    sums = [0.0] * 4
    for i in range(0, p.size - 3, 4):
        for k in range(4):
            sums[k] += max(float(p[i + k]), 0.0)
    for v in p[p.size - p.size % 4:]:
        sums[0] += max(float(v), 0.0)
    return (sums[0] + sums[1]) + (sums[2] + sums[3])


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


APP_T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: where an app test's clock starts


class TickingClock:
    """A fixed, deterministic clock that still moves: APP_T0, then one second later at every call (run ids,
    event stamps and "newest first" stay ordered and repeat from test to test)."""

    def __init__(self, start: float = APP_T0, step: float = 1.0):
        self.now, self.step = start - step, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def deterministic_app(*, runs_dir, **kw):
    """The app as every app test builds it: testing mode (no cursor blink, no animations, the user's keymap
    ignored), a TickingClock unless a clock is given, and the given runs directory. User data (themes,
    keymaps, crash logs) is isolated by conftest's autouse `isolated_user_dirs`."""
    from qstore_tui.app import make_app

    kw.setdefault("clock", TickingClock())
    return make_app(runs_dir=runs_dir, testing=True, **kw)


def row_text(table, index: int) -> list[str]:
    """A DataTable row's cells as strings (the app's tables hold rich Texts, so that no data is read as markup)."""
    return [str(c) for c in table.get_row_at(index)]


async def stopped_at(config, runs_dir, step: int):
    """A session run until its StepMetrics of `step`, then stopped (a checkpoint): a run to resume."""
    import asyncio

    from engine.events import StepMetrics
    from engine.session import EngineSession

    session = EngineSession(config, runs_dir=runs_dir)
    queue = session.bus.subscribe()
    task = asyncio.create_task(session.run())
    while not (isinstance(event := await queue.get(), StepMetrics) and event.step == step):
        pass
    await session.stop()
    await task
    return session
