"""QuantumTrainer: minibatch training of a QuantumModel with SPSA, QN-SPSA, parameter shift (fixed or adaptive
shots), finite differences or adjoint.

Layout: this module is the loop (`train` in named steps, `train_batch` choosing the method and stepping the
optimizer); each method's circuit gradient is a function in engine/gradient_steps.py (row layouts in
engine/gradients.py, QN-SPSA's metric and the shot allocator in engine/optimizers/); engine/batch_runner.py runs
and counts the batches; engine/resume.py holds the checkpoint's contents and the resume checks. A QN-SPSA
step's loss and overlap rows are two structures sent in ONE executor call. `shot_budget` stops the run
(early_stopped) once the training steps have measured that many shots.

Each optimizer step is one CircuitBatch (`spsa` alone runs its evaluations as separate batches, one
after another): the rows at the current parameters give the reported loss (the mean of the per-sample
losses, divided once) and dL/dz, from which the head's gradient is exact. The circuit's gradient
comes from the method's extra rows (engine/gradient_steps.py), or for `adjoint` (exact local runs,
the default there through gradient_method "auto") from one backward pass on the simulator.

For the SPSA methods the circuit parameters step with SPSA's gain a_k in place of the learning
rate (through the chosen optimizer: Adam normalises the step, SGD applies momentum); the head,
whose gradient is exact, steps with `learning_rate`. Other methods use `learning_rate` for all.

Determinism: the initial parameters come from the model's seed; batch order and SPSA perturbations
from one generator seeded by `config.seed`, saved in checkpoints; shot sampling seeds are derived
from (seed, step) and (seed, epoch). The same seed gives the same run, and a run resumed from a
checkpoint continues exactly as one that was never interrupted.

Epochs and steps are 0-based in events and results, like StepMetrics.step.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .batch_runner import BatchRunner, Executor
from .circuits.template import CircuitBatch
from .checkpoint import load_checkpoint
from .config import TrainingConfig
from .data import Dataset
from .embeddings import store_embeddings
from .events import Checkpoint, EpochFinished, EventBus, Log, ShotsSpent, StepMetrics, emit_to
from .gradient_steps import (
    CircuitGradient, adjoint_step, qnspsa_block, qnspsa_step, shift_step, shot_adaptive_step, spsa_step,
)
from .gradients import LossResult, loss_and_grads, spsa_gains
from .model import QuantumModel
from .optim import Adam, SGD, clip_by_norm, make_optimizer
from .optimizers.qnspsa import QNSPSAMetric
from .optimizers.shot_adaptive import ShotAllocator
from .resume import (
    KEEP_CHECKPOINTS, RESUME_MUST_MATCH, Position, changed_fields, data_fingerprint, restore_model, save_and_prune,
    snapshot,
)
from .training_results import (
    EpochRecord, EvalResult, LimitReached, StepResult, TrainerState, TrainerStats, TrainingError, TrainResult,
)

if TYPE_CHECKING:
    from .store.base import VectorStore

# KEEP_CHECKPOINTS, RESUME_MUST_MATCH, data_fingerprint (engine/resume.py), Executor (engine/batch_runner.py) and
# the result types (engine/training_results.py) are re-exported: importers of engine.trainer keep working.
__all__ = ["KEEP_CHECKPOINTS", "RESUME_MUST_MATCH", "EpochRecord", "EvalResult", "Executor", "QuantumTrainer",
           "StepResult", "TrainResult", "TrainerState", "TrainerStats", "TrainingError", "data_fingerprint"]

_STEP, _EPOCH_EVAL, _VALIDATE = 0, 1, 2  # streams of derived shot seeds


def _derived_seed(*words: int) -> int:
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1, dtype=np.uint64)[0] >> 1)


class QuantumTrainer:
    """Trains a QuantumModel, running its batches through `executor`; emits events on `bus`; stores
    embeddings in `store`.

    The trainer builds nothing: the session (or a test, with `engine.parts.build_manager`) builds the
    executor and the store and hands them in. Checkpoints go to `checkpoint_dir`, else
    `config.checkpoint_directory`; with neither, none are written.
    """

    def __init__(
        self,
        config: TrainingConfig,
        executor: Executor,
        *,
        bus: EventBus | None = None,
        store: VectorStore | None = None,
        run_id: str | None = None,
        checkpoint_dir: str | Path | None = None,
    ):
        self.config = config
        self.bus = bus
        self.store = store
        self.run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
        directory = checkpoint_dir if checkpoint_dir is not None else config.checkpoint_directory
        self.checkpoint_dir = None if directory is None else Path(directory)
        self.state = TrainerState()
        self._rng = np.random.default_rng(config.seed)
        self._optimizer: Adam | SGD | None = None
        self._executor = executor
        self._runner = BatchRunner(executor, lambda: self.config.shots_per_circuit, lambda: self.state.step)
        self._resume = asyncio.Event()
        self._resume.set()
        self._stop = False
        self._unreported: tuple[StepResult, int] | None = None  # (step, its epoch) not yet in a StepMetrics
        self._steps_s = 0.0
        self._steps_timed = 0
        self._step_shots = 0  # by training steps: what shot_budget caps
        self._budget_hit = False
        self._first_loss: float | None = None  # the run's first minibatch loss (shots per unit of loss)
        self._qnspsa: QNSPSAMetric | None = None
        self._allocator: ShotAllocator | None = None

    # ----- control hooks (call from the event loop's thread) -----

    def request_pause(self) -> None:
        """Pause before the next step."""
        self._resume.clear()

    def request_resume(self) -> None:
        self._resume.set()

    def request_stop(self) -> None:
        """Stop before the next step, after writing a checkpoint (a paused trainer wakes to stop)."""
        self._stop = True
        self._resume.set()

    # ----- execution -----

    async def _execute(self, batch: CircuitBatch, purpose: str, seed: int) -> np.ndarray:
        """<Z> (B, n) for every row; failed circuits are an error, never silently skipped."""
        return await self._runner.expectations(batch, purpose, seed)

    def _optimizer_for(self, model: QuantumModel) -> Adam | SGD:
        if self._optimizer is None:
            self._optimizer = make_optimizer(self.config.optimizer, model.n_params, self.config.momentum)
        return self._optimizer

    # ----- one step -----

    async def train_batch(self, model: QuantumModel, x: np.ndarray, y: np.ndarray) -> StepResult:
        """One optimizer step on raw features `x` (M, D) and labels `y` (int classes, or float targets)."""
        cfg = self.config
        k = self.state.step
        n_classes = model.output_dim if np.issubdtype(np.asarray(y).dtype, np.integer) else 0
        params = model.get_params()
        theta = model.split(params)[0]
        inputs = model.encode(x)
        p = model.n_circuit_params
        seed = _derived_seed(cfg.seed, _STEP, k)
        spsa_a = spsa_c = None
        method = cfg.gradient_estimator
        shots_before = self._runner.shots_spent
        run = self._runner
        lr: float | np.ndarray = cfg.learning_rate
        estimate: CircuitGradient
        if method == "adjoint":
            estimate = await adjoint_step(run, model, theta, inputs, y, n_classes, k)
        elif method in ("qnspsa", "spsa", "spsa_parallel"):
            spsa_a, spsa_c = spsa_gains(
                k, cfg.spsa_a_initial, cfg.spsa_c_initial, cfg.spsa_alpha, cfg.spsa_gamma,
                cfg.spsa_stability(self.state.total_steps),
            )
            if method == "qnspsa":
                if self._qnspsa is None:
                    self._qnspsa = QNSPSAMetric(p, cfg.qnspsa_regularization)
                estimate = await qnspsa_step(run, model, self._qnspsa, self._rng, cfg.spsa_samples, theta, inputs, y,
                                         n_classes, seed, spsa_c)
            else:
                estimate = await spsa_step(run, model, self._rng, cfg.spsa_samples, theta, inputs, y, n_classes, seed,
                                       spsa_c, split=method == "spsa")
            lr = np.concatenate([np.full(p, spsa_a), np.full(model.n_head_params, cfg.learning_rate)])
        elif method == "shot_adaptive":
            if self._allocator is None:
                self._allocator = ShotAllocator(p, cfg.shots_per_circuit, cfg.shot_lipschitz, cfg.learning_rate)
            estimate = await shot_adaptive_step(run, model, self._allocator, cfg.shots_per_circuit, theta, inputs, y,
                                            n_classes, seed)
        else:
            estimate = await shift_step(run, model, theta, inputs, y, n_classes, seed, method)
        current = estimate.current
        grad = np.concatenate([estimate.g_circuit, current.d_weight.ravel(), current.d_bias])
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is the optimizer's error, not a warning
            if cfg.weight_decay:
                grad = grad + cfg.weight_decay * params
            grad_norm = float(np.linalg.norm(grad))
        if cfg.use_gradient_clipping:
            grad = clip_by_norm(grad, cfg.gradient_clip_value)
        proposed = self._optimizer_for(model).step(params, grad, lr)
        if method == "qnspsa" and cfg.qnspsa_blocking:
            assert self._qnspsa is not None
            proposed = await qnspsa_block(run, model, self._qnspsa, params, proposed, inputs, y, n_classes,
                                          current.loss, seed)
        model.set_params(proposed)
        self.state.step = k + 1
        shots = self._runner.shots_spent - shots_before
        self._step_shots += shots
        if self._first_loss is None:
            self._first_loss = current.loss
        return StepResult(k, current.loss, current.accuracy, grad_norm, estimate.circuits, spsa_a, spsa_c, shots)

    # ----- the shot budget -----

    def _budget_exhausted(self) -> bool:
        """shot_budget: the training steps have measured that many shots (checked before each step)."""
        budget = self.config.shot_budget
        if budget is None or self._step_shots < budget:
            return False
        self._budget_hit = True
        emit_to(self.bus, Log(message=f"shot budget exhausted: the training steps measured {self._step_shots} "
                                      f"shots (shot_budget {budget})"))
        return True

    # ----- evaluation -----

    async def validate(self, model: QuantumModel, data: Dataset, *, seed: int | None = None) -> EvalResult:
        """Loss, accuracy and embeddings of `data` at the model's current parameters, in one batch."""
        self._check_data(model, data, "data")
        if seed is None:
            seed = _derived_seed(self.config.seed, _VALIDATE, self.state.step)
        z = await self._execute(model.batch(model.encode(data.x)), "validation", seed)
        return self._scores(model, z, data)

    def _scores(self, model: QuantumModel, z: np.ndarray, data: Dataset) -> EvalResult:
        _, weight, bias = model.split()
        r: LossResult = loss_and_grads(z, data.y, weight, bias, data.n_classes)
        return EvalResult(r.loss, r.accuracy, z)

    async def _epoch_eval(
        self, model: QuantumModel, train: Dataset, val: Dataset | None, epoch: int
    ) -> tuple[EvalResult, EvalResult | None]:
        """Training and validation splits in one batch at the epoch's final parameters."""
        x = train.x if val is None else np.concatenate([train.x, val.x])
        z = await self._execute(
            model.batch(model.encode(x)), "validation", _derived_seed(self.config.seed, _EPOCH_EVAL, epoch)
        )
        n = len(train)
        return self._scores(model, z[:n], train), (None if val is None else self._scores(model, z[n:], val))

    # ----- the run -----

    def _check_data(self, model: QuantumModel, data: Dataset, name: str) -> None:
        if data.n_features != model.input_dim:
            raise ValueError(f"{name}: has {data.n_features} features; the model's input_dim is {model.input_dim}")
        if data.n_classes and data.n_classes != model.output_dim:
            raise ValueError(f"{name}: has {data.n_classes} classes; the model's output_dim is {model.output_dim}")
        if len(data) == 0:
            raise ValueError(f"{name}: is empty")

    async def train(
        self,
        model: QuantumModel,
        train_data: Dataset,
        val_data: Dataset | None = None,
        *,
        resume_from: str | Path | None = None,
    ) -> TrainResult:
        """Train for `config.epochs` (or until stopped / early-stopped); see the module docstring.

        A model without a scaler gets one fitted on `train_data`; a model that has one (loaded) keeps it.
        `resume_from` restores parameters, scaler, optimizer, generator and position from a checkpoint.
        """
        at = self._start(model, train_data, val_data, resume_from)
        result = TrainResult(status="completed", steps=self.state.step, first_step=self.state.step)
        t_start = time.perf_counter()
        circuits_before = self._runner.circuits
        try:
            while at.epoch < self.config.epochs:
                if self._patience_exhausted(at):
                    result.status = "early_stopped"
                    break
                if not await self._train_epoch(model, train_data, at, result):
                    result.status = "early_stopped" if self._budget_hit else "stopped"
                    return result
                if self._stop:  # asked during the epoch's last step: the evaluation is left to the resume
                    await self._stop_here(self._snapshot(model, at), result)
                    return result
                try:
                    await self._finish_epoch(model, train_data, val_data, at, result)
                except LimitReached as exc:  # the evaluation could not be paid for: position is unchanged
                    await self._stop_here(self._snapshot(model, at), result, note=str(exc))
                    return result
            self.state.epoch = at.epoch
            result.checkpoint = await self._write_checkpoint(self._snapshot(model, at)) or result.checkpoint
            return result
        except BaseException:
            self.state.status = "failed"
            raise
        finally:
            if self.state.status != "failed":
                self.state.status = result.status
            result.wall_s = time.perf_counter() - t_start
            result.circuits = self._runner.circuits - circuits_before

    def _start(self, model: QuantumModel, train_data: Dataset, val_data: Dataset | None,
               resume_from: str | Path | None) -> Position:
        """Check the data, reset the trainer, and restore a checkpoint (or fit the scaler): where the run starts."""
        cfg = self.config
        self._check_data(model, train_data, "train_data")
        if val_data is not None:
            self._check_data(model, val_data, "val_data")
        if cfg.early_stopping_patience and val_data is None:
            raise ValueError("early_stopping_patience: needs validation data (val_data is None)")
        n = len(train_data)
        steps_per_epoch = -(-n // cfg.batch_size)
        self.state = TrainerState(total_steps=cfg.epochs * steps_per_epoch, status="running")
        self._optimizer = None
        self._qnspsa = self._allocator = None
        self._step_shots, self._budget_hit, self._first_loss = 0, False, None
        self._rng = np.random.default_rng(cfg.seed)
        self._stop = False
        self._unreported = None
        at = Position(steps_per_epoch, data_fingerprint(train_data), np.arange(n))
        if resume_from is not None:
            at.restore(self._restore(model, resume_from, at.fingerprint))
        elif model.scaler is None:
            model.fit_scaler(train_data.x)
        return at

    def _patience_exhausted(self, at: Position) -> bool:
        """Early stopping: `early_stopping_patience` epochs without a better validation loss (said in a Log)."""
        patience = self.config.early_stopping_patience
        if not patience or at.stale < patience:
            return False
        self._flush_step_metrics()
        emit_to(self.bus, Log(message=f"early stopping after epoch {at.epoch - 1}: validation loss has "
                                      f"not improved for {at.stale} epochs (best {at.best_val:.6g})"))
        return True

    async def _train_epoch(self, model: QuantumModel, data: Dataset, at: Position, result: TrainResult) -> bool:
        """The remaining steps of epoch `at.epoch`; False when a stop request ended it (after a checkpoint)."""
        self.state.epoch = at.epoch
        if at.order_epoch != at.epoch:
            at.order, at.order_epoch = self._rng.permutation(len(data)), at.epoch
        while at.position < at.steps_per_epoch:
            if not self._resume.is_set():
                self.state.status = "paused"
                await self._resume.wait()
                self.state.status = "running"
            if self._stop or self._budget_exhausted():
                self._flush_step_metrics()
                if self._budget_hit and at.position and result.losses:  # mid-epoch: no epoch end will say it
                    self._emit_shots_spent(at.epoch, result.losses[-1])  # the last minibatch's, as first_loss is
                result.checkpoint = await self._write_checkpoint(self._snapshot(model, at))
                return False
            before = self._snapshot(model, at) if self.config.max_cost_usd is not None else None
            try:
                await self._train_step(model, data, at, result)
            except LimitReached as exc:  # the step's rng draws and optimizer state are those before it
                await self._stop_here(before if before is not None else self._snapshot(model, at), result,
                                      note=str(exc))
                return False
        return True

    async def _stop_here(self, state: dict[str, Any], result: TrainResult, *, note: str = "") -> None:
        """Stop at `state` (a position before the work not done) with its checkpoint, as a stop request does."""
        self._flush_step_metrics()
        result.checkpoint = await self._write_checkpoint(state) or result.checkpoint
        result.status = "stopped"
        result.stop_note = note or result.stop_note

    async def _train_step(self, model: QuantumModel, data: Dataset, at: Position, result: TrainResult) -> None:
        """The next minibatch of the epoch's order: one optimizer step, its StepMetrics, a checkpoint when due."""
        cfg = self.config
        idx = at.order[at.position * cfg.batch_size:(at.position + 1) * cfg.batch_size]
        t0 = time.perf_counter()
        step = await self.train_batch(model, data.x[idx], data.y[idx])
        self._steps_s += time.perf_counter() - t0
        self._steps_timed += 1
        at.position += 1
        result.losses.append(step.loss)
        result.steps = self.state.step
        self._emit_step(step, at.epoch)
        if self.state.step % cfg.checkpoint_interval == 0:
            result.checkpoint = await self._write_checkpoint(self._snapshot(model, at))

    async def _finish_epoch(self, model: QuantumModel, train: Dataset, val: Dataset | None, at: Position,
                            result: TrainResult) -> None:
        """Evaluate the epoch, keep the early-stopping count, and move to the next epoch."""
        record = await self._end_epoch(model, train, val, at.epoch)
        result.epochs.append(record)
        if record.val_loss is not None and record.val_loss < at.best_val:
            at.best_val, at.stale = record.val_loss, 0
        elif val is not None:
            at.stale += 1
        at.epoch, at.position = at.epoch + 1, 0

    def _snapshot(self, model: QuantumModel, at: Position) -> dict[str, Any]:
        """The state a checkpoint holds (engine/resume.py), at the run's current position."""
        frugal = {"qnspsa": None if self._qnspsa is None else self._qnspsa.state_dict(),
                  "shot_adaptive": None if self._allocator is None else self._allocator.state_dict(),
                  "step_shots": self._step_shots, "first_loss": self._first_loss}
        return snapshot(step=self.state.step, at=at, rng=self._rng, model=model,
                        optimizer=self._optimizer_for(model).state_dict(), frugal=frugal, run_id=self.run_id,
                        config=self.config)

    def _emit_step(self, step: StepResult, epoch: int, *, force: bool = False) -> None:
        """StepMetrics every `log_interval` steps and for the run's last step; others wait in `_unreported`."""
        cfg = self.config
        last = step.step == self.state.total_steps - 1
        if step.step % cfg.log_interval and not (last or force):
            self._unreported = (step, epoch)
            return
        self._unreported = None
        emit_to(self.bus, StepMetrics(
            epoch=epoch, step=step.step, total_steps=self.state.total_steps, loss=step.loss,
            accuracy=step.accuracy, grad_norm=step.grad_norm if cfg.track_gradients else None,
            spsa_a=step.spsa_a, spsa_c=step.spsa_c, learning_rate=cfg.learning_rate, circuits=step.circuits,
            shots=step.shots if cfg.shots_per_circuit else None,
        ))

    def _flush_step_metrics(self) -> None:
        """A run that stops early still reports its final step."""
        if self._unreported is not None:
            self._emit_step(*self._unreported, force=True)

    async def _end_epoch(self, model: QuantumModel, train: Dataset, val: Dataset | None, epoch: int) -> EpochRecord:
        tr, va = await self._epoch_eval(model, train, val, epoch)
        knn = None
        if self.store is not None and self.config.embeddings_to_store:
            knn = await store_embeddings(self.store, self.bus, self.run_id, epoch, train, tr.embeddings, val,
                                         None if va is None else va.embeddings)
        record = EpochRecord(epoch, tr.loss, tr.accuracy, None if va is None else va.loss,
                             None if va is None else va.accuracy, knn)
        emit_to(self.bus, EpochFinished(epoch=epoch, train_loss=tr.loss, train_accuracy=tr.accuracy,
                                        val_loss=record.val_loss, val_accuracy=record.val_accuracy))
        self._emit_shots_spent(epoch, tr.loss)
        return record

    def _emit_shots_spent(self, epoch: int, train_loss: float) -> None:
        """Shots per unit of training-loss decrease so far (runs that measure shots)."""
        if self.config.shots_per_circuit and self._first_loss is not None:
            drop = self._first_loss - train_loss
            emit_to(self.bus, ShotsSpent(
                epoch=epoch, step_shots=self._step_shots, total_shots=self._runner.shots_spent,
                first_loss=self._first_loss, train_loss=train_loss,
                shots_per_loss=self._step_shots / drop if drop > 0 else None,
            ))

    # ----- checkpoints -----

    async def _write_checkpoint(self, state: dict[str, Any]) -> Path | None:
        """Atomically write the run's state after `step` steps; None when no folder is configured.

        The write (two fsyncs) runs in a worker thread: on the event loop it stalled the UI for 100+ ms.
        """
        if self.checkpoint_dir is None:
            return None
        path = await asyncio.to_thread(save_and_prune, self.checkpoint_dir, state)
        emit_to(self.bus, Checkpoint(step=state["step"], epoch=state["epoch"], path=str(path)))
        return path

    def _restore(self, model: QuantumModel, path: str | Path, fingerprint: str) -> dict[str, Any]:
        """Load a checkpoint into the model, optimizer, generator and state; refuse one that does not fit."""
        ck = load_checkpoint(path)
        restore_model(ck, path, self.config, model, fingerprint)
        self._optimizer_for(model).load_state_dict(ck["optimizer"])
        self._rng.bit_generator.state = ck["rng"]
        self._restore_frugal(model, ck.get("frugal") or {})
        self.state.step = int(ck["step"])
        changed = changed_fields(ck["config"], self.config)
        msg = f"resumed from {path} at step {self.state.step}"
        emit_to(self.bus, Log(message=msg + (f"; config changed: {', '.join(changed)}" if changed else "")))
        return ck

    def _restore_frugal(self, model: QuantumModel, saved: dict[str, Any]) -> None:
        """QN-SPSA's metric, the shot allocator and the budget's count, from a checkpoint that has them."""
        cfg, p = self.config, model.n_circuit_params
        self._step_shots = int(saved.get("step_shots", 0))
        self._runner.shots_spent += self._step_shots
        self._first_loss = saved.get("first_loss")
        if saved.get("qnspsa") is not None and cfg.gradient_estimator == "qnspsa":
            self._qnspsa = QNSPSAMetric(p, cfg.qnspsa_regularization)
            self._qnspsa.load_state_dict(saved["qnspsa"])
        if saved.get("shot_adaptive") is not None and cfg.gradient_estimator == "shot_adaptive":
            self._allocator = ShotAllocator(p, cfg.shots_per_circuit, cfg.shot_lipschitz, cfg.learning_rate)
            self._allocator.load_state_dict(saved["shot_adaptive"])

    # ----- statistics -----

    def get_performance_stats(self) -> TrainerStats:
        """Circuits, batches, average batch and step time, throughput, and the batch manager's figures."""
        run = self._runner
        return TrainerStats(
            circuits=run.circuits, batches=run.batches, steps=self.state.step,
            avg_batch_ms=1e3 * run.batch_s / run.batches if run.batches else 0.0,
            avg_step_ms=1e3 * self._steps_s / self._steps_timed if self._steps_timed else 0.0,
            throughput_cps=run.circuits / run.batch_s if run.batch_s else 0.0,
            manager=self._executor.get_performance_stats(),
        )

