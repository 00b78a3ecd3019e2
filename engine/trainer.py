"""QuantumTrainer: minibatch training of a QuantumModel with SPSA, QN-SPSA, parameter shift (fixed or adaptive
shots), finite differences or adjoint.

QN-SPSA and shot-adaptive parameter shift live in engine/optimizers/ (their estimates and state); here they are
two branches of `train_batch`. A QN-SPSA step's loss and overlap rows are two structures sent in ONE executor
call. `shot_budget` stops the run (early_stopped) once the training steps have measured that many shots.

Each optimizer step is one CircuitBatch (`spsa` alone runs its evaluations as separate batches, one
after another): the rows at the current parameters give the reported loss (the mean of the per-sample
losses, divided once) and dL/dz, from which the head's gradient is exact. The circuit's gradient
comes from the method's extra rows (see engine/gradients.py), or for `adjoint` (exact local runs,
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
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .checkpoint import CheckpointError, checkpoint_path, checkpoints_in, load_checkpoint, save_checkpoint
from .config import SECRET_FIELDS, TrainingConfig
from .data import Dataset
from .embeddings import store_embeddings
from .events import Checkpoint, EpochFinished, EventBus, Log, ShotsSpent, StepMetrics, emit_to
from .gradients import (
    FINITE_DIFF_STEP,
    PARAMETER_SHIFT,
    LossResult,
    chain_rule,
    loss_and_grads,
    mean_loss,
    rademacher,
    shift_jacobian,
    shift_rows,
    spsa_gains,
    spsa_gradient,
    spsa_rows,
)
from .model import QuantumModel
from .optim import Adam, SGD, clip_by_norm, make_optimizer
from .sim.measure import expectations_z
from .training_results import (
    EpochRecord, EvalResult, StepResult, TrainerState, TrainerStats, TrainingError, TrainResult,
)

from .circuits.template import CircuitBatch
from .optimizers.qnspsa import QNSPSAMetric, metric_sample, overlap_offsets, overlap_rows, overlap_template
from .optimizers.shot_adaptive import ShotAllocator, replica_estimates, replica_rows

if TYPE_CHECKING:
    from .batch import BatchResult, PerformanceStats
    from .store.base import VectorStore

__all__ = ["KEEP_CHECKPOINTS", "RESUME_MUST_MATCH", "EpochRecord", "EvalResult", "Executor", "QuantumTrainer",
           "StepResult", "TrainResult", "TrainerState", "TrainerStats", "TrainingError", "data_fingerprint"]

KEEP_CHECKPOINTS = 3  # older step-*.json files in the checkpoint folder are removed
# Fields that fix the shape of the state a checkpoint holds; resuming with others changed is allowed.
RESUME_MUST_MATCH = ("n_qubits", "circuit_depth", "entanglement", "batch_size", "optimizer")

_STEP, _EPOCH_EVAL, _VALIDATE = 0, 1, 2  # streams of derived shot seeds


def _derived_seed(*words: int) -> int:
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1, dtype=np.uint64)[0] >> 1)


def data_fingerprint(ds: Dataset) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds.x).tobytes())
    h.update(np.ascontiguousarray(ds.y).tobytes())
    return h.hexdigest()


class Executor(Protocol):
    """What the trainer runs batches through: a CircuitBatchManager (see engine.parts.build_manager), or a
    wrapper around one."""

    async def execute_batch(self, batch: CircuitBatch | Sequence[CircuitBatch], *, shots: int, seed: int,
                            purpose: str) -> BatchResult: ...

    def get_performance_stats(self) -> PerformanceStats: ...


@dataclass
class _Position:
    """Where a run is: epoch, steps done in it, the epoch's sample order, early-stopping state. A checkpoint
    holds it; `train` moves it forward."""

    steps_per_epoch: int
    fingerprint: str  # of the training data, so a checkpoint is never resumed on other data
    order: np.ndarray
    epoch: int = 0
    position: int = 0  # steps done in this epoch
    order_epoch: int = -1  # the epoch `order` was drawn for
    best_val: float = float("inf")
    stale: int = 0  # epochs without a better validation loss


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
        self._resume = asyncio.Event()
        self._resume.set()
        self._stop = False
        self._unreported: tuple[StepResult, int] | None = None  # (step, its epoch) not yet in a StepMetrics
        self._circuits = 0
        self._batches = 0
        self._batch_s = 0.0
        self._steps_s = 0.0
        self._steps_timed = 0
        self._shots_spent = 0  # by every batch, validation included
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
        return expectations_z(await self._probabilities(batch, purpose, seed))

    async def _probabilities(self, batch: CircuitBatch | Sequence[CircuitBatch], purpose: str, seed: int) -> np.ndarray:
        """Outcome probabilities (B, 2^n) of every row; several batches (structures) run as one call, rows in
        list order. Failed circuits are an error, never silently skipped."""
        t0 = time.perf_counter()
        result = await self._executor.execute_batch(
            batch, shots=self.config.shots_per_circuit, seed=seed, purpose=purpose
        )
        n_rows = len(batch) if isinstance(batch, CircuitBatch) else sum(len(b) for b in batch)
        self._batch_s += time.perf_counter() - t0
        self._batches += 1
        self._circuits += n_rows
        self._shots_spent += n_rows * self.config.shots_per_circuit
        if result.probabilities is None:  # a CircuitBatch is one structure: always dense
            raise TrainingError(f"step {self.state.step}: the {purpose} batch has no dense result")
        probs = np.asarray(result.probabilities)
        failures = result.failures
        bad = ~np.isfinite(probs).all(axis=1)
        if failures or bad.any():
            if failures:
                f = failures[0]
                detail = f"circuit {f.index}: {f.error_type}: {f.message}"
            else:
                detail = f"circuit {int(np.argmax(bad))}: no result"
            n_bad = len(failures) if failures else int(bad.sum())
            raise TrainingError(
                f"step {self.state.step}: {n_bad} of {n_rows} {purpose} circuits failed (first: {detail})"
            )
        return probs

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
        theta, weight, bias = model.split(params)
        inputs = model.encode(x)
        m, p = inputs.shape[0], model.n_circuit_params
        seed = _derived_seed(cfg.seed, _STEP, k)
        spsa_a = spsa_c = None
        method = cfg.gradient_estimator
        circuits = m
        shots_before = self._shots_spent
        if method == "adjoint":
            current, g_circuit = await self._adjoint(model, theta, inputs, y, n_classes)
            lr: float | np.ndarray = cfg.learning_rate
        elif method == "qnspsa":
            spsa_a, spsa_c = spsa_gains(
                k, cfg.spsa_a_initial, cfg.spsa_c_initial, cfg.spsa_alpha, cfg.spsa_gamma,
                cfg.spsa_stability(self.state.total_steps),
            )
            current, g_circuit, circuits = await self._qnspsa_step(model, theta, inputs, y, n_classes, seed, spsa_c)
            lr = np.concatenate([np.full(p, spsa_a), np.full(model.n_head_params, cfg.learning_rate)])
        elif method == "shot_adaptive":
            current, g_circuit, circuits = await self._shot_adaptive_step(model, theta, inputs, y, n_classes, seed)
            lr = cfg.learning_rate
        elif method in ("spsa", "spsa_parallel"):
            spsa_a, spsa_c = spsa_gains(
                k, cfg.spsa_a_initial, cfg.spsa_c_initial, cfg.spsa_alpha, cfg.spsa_gamma,
                cfg.spsa_stability(self.state.total_steps),
            )
            deltas = rademacher(self._rng, cfg.spsa_samples, p)
            rows, row_inputs = spsa_rows(theta, inputs, deltas, spsa_c)
            blocks = await self._blocks(model, rows, row_inputs, m, "spsa", seed, split=method == "spsa")
            current = loss_and_grads(blocks[0], y, weight, bias, n_classes)
            loss_plus = [mean_loss(b, y, weight, bias, n_classes) for b in blocks[1::2]]
            loss_minus = [mean_loss(b, y, weight, bias, n_classes) for b in blocks[2::2]]
            g_circuit = spsa_gradient(np.array(loss_plus), np.array(loss_minus), deltas, spsa_c)
            lr = np.concatenate([np.full(p, spsa_a), np.full(model.n_head_params, cfg.learning_rate)])
            circuits = rows.shape[0]
        else:
            exact = method == "parameter_shift"
            shift = PARAMETER_SHIFT if exact else FINITE_DIFF_STEP
            rows, row_inputs = shift_rows(theta, inputs, shift)
            blocks = await self._blocks(model, rows, row_inputs, m, method, seed, split=False)
            current = loss_and_grads(blocks[0], y, weight, bias, n_classes)
            g_circuit = chain_rule(shift_jacobian(blocks, shift, exact), current.d_z)
            lr = cfg.learning_rate
            circuits = rows.shape[0]
        grad = np.concatenate([g_circuit, current.d_weight.ravel(), current.d_bias])
        if cfg.weight_decay:
            grad = grad + cfg.weight_decay * params
        grad_norm = float(np.linalg.norm(grad))
        if cfg.use_gradient_clipping:
            grad = clip_by_norm(grad, cfg.gradient_clip_value)
        proposed = self._optimizer_for(model).step(params, grad, lr)
        if method == "qnspsa" and cfg.qnspsa_blocking:
            proposed = await self._qnspsa_block(model, params, proposed, inputs, y, n_classes, current.loss, seed)
        model.set_params(proposed)
        self.state.step = k + 1
        shots = self._shots_spent - shots_before
        self._step_shots += shots
        if self._first_loss is None:
            self._first_loss = current.loss
        return StepResult(k, current.loss, current.accuracy, grad_norm, circuits, spsa_a, spsa_c, shots)

    # ----- shot-frugal methods (engine/optimizers/) -----

    async def _qnspsa_step(
        self, model: QuantumModel, theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, n_classes: int, seed: int,
        c: float,
    ) -> tuple[LossResult, np.ndarray, int]:
        """QN-SPSA: loss rows [current | +c D | -c D] and 4 M overlap rows in one call; g^+ times the SPSA gradient.

        Resamplings (`spsa_samples`) average gradient and metric over that many direction draws, as PennyLane's
        `resamplings`."""
        cfg = self.config
        m, p = inputs.shape[0], theta.shape[0]
        if self._qnspsa is None:
            self._qnspsa = QNSPSAMetric(p, cfg.qnspsa_regularization)
        deltas = rademacher(self._rng, cfg.spsa_samples, p)
        pairs = [(rademacher(self._rng, 1, p)[0], rademacher(self._rng, 1, p)[0]) for _ in range(cfg.spsa_samples)]
        rows, row_inputs = spsa_rows(theta, inputs, deltas, c)
        over = [overlap_rows(theta, inputs, overlap_offsets(d1, d2, c)) for d1, d2 in pairs]
        fid_t = overlap_template(model.template)
        batches = [model.batch(row_inputs, rows)] + [CircuitBatch(fid_t, r, x) for r, x in over]
        probs = await self._probabilities(batches, "qnspsa", seed)
        n_loss = rows.shape[0]
        blocks = expectations_z(probs[:n_loss]).reshape(-1, m, model.n_qubits)
        _, weight, bias = model.split()
        current = loss_and_grads(blocks[0], y, weight, bias, n_classes)
        loss_plus = [mean_loss(b, y, weight, bias, n_classes) for b in blocks[1::2]]
        loss_minus = [mean_loss(b, y, weight, bias, n_classes) for b in blocks[2::2]]
        g_spsa = spsa_gradient(np.array(loss_plus), np.array(loss_minus), deltas, c)
        zero = probs[n_loss:, 0].reshape(cfg.spsa_samples, 4, m).mean(axis=2)  # mean overlap per offset
        sample = np.mean([metric_sample(f, d1, d2, c) for f, (d1, d2) in zip(zero, pairs)], axis=0)
        self._qnspsa.update(sample)
        return current, self._qnspsa.natural_gradient(g_spsa), probs.shape[0]

    async def _qnspsa_block(
        self, model: QuantumModel, params: np.ndarray, proposed: np.ndarray, inputs: np.ndarray, y: np.ndarray,
        n_classes: int, loss_now: float, seed: int,
    ) -> np.ndarray:
        """Blocking: the proposed parameters' loss on the same minibatch (one M-row batch); the old ones when worse."""
        assert self._qnspsa is not None
        theta_next, weight, bias = model.split(proposed)
        z = await self._execute(model.batch(inputs, np.broadcast_to(theta_next, (inputs.shape[0], theta_next.size))),
                                "qnspsa_blocking", seed + 1)
        return proposed if self._qnspsa.accept(loss_now, mean_loss(z, y, weight, bias, n_classes)) else params

    async def _shot_adaptive_step(
        self, model: QuantumModel, theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, n_classes: int, seed: int,
    ) -> tuple[LossResult, np.ndarray, int]:
        """Parameter shift with per-parameter shot counts (iCANS / Rosalin, engine/optimizers/shot_adaptive.py)."""
        cfg = self.config
        m = inputs.shape[0]
        if self._allocator is None:
            self._allocator = ShotAllocator(theta.shape[0], cfg.shots_per_circuit, cfg.shot_lipschitz, cfg.learning_rate)
        replicas = self._allocator.replicas()
        rows, row_inputs = replica_rows(theta, inputs, replicas, PARAMETER_SHIFT)
        blocks = await self._blocks(model, rows, row_inputs, m, "shot_adaptive", seed, split=False)
        _, weight, bias = model.split()
        current = loss_and_grads(blocks[0], y, weight, bias, n_classes)
        g_circuit, var = replica_estimates(blocks, current.d_z, replicas, PARAMETER_SHIFT)
        self._allocator.update(g_circuit, var * cfg.shots_per_circuit)
        return current, g_circuit, rows.shape[0]

    def _budget_exhausted(self) -> bool:
        """shot_budget: the training steps have measured that many shots (checked before each step)."""
        budget = self.config.shot_budget
        if budget is None or self._step_shots < budget:
            return False
        self._budget_hit = True
        emit_to(self.bus, Log(message=f"shot budget exhausted: the training steps measured {self._step_shots} "
                                      f"shots (shot_budget {budget})"))
        return True

    async def _adjoint(
        self, model: QuantumModel, theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, n_classes: int
    ) -> tuple[LossResult, np.ndarray]:
        """The loss at theta and its exact circuit gradient: one forward and one backward pass (engine/sim/adjoint.py).

        The embedded simulator runs it directly (config validation admits adjoint only for exact local
        runs), on a worker thread; dL/dz from the loss is the backward pass's cotangent, so the chain
        rule through head and loss costs one pass, not one per qubit. Counted as M circuits in the stats.
        """
        from .sim.adjoint import value_and_grad

        _, weight, bias = model.split()
        losses: list[LossResult] = []

        def cotangent(z: np.ndarray) -> np.ndarray:
            losses.append(loss_and_grads(z, y, weight, bias, n_classes))
            return losses[-1].d_z

        m = inputs.shape[0]
        t0 = time.perf_counter()
        res = await asyncio.to_thread(value_and_grad, model.template, np.tile(theta, (m, 1)), inputs, cotangent)
        self._batch_s += time.perf_counter() - t0
        self._batches += 1
        self._circuits += m
        g_circuit = res.grad.sum(axis=0)
        if not (np.isfinite(res.z).all() and np.isfinite(g_circuit).all()):
            raise TrainingError(f"step {self.state.step}: the adjoint pass gave non-finite values")
        return losses[-1], g_circuit

    async def _blocks(
        self, model: QuantumModel, rows: np.ndarray, inputs: np.ndarray, m: int, purpose: str, seed: int, *, split: bool
    ) -> np.ndarray:
        """<Z> of every row as (blocks, M, n): one batch, or (split) one batch per block in turn."""
        if not split:
            z = await self._execute(model.batch(inputs, rows), purpose, seed)
        else:
            parts = []
            for i in range(rows.shape[0] // m):
                sl = slice(i * m, (i + 1) * m)
                parts.append(await self._execute(model.batch(inputs[sl], rows[sl]), purpose, seed + i))
            z = np.concatenate(parts)
        return z.reshape(-1, m, model.n_qubits)

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
        circuits_before = self._circuits
        try:
            while at.epoch < self.config.epochs:
                if self._patience_exhausted(at):
                    result.status = "early_stopped"
                    break
                if not await self._train_epoch(model, train_data, at, result):
                    result.status = "early_stopped" if self._budget_hit else "stopped"
                    return result
                await self._finish_epoch(model, train_data, val_data, at, result)
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
            result.circuits = self._circuits - circuits_before

    def _start(self, model: QuantumModel, train_data: Dataset, val_data: Dataset | None,
               resume_from: str | Path | None) -> _Position:
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
        at = _Position(steps_per_epoch, data_fingerprint(train_data), np.arange(n))
        if resume_from is not None:
            ck = self._restore(model, resume_from, at.fingerprint)
            at.epoch, at.position = ck["epoch"], ck["position"]
            at.order, at.order_epoch = np.asarray(ck["order"], dtype=np.int64), ck["order_epoch"]
            at.best_val = float("inf") if ck["best_val_loss"] is None else ck["best_val_loss"]
            at.stale = ck["stale_epochs"]
        elif model.scaler is None:
            model.fit_scaler(train_data.x)
        return at

    def _patience_exhausted(self, at: _Position) -> bool:
        """Early stopping: `early_stopping_patience` epochs without a better validation loss (said in a Log)."""
        patience = self.config.early_stopping_patience
        if not patience or at.stale < patience:
            return False
        self._flush_step_metrics()
        emit_to(self.bus, Log(message=f"early stopping after epoch {at.epoch - 1}: validation loss has "
                                      f"not improved for {at.stale} epochs (best {at.best_val:.6g})"))
        return True

    async def _train_epoch(self, model: QuantumModel, data: Dataset, at: _Position, result: TrainResult) -> bool:
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
                result.checkpoint = await self._write_checkpoint(self._snapshot(model, at))
                return False
            await self._train_step(model, data, at, result)
        return True

    async def _train_step(self, model: QuantumModel, data: Dataset, at: _Position, result: TrainResult) -> None:
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

    async def _finish_epoch(self, model: QuantumModel, train: Dataset, val: Dataset | None, at: _Position,
                            result: TrainResult) -> None:
        """Evaluate the epoch, keep the early-stopping count, and move to the next epoch."""
        record = await self._end_epoch(model, train, val, at.epoch)
        result.epochs.append(record)
        if record.val_loss is not None and record.val_loss < at.best_val:
            at.best_val, at.stale = record.val_loss, 0
        elif val is not None:
            at.stale += 1
        at.epoch, at.position = at.epoch + 1, 0

    def _snapshot(self, model: QuantumModel, at: _Position) -> dict[str, Any]:
        """The state a checkpoint holds (see engine/checkpoint.py), at the run's current position."""
        return {
            "step": self.state.step, "epoch": at.epoch, "position": at.position, "order": at.order,
            "order_epoch": at.order_epoch,
            "rng": self._rng.bit_generator.state, "model": model.to_dict(),
            "optimizer": self._optimizer_for(model).state_dict(),
            "frugal": {"qnspsa": None if self._qnspsa is None else self._qnspsa.state_dict(),
                       "shot_adaptive": None if self._allocator is None else self._allocator.state_dict(),
                       "step_shots": self._step_shots, "first_loss": self._first_loss},
            "best_val_loss": at.best_val if np.isfinite(at.best_val) else None,
            "stale_epochs": at.stale, "data_fingerprint": at.fingerprint, "run_id": self.run_id,
            "config": self.config.model_dump(mode="json", exclude=set(SECRET_FIELDS)),
        }

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
        if self.config.shots_per_circuit and self._first_loss is not None:
            drop = self._first_loss - tr.loss
            emit_to(self.bus, ShotsSpent(
                epoch=epoch, step_shots=self._step_shots, total_shots=self._shots_spent, first_loss=self._first_loss,
                train_loss=tr.loss, shots_per_loss=self._step_shots / drop if drop > 0 else None,
            ))
        return record

    # ----- checkpoints -----

    async def _write_checkpoint(self, state: dict[str, Any]) -> Path | None:
        """Atomically write the run's state after `step` steps; None when no folder is configured.

        The write (two fsyncs) runs in a worker thread: on the event loop it stalled the UI for 100+ ms.
        """
        if self.checkpoint_dir is None:
            return None
        path = await asyncio.to_thread(self._save_and_prune, self.checkpoint_dir, state)
        emit_to(self.bus, Checkpoint(step=state["step"], epoch=state["epoch"], path=str(path)))
        return path

    @staticmethod
    def _save_and_prune(directory: Path, state: dict[str, Any]) -> Path:
        path = save_checkpoint(checkpoint_path(directory, state["step"]), state)
        for old in checkpoints_in(directory)[:-KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
        return path

    def _restore(self, model: QuantumModel, path: str | Path, fingerprint: str) -> dict[str, Any]:
        """Load a checkpoint into the model, optimizer, generator and state; refuse one that does not fit."""
        ck = load_checkpoint(path)
        saved = ck["config"]
        for name in RESUME_MUST_MATCH:
            if saved.get(name) != getattr(self.config, name):
                raise CheckpointError(
                    f"{path}: {name}: checkpoint has {saved.get(name)!r}, this run has {getattr(self.config, name)!r}"
                )
        if ck["data_fingerprint"] != fingerprint:
            raise CheckpointError(f"{path}: data_fingerprint: the training data differs from the checkpoint's")
        saved_model = QuantumModel.from_dict(ck["model"])
        if saved_model.architecture() != model.architecture():
            raise CheckpointError(f"{path}: model: checkpoint has {saved_model.architecture()}, "
                                  f"this model is {model.architecture()}")
        if saved_model.scaler is None:
            raise CheckpointError(f"{path}: model.scaler: the checkpoint has no fitted scaler")
        model.set_params(saved_model.get_params())
        model.scaler = saved_model.scaler
        self._optimizer_for(model).load_state_dict(ck["optimizer"])
        self._rng.bit_generator.state = ck["rng"]
        self._restore_frugal(model, ck.get("frugal") or {})
        self.state.step = int(ck["step"])
        changed = [k for k, v in saved.items() if k in TrainingConfig.model_fields and v != _jsonable(self.config, k)]
        msg = f"resumed from {path} at step {self.state.step}"
        emit_to(self.bus, Log(message=msg + (f"; config changed: {', '.join(changed)}" if changed else "")))
        return ck

    def _restore_frugal(self, model: QuantumModel, saved: dict[str, Any]) -> None:
        """QN-SPSA's metric, the shot allocator and the budget's count, from a checkpoint that has them."""
        cfg, p = self.config, model.n_circuit_params
        self._step_shots = int(saved.get("step_shots", 0))
        self._shots_spent += self._step_shots
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
        return TrainerStats(
            circuits=self._circuits, batches=self._batches, steps=self.state.step,
            avg_batch_ms=1e3 * self._batch_s / self._batches if self._batches else 0.0,
            avg_step_ms=1e3 * self._steps_s / self._steps_timed if self._steps_timed else 0.0,
            throughput_cps=self._circuits / self._batch_s if self._batch_s else 0.0,
            manager=self._executor.get_performance_stats(),
        )


def _jsonable(config: TrainingConfig, name: str) -> Any:
    return config.model_dump(mode="json", include={name})[name]
