"""The parts of a run, built from a config: backend (local, IonQ, in-process emulator), batch manager (with its
cache and native compiler) and vector store.

The session builds its run from these functions and hands the parts to the trainer, which only trains; tests,
benches and library users build the same parts the same way (`build_manager(config, backend)`). A new part (an
IonQ session, a control channel, a gradient method) gets its builder here and is handed in by the session.
Heavy modules are imported inside the builders: the session imports them in a worker thread first.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import TrainingConfig
from .events import EventBus

if TYPE_CHECKING:
    from .backends.base import Backend
    from .backends.emulator import EmulatorServer
    from .backends.ionq import IonQBackend, JobUpdateInfo
    from .backends.ionq_client import IonQClient, IonQSettings
    from .batch import CircuitBatchManager
    from .store.base import VectorStore

JobListener = Callable[["JobUpdateInfo"], None]


@dataclass
class BackendParts:
    """A run's backend, the IonQ client behind it (ionq and emulator backends) and the in-process emulator."""

    backend: Backend
    client: IonQClient | None = None
    emulator: EmulatorServer | None = None


def adopt_backend(backend: Backend, on_job_update: JobListener) -> BackendParts:
    """An injected backend (tests, the TUI's own emulator): its client's figures and jobs are reported too."""
    if "engine.backends.ionq" not in sys.modules:  # never imported: it cannot be an IonQBackend
        return BackendParts(backend)
    from .backends.ionq import IonQBackend

    if isinstance(backend, IonQBackend):
        if backend.on_job_update is None:
            backend.on_job_update = on_job_update
        return BackendParts(backend, backend.client)
    return BackendParts(backend)


async def build_backend(config: TrainingConfig, on_job_update: JobListener) -> BackendParts:
    """The backend `config.backend` names: the local simulator, IonQ, or IonQ's API served by an in-process
    emulator on loopback (started here; stopped by whoever closes the parts); wrapped in readout-error
    mitigation when `readout_mitigation` asks for it."""
    from .qpu import with_readout_mitigation

    parts = await _build_backend(config, on_job_update)
    parts.backend = await with_readout_mitigation(config, parts.backend)
    return parts


async def _build_backend(config: TrainingConfig, on_job_update: JobListener) -> BackendParts:
    if config.backend == "local":
        from .backends.local import LocalSimulatorBackend

        noise = None
        if config.noise_model == "characterization":
            from .qpu import noise_from_config

            noise = await noise_from_config(config)
        elif config.noise_model != "ideal":  # a named model (aria-1, forte-1): it was never passed, so ignored
            from .sim.noise import noise_model

            noise = noise_model(config.noise_model)
        return BackendParts(LocalSimulatorBackend(seed=config.seed, noise=noise))
    from .backends.ionq_client import IonQSettings

    key = config.quantum_api_key.get_secret_value() if config.quantum_api_key else None
    settings = IonQSettings(base_url=config.ionq_api_url, api_key=key, pool_size=config.connection_pool_size)
    emulator = None
    noise_name: str = config.noise_model
    if config.backend == "emulator":
        from .backends.emulator import EmulatorServer, EmulatorSettings
        from .backends.emulator.server import DEFAULT_KEY

        key = key or DEFAULT_KEY
        characterizations = {}
        if config.noise_model == "characterization":  # the emulator simulates with the run's characterization
            from .qpu import characterization_body, emulator_noise

            body, _ = await characterization_body(config)
            target, noise_name = emulator_noise(body)
            characterizations[target] = body
        emulator = EmulatorServer(EmulatorSettings(port=0, api_keys=(key,), seed=config.seed,
                                                   characterizations=characterizations))
        url = await asyncio.to_thread(emulator.start)
        # On loopback a poll costs a millisecond: poll fast instead of IonQ's polite 1 s.
        settings = IonQSettings(base_url=url, api_key=key, pool_size=config.connection_pool_size,
                                poll_initial=0.01, poll_factor=1.5, poll_cap=0.5)
    try:
        backend = await asyncio.to_thread(_ionq_backend, config, settings, on_job_update, noise_name)
    except BaseException:
        if emulator is not None:
            await asyncio.to_thread(emulator.stop)
        raise
    return BackendParts(backend, backend.client, emulator)


def _ionq_backend(config: TrainingConfig, settings: IonQSettings, on_job_update: JobListener,
                  noise_name: str) -> IonQBackend:
    # Called in a thread: the HTTP client loads its TLS certificates when it is made (~100 ms).
    from .backends.ionq import IonQBackend
    from .backends.ionq_options import ErrorMitigation

    return IonQBackend(
        settings, backend_name=config.quantum_target, noise_model=noise_name,
        shots_default=max(1, config.shots_per_circuit), seed=config.seed,
        max_queue_wait_time=config.max_queue_wait_time, max_concurrent_jobs=config.connection_pool_size,
        on_job_update=on_job_update, mitigation=ErrorMitigation(config.ionq_debiasing, config.ionq_aggregation),
    )


def build_manager(config: TrainingConfig, backend: Backend, *, bus: EventBus | None = None,
                  coupling: Sequence[tuple[int, int]] | None = None) -> CircuitBatchManager:
    """The batch manager over `backend`: a fresh circuit cache, and the native compiler when use_native_gates
    (honouring `coupling`, the backend's connectivity, when given; None is all-to-all)."""
    from .batch import CircuitBatchManager
    from .cache import SmartCircuitCache

    compiler = None
    if config.use_native_gates:
        from .compiler import NativeGateCompiler

        compiler = NativeGateCompiler(config.native_target, optimize=config.enable_circuit_compression,
                                      coupling=coupling)
    return CircuitBatchManager(config, backend, cache=SmartCircuitCache(), compiler=compiler, bus=bus)


async def open_store(config: TrainingConfig, sqlite_path: Path) -> VectorStore | None:
    """The vector store of the run (SQLite at `sqlite_path`, or Pinecone), or None when nothing is stored."""
    if not config.embeddings_to_store:
        return None
    from .store import open_store as open_named_store

    kind = "pinecone" if config.store_backend == "pinecone" else "sqlite"
    key = config.pinecone_api_key.get_secret_value() if config.pinecone_api_key else None
    # Euclidean: an embedding is a vector of <Z_i> in [-1, 1], and with few shots it can be all zeros,
    # which has no cosine similarity.
    return await asyncio.to_thread(
        open_named_store, kind, path=sqlite_path, dimension=config.n_qubits, metric="euclidean",
        api_key=key, index_name=config.pinecone_index_name, environment=config.pinecone_environment,
    )
