"""What a training run's checkpoint holds and how a run resumes from one: the run's position, the snapshot the
trainer writes (engine/checkpoint.py writes the file), pruning old files, and refusing a checkpoint that does not
fit this run (config shape, training data, model architecture)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import CheckpointError, checkpoint_path, checkpoints_in, save_checkpoint
from .config import SECRET_FIELDS, TrainingConfig
from .data import Dataset
from .model import QuantumModel

__all__ = ["KEEP_CHECKPOINTS", "RESUME_MUST_MATCH", "Position", "changed_fields", "data_fingerprint",
           "restore_model", "save_and_prune", "snapshot"]

KEEP_CHECKPOINTS = 3  # older step-*.json files in the checkpoint folder are removed
# Fields that fix the shape of the state a checkpoint holds; resuming with others changed is allowed.
RESUME_MUST_MATCH = ("n_qubits", "circuit_depth", "entanglement", "batch_size", "optimizer")


def data_fingerprint(ds: Dataset) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds.x).tobytes())
    h.update(np.ascontiguousarray(ds.y).tobytes())
    return h.hexdigest()


@dataclass
class Position:
    """Where a run is: epoch, steps done in it, the epoch's sample order, early-stopping state. A checkpoint
    holds it; the trainer moves it forward."""

    steps_per_epoch: int
    fingerprint: str  # of the training data, so a checkpoint is never resumed on other data
    order: np.ndarray
    epoch: int = 0
    position: int = 0  # steps done in this epoch
    order_epoch: int = -1  # the epoch `order` was drawn for
    best_val: float = float("inf")
    stale: int = 0  # epochs without a better validation loss

    def restore(self, ck: dict[str, Any]) -> None:
        """Take the position a checkpoint saved."""
        self.epoch, self.position = ck["epoch"], ck["position"]
        self.order, self.order_epoch = np.asarray(ck["order"], dtype=np.int64), ck["order_epoch"]
        self.best_val = float("inf") if ck["best_val_loss"] is None else ck["best_val_loss"]
        self.stale = ck["stale_epochs"]


def snapshot(*, step: int, at: Position, rng: np.random.Generator, model: QuantumModel, optimizer: dict[str, Any],
             frugal: dict[str, Any], run_id: str, config: TrainingConfig) -> dict[str, Any]:
    """The state a checkpoint holds (see engine/checkpoint.py), at the run's current position; no secrets."""
    return {
        "step": step, "epoch": at.epoch, "position": at.position, "order": at.order,
        "order_epoch": at.order_epoch,
        "rng": rng.bit_generator.state, "model": model.to_dict(),
        "optimizer": optimizer,
        "frugal": frugal,
        "best_val_loss": at.best_val if np.isfinite(at.best_val) else None,
        "stale_epochs": at.stale, "data_fingerprint": at.fingerprint, "run_id": run_id,
        "config": config.model_dump(mode="json", exclude=set(SECRET_FIELDS)),
    }


def save_and_prune(directory: Path, state: dict[str, Any]) -> Path:
    """Write the checkpoint of `state["step"]` and keep only the newest KEEP_CHECKPOINTS in `directory`."""
    path = save_checkpoint(checkpoint_path(directory, state["step"]), state)
    for old in checkpoints_in(directory)[:-KEEP_CHECKPOINTS]:
        old.unlink(missing_ok=True)
    return path


def restore_model(ck: dict[str, Any], path: str | Path, config: TrainingConfig, model: QuantumModel,
                  fingerprint: str) -> None:
    """Refuse a checkpoint that does not fit this run (naming the field); else load its parameters and scaler."""
    saved = ck["config"]
    for name in RESUME_MUST_MATCH:
        if saved.get(name) != getattr(config, name):
            raise CheckpointError(
                f"{path}: {name}: checkpoint has {saved.get(name)!r}, this run has {getattr(config, name)!r}"
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


def changed_fields(saved: dict[str, Any], config: TrainingConfig) -> list[str]:
    """Config fields whose value differs from the checkpoint's (said in the resume Log)."""
    return [k for k, v in saved.items() if k in TrainingConfig.model_fields and v != _jsonable(config, k)]


def _jsonable(config: TrainingConfig, name: str) -> Any:
    return config.model_dump(mode="json", include={name})[name]
