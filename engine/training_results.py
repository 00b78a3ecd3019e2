"""What the trainer reports: its state, each step, each epoch, a whole training call, and its statistics."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, SupportsIndex, overload

import numpy as np

if TYPE_CHECKING:
    from .batch import PerformanceStats


class TrainingError(RuntimeError):
    """Training cannot continue (e.g. circuits failed); the message names the step and the cause."""


class LimitReached(TrainingError):
    """A batch's job was not run: it would have taken the run's spend past `max_cost_usd`, or IonQ's session
    refused it at one of its limits. The trainer stops with a checkpoint at the step (or the evaluation) it could
    not run, which a resume (with the limit raised) redoes."""


@dataclass
class TrainerState:
    """Where the trainer is; read by the session and the UI."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    total_steps: int = 0
    status: Literal["idle", "running", "paused", "stopped", "completed", "early_stopped", "failed"] = "idle"


@dataclass
class StepResult:
    step: int  # 0-based index of the step just taken
    loss: float  # minibatch loss at the parameters before the update
    accuracy: float | None
    grad_norm: float  # before clipping, including weight decay
    circuits: int
    spsa_a: float | None = None
    spsa_c: float | None = None
    shots: int = 0  # shots the step's circuits measured (0 for exact expectations)


@dataclass
class EvalResult:
    loss: float
    accuracy: float | None
    embeddings: np.ndarray  # (N, n_qubits): <Z_i> per sample


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float | None
    val_loss: float | None = None
    val_accuracy: float | None = None
    knn_accuracy: float | None = None


class FloatLog(array):  # type: ignore[type-arg]
    """Floats appended one per step, 8 bytes each (a list of floats holds ~32: a 20,000-step run's losses were
    a third of its remaining memory growth). Compares equal to a list, tuple or array of the same values."""

    def __new__(cls, values: Iterable[float] = ()) -> FloatLog:
        return super().__new__(cls, "d", values)  # type: ignore[return-value]

    @overload
    def __getitem__(self, index: SupportsIndex) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> FloatLog: ...

    def __getitem__(self, index: SupportsIndex | slice) -> float | FloatLog:
        if isinstance(index, slice):
            return FloatLog(super().__getitem__(index))
        return float(super().__getitem__(index))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, array)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None


@dataclass
class TrainResult:
    status: Literal["completed", "stopped", "early_stopped"]
    steps: int  # optimizer steps done in total (including those before a resume)
    first_step: int  # the step this call started from
    losses: FloatLog = field(default_factory=FloatLog)  # per step, from first_step on
    epochs: list[EpochRecord] = field(default_factory=list)
    wall_s: float = 0.0
    circuits: int = 0
    checkpoint: Path | None = None
    stop_note: str = ""  # why the trainer stopped itself (a spend cap), for RunFinished's message

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    @property
    def val_accuracy(self) -> float | None:
        return self.epochs[-1].val_accuracy if self.epochs else None


@dataclass(frozen=True)
class TrainerStats:
    """What the trainer has run so far, and the batch manager's own figures."""

    circuits: int
    batches: int
    steps: int
    avg_batch_ms: float
    avg_step_ms: float
    throughput_cps: float  # circuits per second of batch time
    manager: PerformanceStats
