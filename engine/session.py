"""EngineSession: one training run, from config to report, as one coroutine on the caller's loop.

The session builds the parts a run needs (backend, IonQ client or in-process emulator, batch manager
with its cache and compiler, vector store: engine/parts.py; data and model), hands them to the trainer,
which only trains, opens the run directory, and turns what happens into typed events on its bus:
appended to events.jsonl (flushed per line, fsynced at checkpoints and at the end) and pushed to
bounded subscriber queues. CPU-heavy work (data loading, simulation, compilation, store I/O) runs in
worker threads; a lag probe measures the worst event-loop stall and reports it.

Errors of the engine (IonQ, data, store, training) never escape `run()`: they become an `Error`
event (engine/failures.py) and `RunFinished(status="failed")`; only programming errors propagate (after
the same events). Secrets never reach events, files or logs: the free-text fields of every event are
scrubbed of the API keys before any sink or subscriber sees it (engine/eventsinks.py). The price of a
QPU run is engine/pricing.py.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from .backends.base import Backend
from .backends.ionq_errors import IonQAuthError
from .checkpoint import ResumePoint, find_resume_point
from .circuits.template import CircuitBatch
from .config import FEATURE_SWITCHES, ConfigError, TrainingConfig
from .data import Dataset, load_dataset, train_val_split
from .events import (
    BatchExecuted, Checkpoint, ClientStats, EngineStats, Error, Event, EventBus, JobUpdate, Log, RunFinished,
    RunStarted, SpendUpdate, StepMetrics, _Event,
)
from .fileio import FileWriteError, atomic_write_bytes
from .eventsinks import BusLogHandler, SecretScrubber
from .failures import FailureKind, classify_error, error_source
from .lag import LagProbe
from .parts import BackendParts, adopt_backend, build_backend, build_manager, open_store
from .nativecheck import crosscheck_native_compile, prefetch_sdk
from .pricing import RunPricing
from .qpu import SessionQpu
from .report import PerformanceReport, build_report
from .runs.control import ControlChannel
from .runs import (
    CHECKPOINT_DIR, EVENTS_FILE, REPORT_JSON, REPORT_MD, STORE_FILE, EventLog, RunError, RunLock, create_run_dir,
    load_run_config, new_run_id, run_info,
)
from .runs.eventlog import iter_events
from .runs.metrics import MetricsWriter

if TYPE_CHECKING:
    from .backends.emulator import EmulatorServer
    from .backends.ionq import JobUpdateInfo
    from .backends.ionq_client import IonQClient
    from .batch import BatchResult, CircuitBatchManager, PerformanceStats
    from .model import QuantumModel
    from .store.base import VectorStore
    from .trainer import QuantumTrainer, TrainResult

class SessionStatus(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


RunStatus = Literal["completed", "stopped", "failed", "interrupted"]


class _RecordingExecutor:
    """The trainer's executor: the batch manager, remembering the last batch for the Compiler screen."""

    def __init__(self, session: "EngineSession", manager: CircuitBatchManager):
        self._session, self.manager = session, manager

    async def execute_batch(self, batch: CircuitBatch | Sequence[CircuitBatch], *, shots: int, seed: int,
                            purpose: str) -> BatchResult:
        # a QN-SPSA step runs two structures (loss and overlap rows) in one call
        rows = len(batch) if isinstance(batch, CircuitBatch) else sum(len(b) for b in batch)
        self._session.last_batch = batch if isinstance(batch, CircuitBatch) else batch[0]
        result = await self.manager.execute_batch(batch, shots=shots, seed=seed, purpose=purpose)
        trainer = self._session.trainer
        if trainer is not None:  # a QPU run stops with a checkpoint before its next batch would pass the cap
            self._session.qpu.after_batch(rows, trainer.request_stop)
        return result

    def get_performance_stats(self) -> PerformanceStats:
        return self.manager.get_performance_stats()


class EngineSession:
    """One run: `await run()` trains and returns the RunFinished event; pause/resume/stop control it."""

    def __init__(
        self,
        config: TrainingConfig,
        *,
        runs_dir: Path | None = None,
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
        bus: EventBus | None = None,
        backend: Backend | None = None,
        stop_grace_s: float = 10.0,
        _resume: bool = False,
    ):
        config.check_runnable()
        self.config = config
        self.clock = clock
        self.bus = bus if bus is not None else EventBus(clock=clock)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else config.resolved_runs_dir
        self.run_id = run_id or new_run_id(clock)
        self.run_dir = self.runs_dir / self.run_id
        # A configured checkpoint folder holds one subfolder per run, so runs never resume each other's state.
        self.checkpoint_dir = (config.checkpoint_directory / self.run_id if config.checkpoint_directory
                               else self.run_dir / CHECKPOINT_DIR)
        self.status = SessionStatus.IDLE
        self.stop_grace_s = stop_grace_s
        # The parts, built by run() (engine/parts.py); None until then.
        self.model: QuantumModel | None = None
        self.trainer: QuantumTrainer | None = None
        self.manager: CircuitBatchManager | None = None
        self.store: VectorStore | None = None
        self.backend: Backend | None = backend
        self.client: IonQClient | None = None  # the IonQ client (ionq and emulator backends)
        self.emulator: EmulatorServer | None = None  # the in-process emulator (emulator backend)
        self.last_batch: CircuitBatch | None = None
        self.error: BaseException | None = None
        self.failure_kind: FailureKind | None = None
        self.finished: RunFinished | None = None
        self.probe = LagProbe()
        self._owns_backend = backend is None
        self._resume = _resume
        self._log: EventLog | None = None
        self._lock: RunLock | None = None
        self._metrics: MetricsWriter | None = None
        self._steps_logged = 0  # by the run's earlier events (a resume)
        self._announced = False  # this segment's RunStarted emitted
        self._work: asyncio.Task[TrainResult] | None = None
        self._done = asyncio.Event()
        self._stop_reason: Literal["stopped", "interrupted"] | None = None
        self._paused = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._segment_circuits = 0
        self.qpu = SessionQpu(config, self.emit)  # IonQ session, spend, mitigation line, dry run
        self.pricing = RunPricing(config)
        self._syncs: set[asyncio.Future[None]] = set()
        self._checkpoint_events: set[int] = set()  # steps whose Checkpoint event an earlier segment wrote
        self._spent_before_usd = 0.0  # what an earlier segment spent on IonQ (a resume)
        self._training = False  # trainer.train() has begun: a stop can end at a step boundary with a checkpoint
        self.report: PerformanceReport | None = None  # the report _finish built (None until then)
        self.report_written = False  # report.md and report.json are on disk (a full disk can refuse them)
        self.events_lost = 0  # events events.jsonl could not take (a full disk): the file ends before the run did
        # The first sink: no other sink or subscriber ever sees an API key in an event's free text.
        self.bus.add_sink(SecretScrubber(s.get_secret_value() for s in (config.quantum_api_key,
                                                                          config.pinecone_api_key) if s))

    @classmethod
    def from_run_dir(cls, run_dir: Path, *, clock: Callable[[], float] = time.time, bus: EventBus | None = None,
                     backend: Backend | None = None, stop_grace_s: float = 10.0) -> "EngineSession":
        """The session that resumes the run in `run_dir` from its last checkpoint (config from config.toml)."""
        run_dir = Path(run_dir)
        config = load_run_config(run_dir)
        info = run_info(run_dir)
        if info.status == "running":
            raise RunError(f"run {run_dir.name!r} is already running in another session")
        if info.status == "completed":
            raise RunError(f"run {run_dir.name!r} is already completed ({info.steps} steps); nothing to resume")
        return cls(config, runs_dir=run_dir.parent, run_id=run_dir.name, clock=clock, bus=bus, backend=backend,
                   stop_grace_s=stop_grace_s, _resume=True)

    # ------------------------------------------------------------------------------------ control

    def emit(self, event: _Event) -> _Event:
        return self.bus.emit(event)

    def pause(self) -> None:
        """Pause before the next optimizer step."""
        if self.status is SessionStatus.RUNNING:
            self._paused = True
            if self.trainer is not None:
                self.trainer.request_pause()
            self.status = SessionStatus.PAUSED
            self.emit(Log(message="paused"))

    def resume(self) -> None:
        if self.status is SessionStatus.PAUSED:
            self._paused = False
            if self.trainer is not None:
                self.trainer.request_resume()
            self.status = SessionStatus.RUNNING
            self.emit(Log(message="resumed"))

    async def stop(self, *, interrupted: bool = False, grace_s: float | None = None) -> None:
        """Stop: checkpoint at the step boundary, cancel IonQ jobs in flight, end with RunFinished.

        The trainer finishes the step in progress and writes a checkpoint; if that takes longer than
        `grace_s` (default `stop_grace_s`; a job queued on a QPU), the step is abandoned and its jobs
        are cancelled, and the run resumes from the last checkpoint. Before training has started
        (start-up, data, backend, the compile check) there is nothing to checkpoint: the work is
        cancelled at once. `interrupted` (Ctrl-C) ends as "interrupted".
        """
        if self.status in (SessionStatus.FINISHED, SessionStatus.STOPPED, SessionStatus.FAILED):
            return
        self._stop_reason = "interrupted" if interrupted else "stopped"
        if self.status is SessionStatus.IDLE:
            self.status = SessionStatus.STOPPED
            self._done.set()
            return
        self.status = SessionStatus.STOPPING
        if self.trainer is not None:
            self.trainer.request_stop()
        work = self._work
        if work is not None and not work.done():
            if self.trainer is None or not self._training:
                work.cancel()
            else:
                grace = self.stop_grace_s if grace_s is None else grace_s
                done, _ = await asyncio.wait({work}, timeout=grace)
                if not done:
                    self.emit(Log(level="warning", message=f"the step in flight did not finish within "
                                                           f"{grace:g}s: abandoning it"))
                    work.cancel()
        await self._done.wait()

    def abort(self) -> None:
        """Abandon the step in flight now (a second Ctrl-C during a stop); resume uses the last checkpoint."""
        if self._stop_reason is None:
            self._stop_reason = "interrupted"
        if self._work is not None and not self._work.done():
            self._work.cancel()

    # ---------------------------------------------------------------------------------------- run

    async def run(self) -> RunFinished:
        """The whole run; returns its RunFinished event (also in events.jsonl)."""
        if self.status is not SessionStatus.IDLE:
            if self.finished is not None:
                return self.finished
            raise RuntimeError(f"session {self.run_id} cannot run: it is {self.status.value}")
        loop = self._loop = asyncio.get_running_loop()
        self._open_run_dir()
        handler = BusLogHandler(self.emit, loop)
        engine_log = logging.getLogger("engine")
        engine_log.addHandler(handler)
        if self._metrics is not None:
            self._metrics.start()  # after the handler: its warning is an event
        self.status = SessionStatus.RUNNING
        self.probe.start()
        control = asyncio.create_task(self._control_channel().watch(), name=f"control-{self.run_id}")
        t0 = time.perf_counter()
        work = self._work = asyncio.create_task(self._build_and_train(), name=f"session-{self.run_id}")
        try:
            result = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._stop_reason is not None and not (current is not None and current.cancelling()):
                return await self._finish(None, t0)  # stop() abandoned the step in flight
            # Cancelled from outside (the app is closing): end the run as interrupted, then go on.
            self._stop_reason = self._stop_reason or "interrupted"
            if not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
            await self._finish(None, t0)
            raise
        except Exception as exc:  # engine errors become events; programming errors are re-raised below
            self.error = exc
            self.failure_kind = classify_error(exc)
            finished = await self._finish(None, t0)
            if self.failure_kind is None:
                raise
            return finished
        else:
            return await self._finish(result, t0)
        finally:
            control.cancel()
            engine_log.removeHandler(handler)

    def _control_channel(self) -> ControlChannel:
        """The run directory's control file: an attached viewer pauses, resumes or stops this run."""

        def refused(reason: str) -> None:
            self.emit(Log(level="warning", message=f"control request ignored: {reason}"))

        return ControlChannel(self.run_dir, {"pause": self.pause, "resume": self.resume, "stop": self.stop},
                              refused)

    def _open_run_dir(self) -> None:
        if self._resume:
            if not (self.run_dir / "config.toml").is_file():
                raise RunError(f"run {self.run_id!r}: {self.run_dir} is not a run directory")
        else:
            create_run_dir(self.runs_dir, self.run_id, self.config)
        lock = RunLock(self.run_dir)
        lock.acquire()
        try:
            self._log = EventLog(self.run_dir / EVENTS_FILE, on_failure=self._on_log_failure)
            # A resumed run's earlier events are read once, one at a time (never all held): metrics.csv is
            # rebuilt from them, and they give the steps already checkpointed and the last seq number.
            previous = _PreviousEvents()
            metrics = MetricsWriter(self.run_dir, self.config.epochs,
                                    previous.scan(iter_events(self.run_dir)) if self._resume else ())
            self._checkpoint_events = previous.checkpoint_steps
            self._steps_logged = previous.steps_logged
            self._spent_before_usd = previous.spent_usd
            self.bus.continue_from(previous.last_seq)
        except BaseException:
            if self._log is not None:
                self._log.close()
                self._log = None
            lock.release()
            raise
        self._lock = lock
        self.bus.add_sink(self._log)
        self.bus.add_sink(self._observe)
        self.bus.add_sink(metrics)  # metrics.csv, every epoch end
        self._metrics = metrics

    async def _build_and_train(self) -> TrainResult:
        """Build the parts, hand them to the trainer, announce the run (RunStarted) and train."""
        cfg = self.config
        if cfg.use_native_gates:
            prefetch_sdk(cfg.quantum_sdk)  # overlaps the build below; the cross-check needs it
        await asyncio.to_thread(self._import_parts)
        # Before any part is built: a damaged checkpoint is set aside, a config.toml edited since is refused.
        point = await self._resume_point() if self._resume else None
        train, val = await asyncio.to_thread(self._load_data)
        if point is not None:  # checked before the segment is announced: a refused resume leaves the run as it was
            from .checkpoint import CheckpointError
            from .resume import data_fingerprint

            if point.checkpoint.data_fingerprint != data_fingerprint(train):
                raise CheckpointError(f"{point.path}: data_fingerprint: the training data differs from the "
                                      "checkpoint's")
        backend = await self._build_backend()
        await self.qpu.check_target(backend)  # an unlisted QPU target, named, before IonQ is asked about it
        from .model import QuantumModel
        from .trainer import QuantumTrainer

        output_dim = train.n_classes or 1
        self.model = model = await asyncio.to_thread(QuantumModel.from_config, cfg, train.n_features, output_dim)
        self.store = await open_store(cfg, self.run_dir / STORE_FILE)
        coupling = await self.qpu.coupling(self.client, model)  # a characterization's connectivity, if any
        self.manager = build_manager(cfg, backend, bus=self.bus, coupling=coupling)
        self.trainer = trainer = QuantumTrainer(
            cfg, _RecordingExecutor(self, self.manager), bus=self.bus, store=self.store, run_id=self.run_id,
            checkpoint_dir=self.checkpoint_dir,
        )
        if self._paused:
            trainer.request_pause()
        if self._stop_reason is not None:
            trainer.request_stop()
        resume_from = point.path if point is not None else None
        resumed_step = point.step if point is not None else 0
        steps_per_epoch = -(-len(train) // cfg.batch_size)
        total_steps = cfg.epochs * steps_per_epoch
        self._announced = True
        self.emit(RunStarted(
            run_id=self.run_id, backend=backend.name if not self._owns_backend else cfg.backend,
            target=cfg.quantum_target, n_qubits=model.n_qubits,
            n_params=model.n_params, total_steps=total_steps, resumed_from_step=resumed_step,
            features={name: bool(getattr(cfg, name)) for name in FEATURE_SWITCHES},
        ))
        await self.pricing.prepare(model, len(train), len(val), self.client, self.emit)
        price = self.pricing.price.usd if self.pricing.price is not None else 0.0
        await self.qpu.start(backend, price_per_circuit_usd=price, planned_circuits=self.pricing.planned,
                             n_train=len(train), n_val=len(val), n_circuit_params=model.n_circuit_params,
                             spent_before_usd=self._spent_before_usd)
        if cfg.dry_run:  # validated and priced by IonQ, nothing run, no training
            from .training_results import TrainResult as DryRunResult

            await self.qpu.dry_run(model, len(train), len(val))
            return DryRunResult(status="completed", steps=0, first_step=0)
        if cfg.use_native_gates:
            await crosscheck_native_compile(self.config, model, self.emit)
        if cfg.preflight_initializations and resume_from is None:  # gradient variance: a barren-plateau warning
            from .preflight import preflight_event, preflight_text

            pre = await asyncio.to_thread(preflight_event, cfg, model, train.x)
            self.emit(pre)
            if pre.barren_plateau:
                self.emit(Log(level="warning", message=preflight_text(pre)))
        if self._resume and resume_from is None:
            self.emit(Log(level="warning", message="no checkpoint in the run directory: starting from step 0"))
        if self._stop_reason is not None:  # stopped while the parts were built: nothing ran, nothing to save
            raise asyncio.CancelledError
        self._training = True  # from here a stop waits (up to its grace) for the step boundary's checkpoint
        return await trainer.train(model, train, val, resume_from=resume_from)

    async def _resume_point(self) -> ResumePoint | None:
        """The newest valid checkpoint (damaged newer ones set aside, each named in a warning), checked
        against config.toml: a field that fixes the checkpoint's shape and was edited since is a ConfigError."""
        point = await asyncio.to_thread(find_resume_point, self.checkpoint_dir)
        # A kill mid-write leaves the atomic write's temporary file; this session holds the run's lock, so none is
        # being written now.
        for stale in self.checkpoint_dir.glob(".step-*.tmp") if self.checkpoint_dir.is_dir() else ():
            stale.unlink(missing_ok=True)
        if point is None:
            return None
        for bad in point.set_aside:
            self.emit(Log(level="warning", message=f"checkpoint {bad.path} is damaged ({bad.reason}): set aside "
                                                   f"as {bad.moved_to.name}; resuming from {point.path.name}"))
        if point.step > self._steps_logged + self.config.log_interval:  # beyond what log_interval leaves unsaid
            self.emit(Log(level="warning", message=(
                f"{self.run_dir / EVENTS_FILE} ends at step {self._steps_logged} but {point.path.name} is at step "
                f"{point.step}: the events of the steps between are lost (the curves and the report have a gap "
                f"there); resuming from the checkpoint")))
        elif point.step not in self._checkpoint_events:
            self.emit(Log(message=f"{point.path.name} was written but its event was not (the process ended "
                                  f"between the two): resuming from it"))
        from .trainer import RESUME_MUST_MATCH

        saved = point.checkpoint.config
        changed = [(name, f"{point.path.name} was made with {saved.get(name)!r}, config.toml now has "
                          f"{current!r}")
                   for name in RESUME_MUST_MATCH
                   if saved.get(name) != (current := self.config.model_dump(mode="json", include={name})[name])]
        if changed:
            raise ConfigError(changed[0][0], changed[0][1], path=self.run_dir / "config.toml", problems=changed)
        return point

    def _on_log_failure(self, exc: FileWriteError) -> None:
        """events.jsonl cannot be written (a full disk): end the run now, failed with that error.

        The log has cut itself back to its last whole line and writes nothing more, so the run
        directory stays consistent; the last good checkpoint is untouched and resume works later.
        """
        loop = self._loop
        if loop is None:
            return

        def fail() -> None:
            if self.error is None:
                self.error, self.failure_kind = exc, classify_error(exc)
            self._stop_reason = self._stop_reason or "stopped"
            if self._work is not None and not self._work.done():
                self._work.cancel()

        loop.call_soon_threadsafe(fail)

    def _import_parts(self) -> None:
        """Import the heavy modules in a worker thread: a first import would stall the loop for 100s of ms."""
        names = ["engine.batch", "engine.cache", "engine.model", "engine.trainer", "engine.store"]
        if self.config.use_native_gates:
            names.append("engine.compiler")
        if self.backend is None and self.config.backend != "local":
            names += ["engine.backends.ionq", "engine.backends.ionq_client", "engine.backends.ionq_run", "engine.qpu",
                      "engine.mitigation"]
        if self.backend is None and self.config.backend == "emulator":
            names.append("engine.backends.emulator")
        for name in names:
            importlib.import_module(name)

    def _load_data(self) -> tuple[Dataset, Dataset]:
        ds = load_dataset(self.config)
        return train_val_split(ds, self.config.validation_split, self.config.seed)

    async def _build_backend(self) -> Backend:
        """The injected backend, or the one the config names; an IonQ client is checked before any job."""
        if self.backend is not None:
            parts: BackendParts = adopt_backend(self.backend, self._on_job_update)
        else:
            parts = await build_backend(self.config, self._on_job_update)
        self.backend, self.client, self.emulator = parts.backend, parts.client, parts.emulator
        if self.client is not None:
            await self.client.whoami()  # a bad key fails here, before any job, as IonQAuthError
        return parts.backend

    def _on_job_update(self, info: JobUpdateInfo) -> None:
        self.emit(JobUpdate(job_id=info.job_id, circuits=info.circuits, status=info.status, queue_s=info.queue_s,
                            run_s=info.run_s))

    # -------------------------------------------------------------------------------------- costs

    # ------------------------------------------------------------------------------------- events

    def _observe(self, event: _Event) -> None:
        """Count this segment's circuits; at a checkpoint, fsync the log and record the engine's health."""
        if isinstance(event, BatchExecuted):
            self._segment_circuits += event.circuits
        elif isinstance(event, Checkpoint) and self._loop is not None:
            self._loop.call_soon_threadsafe(self._after_checkpoint)

    def _after_checkpoint(self) -> None:
        """Runs after the Checkpoint reached every subscriber (not in the middle of its delivery)."""
        if self._log is None or self._loop is None:
            return
        # fsync in a thread: a disk flush can take tens of milliseconds.
        sync = self._loop.run_in_executor(None, self._log.sync)
        self._syncs.add(sync)
        sync.add_done_callback(self._syncs.discard)  # done ones are dropped: the set stays small over a long run
        self._emit_stats()

    def _emit_stats(self) -> None:
        if self._log is None:
            return
        if self.client is not None:
            s = self.client.stats
            self.emit(ClientStats(
                requests=s.requests, calls=dict(s.calls), jobs_created=len(s.circuits_per_call),
                circuits_submitted=sum(s.circuits_per_call), retries=s.retries, rate_limited=s.rate_limited,
                lookups=s.lookups, bytes_sent=s.bytes_sent, queue_time_s=s.queue_time_s,
                execution_time_s=s.execution_time_s,
            ))
        cost = self.pricing.event(self._segment_circuits)
        if cost is not None:
            self.emit(cost)
        self.emit(EngineStats(loop_worst_stall_ms=self.probe.worst_ms, loop_mean_stall_ms=self.probe.mean_ms,
                              loop_samples=self.probe.samples, events_dropped=self.bus.dropped))

    # ------------------------------------------------------------------------------------- finish

    async def _finish(self, result: TrainResult | None, t0: float) -> RunFinished:
        """Cancel jobs in flight, emit the final statistics and RunFinished, write the report, close all."""
        await self._cancel_jobs()
        await self.qpu.finish()  # the IonQ session ends however the run ends
        await self.probe.stop()
        trainer_steps = self.trainer.state.step if self.trainer is not None else 0
        status: RunStatus
        if self.error is not None:
            message = "invalid IonQ API key" if isinstance(self.error, IonQAuthError) else str(self.error)
            self.emit(Error(source=error_source(self.error), message=message, fatal=True))
            status, final_status = "failed", SessionStatus.FAILED
        elif result is None:  # cancelled: by stop() past its grace, or from outside
            status = self._stop_reason or "interrupted"
            final_status = SessionStatus.STOPPED
            saved = self.checkpoint_dir.is_dir() and any(self.checkpoint_dir.glob("step-*.json"))
            message = ("stopped before training began" if self.trainer is None else
                       "the step in flight was abandoned; " + ("the run resumes from its last checkpoint" if saved
                                                               else "no checkpoint yet: a resume starts at step 0"))
        elif result.status == "stopped":
            status = self._stop_reason or "stopped"
            final_status = SessionStatus.STOPPED
            message = f"checkpoint written at step {result.steps}"
            if result.stop_note and not self.qpu.note:
                message = f"{result.stop_note}; {message}"
        else:
            status, final_status = "completed", SessionStatus.FINISHED
            message = "early stopped" if result.status == "early_stopped" else ""
        if self.qpu.note:
            message = f"{self.qpu.note}; {message}" if message else self.qpu.note
        epochs = result.epochs if result is not None else []
        self._emit_stats()
        self.finished = finished = RunFinished(
            status=status, steps=trainer_steps,
            final_loss=result.final_loss if result is not None else None,
            final_accuracy=epochs[-1].train_accuracy if epochs else None,
            val_accuracy=epochs[-1].val_accuracy if epochs else None,
            wall_s=time.perf_counter() - t0, message=message,
        )
        self.status = final_status
        if self._resume and not self._announced:  # refused before its segment began: the run is left as it was
            await self._close()  # (its status, steps and report), not marked failed with 0 steps
            self._done.set()
            return finished
        self.emit(finished)
        try:
            await asyncio.to_thread(self._write_report)
        except FileWriteError as exc:  # a full disk: the run ended already; say so, exit as a disk error
            self.emit(Log(level="error", message=f"report not written: {exc}"))
            if self.error is None:
                self.error, self.failure_kind = exc, classify_error(exc)
        finally:
            await self._close()
            self._done.set()
        return finished

    async def _cancel_jobs(self) -> None:
        cancel_all = getattr(self.backend, "cancel_all", None)
        if cancel_all is None:
            return
        try:
            ids = await cancel_all()
        except Exception as exc:  # the run is ending either way; say what could not be cancelled
            self.emit(Log(level="error", message=f"could not cancel IonQ jobs in flight: {exc}"))
            return
        if ids:
            self.emit(Log(level="warning", message=f"cancelled {len(ids)} IonQ job(s) in flight: {', '.join(ids)}"))

    def _write_report(self) -> None:
        report = self.report = self.performance_report()
        atomic_write_bytes(self.run_dir / REPORT_MD, report.to_markdown().encode())
        atomic_write_bytes(self.run_dir / REPORT_JSON, report.to_json_bytes())
        self.report_written = True
        release_free_memory()  # what rendering it used is free again

    async def _close(self) -> None:
        if self._syncs:
            await asyncio.gather(*self._syncs)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        if self._owns_backend and self.backend is not None:
            await self.backend.close()
        if self.emulator is not None:
            await asyncio.to_thread(self.emulator.stop)
        if self._log is not None:
            self.events_lost = self._log.lost
            self._log.close()
            self._log = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------------------------- report

    def performance_report(self) -> PerformanceReport:
        """The report of the whole run (every segment) from its events.jsonl, folded one event at a time.

        Never the whole list: a 20,000-step run's ~85,000 events as models took ~150 MB at the end of the run.
        """
        return build_report(iter_events(self.run_dir), self.config)


class _PreviousEvents:
    """What a resumed session needs from its run's earlier events, gathered as they stream past: the steps
    checkpointed, the last seq number, and the spend so far (the last SpendUpdate's total)."""

    def __init__(self) -> None:
        self.checkpoint_steps: set[int] = set()
        self.last_seq = 0
        self.spent_usd = 0.0
        self.steps_logged = 0  # steps done by the last StepMetrics: a log cut short ends before its checkpoint

    def scan(self, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            if isinstance(event, Checkpoint):
                self.checkpoint_steps.add(event.step)
            elif isinstance(event, StepMetrics):
                self.steps_logged = event.step + 1
            elif isinstance(event, SpendUpdate):
                self.spent_usd = event.spent_usd
            self.last_seq = event.seq
            yield event


_malloc_trim: Callable[[int], int] | None | Literal[False] = False  # False: not looked up yet


def release_free_memory() -> None:
    """glibc's `malloc_trim(0)`: give the pages of freed heap memory back to the OS (nothing elsewhere).

    glibc keeps what is freed in its arenas (the loop's and each worker thread's) for reuse, and unreturned free
    pages count in the RSS: after the report is built and rendered, the process would stay larger
    by what the end of the run used. Called after the report is written (measured: trimming at every epoch end
    as well did not lower the training's RSS slope in bench/long_run.py).
    """
    global _malloc_trim
    if _malloc_trim is False:
        import ctypes

        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (AttributeError, OSError):  # not glibc
            _malloc_trim = None
    if _malloc_trim is not None:
        _malloc_trim(0)


def exit_code(session: EngineSession) -> int:
    """The CLI's exit code for a finished session: 0 ok, 2 bad config/data, 3 backend, 4 stopped before the end
    (by its spend cap or a viewer's stop: `run --resume` continues it; `attach --headless` says 4 for it too),
    130 interrupted."""
    finished = session.finished
    if finished is None or finished.status == "interrupted":
        return 130
    if finished.status == "failed" or session.failure_kind is not None:  # also: the report could not be written
        return 2 if session.failure_kind == "config" else 3 if session.failure_kind == "backend" else 1
    return 4 if finished.status == "stopped" else 0
