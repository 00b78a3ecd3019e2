"""Atomic checkpoint files: JSON with exact floats and tagged numpy arrays.

A checkpoint is written to a temporary file in the target folder, fsynced, then renamed over the
target (and the folder fsynced), so a crash leaves either the old file or the new one, never half
of one. Floats are written with `repr`, which round-trips float64 exactly, so a resumed run
continues bit for bit. Arrays are stored as {"__ndarray__": dtype, "shape": [...], "data": [...]}.

A trainer's checkpoint is validated into `TrainingCheckpoint` (strict types, every field named in
the error) before anything uses it. `find_resume_point` picks the newest checkpoint that validates;
damaged newer ones are renamed aside (`step-000123.json.damaged`) and reported, never deleted.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel, ConfigDict, Discriminator, Field, JsonValue, StrictFloat, StrictInt, Tag, ValidationError, model_validator,
)

from .fileio import DAMAGED_SUFFIX, atomic_write_bytes, damaged_name

FORMAT = "qstore-checkpoint/1"
_NAME = re.compile(r"^step-(\d+)\.json$")


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit the run; the message names the file and the field."""


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.dtype.str, "shape": list(value.shape), "data": value.ravel().tolist()}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.array(value["data"], dtype=np.dtype(value["__ndarray__"])).reshape(value["shape"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps(state: dict[str, Any]) -> bytes:
    """JSON bytes of a state dict; NaN or infinity anywhere is an error (it would not resume)."""
    try:
        return json.dumps(_encode(state), allow_nan=False, separators=(",", ":")).encode()
    except ValueError as exc:
        raise CheckpointError(f"checkpoint state is not finite JSON: {exc}") from None


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write `state` (tagged with the format) to `path`."""
    return atomic_write_bytes(path, dumps({"format": FORMAT, **state}))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state written by `save_checkpoint`, arrays restored; a bad file raises CheckpointError naming it."""
    path = Path(path)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise CheckpointError(f"{path}: format: expected {FORMAT!r}, got {got!r}")
    try:
        return _decode(raw)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad array data: {exc}") from None


def checkpoint_path(directory: str | os.PathLike[str], step: int) -> Path:
    """Where the checkpoint after `step` optimizer steps goes: <dir>/step-000123.json."""
    return Path(directory) / f"step-{step:06d}.json"


def checkpoints_in(directory: str | os.PathLike[str]) -> list[Path]:
    """The step-*.json checkpoints in `directory`, fewest steps first (empty when there is no folder).
    CheckpointError when `directory` is a file: a resume would otherwise start over and fail at its first save."""
    directory = Path(directory)
    if not directory.is_dir():
        if directory.exists():
            raise CheckpointError(f"{directory}: not a directory (checkpoints are kept in a folder of that name)")
        return []
    found = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name)))
    return [p for _, p in found]


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint with the most steps in `directory`, or None when there is none."""
    found = checkpoints_in(directory)
    return found[-1] if found else None


# ----------------------------------------------------------------------- the trainer's checkpoint

_Count = Annotated[int, Field(strict=True, ge=0)]
_Number = Annotated[float, Field(allow_inf_nan=False)]
_ARRAY_DTYPES = ("<f8", "<i8")


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


class _Open(BaseModel):
    """Known fields strict, unknown ones kept: other parts add fields (a model's encoding, an optimizer's
    extra state) and a checkpoint written by them must not be set aside as damaged."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)


class TaggedArray(_Strict):
    """A numpy array as `_encode` writes it: dtype, shape and the flat data."""

    dtype: Literal["<f8", "<i8"] = Field(alias="__ndarray__")
    shape: list[_Count]
    data: list[StrictInt | StrictFloat]

    @model_validator(mode="after")
    def _fits(self) -> "TaggedArray":
        if math.prod(self.shape) != len(self.data):
            raise ValueError(f"shape {self.shape} holds {math.prod(self.shape)} values, data has {len(self.data)}")
        if self.dtype == "<i8" and any(isinstance(v, float) for v in self.data):
            raise ValueError("an integer array holds a float")
        if self.dtype == "<f8" and not all(math.isfinite(v) for v in self.data):
            raise ValueError("holds NaN or infinity")
        return self

    def to_numpy(self) -> np.ndarray:
        return np.array(self.data, dtype=np.dtype(self.dtype)).reshape(self.shape)


class PCG64Words(_Strict):
    state: _Count
    inc: _Count


class RngState(_Strict):
    """numpy's `default_rng().bit_generator.state` (PCG64)."""

    bit_generator: Literal["PCG64"]
    state: PCG64Words
    has_uint32: _Count
    uinteger: _Count

    @model_validator(mode="after")
    def _loads(self) -> "RngState":
        try:
            np.random.default_rng().bit_generator.state = self.model_dump()
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"numpy refuses the generator state: {exc}") from None
        return self


class ScalerState(_Open):
    minimum: list[_Number]
    maximum: list[_Number]
    total_clipped: _Count = 0

    @model_validator(mode="after")
    def _ordered(self) -> "ScalerState":
        if len(self.minimum) != len(self.maximum) or any(lo > hi for lo, hi in zip(self.minimum, self.maximum)):
            raise ValueError("minimum and maximum must be equal-length lists with minimum <= maximum")
        return self


class ModelState(_Open):
    """`QuantumModel.to_dict()`: the architecture, the parameters and the fitted scaler."""

    format: str
    input_dim: Annotated[int, Field(strict=True, ge=1)]
    n_qubits: Annotated[int, Field(strict=True, ge=1)]
    output_dim: Annotated[int, Field(strict=True, ge=1)]
    circuit_depth: _Count
    entanglement: str
    params: list[_Number]
    scaler: ScalerState | None


class AdamState(_Open):
    kind: Literal["adam"]
    m: TaggedArray
    v: TaggedArray
    t: _Count

    @property
    def n_params(self) -> int:
        return len(self.m.data)

    @model_validator(mode="after")
    def _same_shape(self) -> "AdamState":
        if self.m.shape != self.v.shape:
            raise ValueError(f"m has shape {self.m.shape}, v has {self.v.shape}")
        return self


class SGDState(_Open):
    kind: Literal["sgd"]
    velocity: TaggedArray

    @property
    def n_params(self) -> int:
        return len(self.velocity.data)


class OtherOptimizerState(_Open):
    """An optimizer this module does not know in detail (added later): its own load_state_dict checks it."""

    kind: str

    @model_validator(mode="after")
    def _unknown_kind(self) -> "OtherOptimizerState":
        if self.kind in ("adam", "sgd"):
            raise ValueError(f"{self.kind} state does not have its fields")
        return self

    @property
    def n_params(self) -> int | None:
        return None


def _optimizer_kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in ("adam", "sgd") else "other"


class TrainingCheckpoint(_Strict):
    """Everything a trainer writes at a checkpoint, validated; `state()` is the dict the trainer restores.

    Unknown top-level fields are kept (a newer writer may add some); the known ones are strict.
    """

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)

    format: Literal["qstore-checkpoint/1"]
    step: _Count
    epoch: _Count
    position: _Count
    order: TaggedArray
    order_epoch: Annotated[int, Field(strict=True, ge=-1)]
    rng: RngState
    model: ModelState
    optimizer: Annotated[Annotated[AdamState, Tag("adam")] | Annotated[SGDState, Tag("sgd")]
                         | Annotated[OtherOptimizerState, Tag("other")], Discriminator(_optimizer_kind)]
    best_val_loss: _Number | None
    stale_epochs: _Count
    data_fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    run_id: str | None
    config: dict[str, JsonValue]

    @model_validator(mode="after")
    def _consistent(self) -> "TrainingCheckpoint":
        order = self.order
        if order.dtype != "<i8" or len(order.shape) != 1 or sorted(order.data) != list(range(len(order.data))):
            raise ValueError("order: must be a permutation of the training sample indices")
        n_params = self.optimizer.n_params
        if n_params is not None and n_params != len(self.model.params):
            raise ValueError(f"optimizer: holds state for {n_params} parameters, "
                             f"the model has {len(self.model.params)}")
        return self

    def state(self) -> dict[str, Any]:
        """The checkpoint as `load_checkpoint` returns it: arrays restored, extra fields included."""
        raw = self.model_dump(mode="python", by_alias=True)
        return dict(_decode(raw))


def _where(error: Any) -> str:
    loc = [str(p) for p in error.get("loc", ()) if not (isinstance(p, str) and p in ("adam", "sgd", "other"))]
    return ".".join(loc) or "checkpoint"


def read_training_checkpoint(path: str | os.PathLike[str]) -> TrainingCheckpoint:
    """The trainer's checkpoint at `path`, validated; CheckpointError names the file and the first bad field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint: {exc}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: not a checkpoint: the file holds a JSON {type(raw).__name__}, not an object")
    try:
        return TrainingCheckpoint.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CheckpointError(f"{path}: {_where(first)}: {first['msg']}{more}") from None
    except RecursionError:
        raise CheckpointError(f"{path}: not a checkpoint: nested too deeply") from None


@dataclass(frozen=True)
class SetAside:
    """A damaged checkpoint, renamed so no resume picks it again; `reason` says what was wrong."""

    path: Path
    moved_to: Path
    reason: str


@dataclass(frozen=True)
class ResumePoint:
    """The newest checkpoint that validates, and the damaged newer ones set aside on the way to it."""

    path: Path
    checkpoint: TrainingCheckpoint
    set_aside: tuple[SetAside, ...] = ()

    @property
    def step(self) -> int:
        return self.checkpoint.step




def set_aside(path: Path, reason: str) -> SetAside:
    """Rename a damaged checkpoint to `<name>.damaged` (`.damaged-2`, ... if taken); kept for inspection."""
    target = damaged_name(path)
    try:
        os.replace(path, target)
    except OSError as exc:
        raise CheckpointError(f"{path}: damaged ({reason}) and cannot be set aside: {exc.strerror}") from None
    return SetAside(path, target, reason)


def find_resume_point(directory: str | os.PathLike[str]) -> ResumePoint | None:
    """The newest valid checkpoint in `directory`, setting aside every damaged newer one.

    None when the folder holds no checkpoint at all. When it holds only damaged ones, they are set
    aside and CheckpointError names each: resuming from step 0 would silently throw the run away.
    """
    skipped: list[SetAside] = []
    for path in reversed(checkpoints_in(directory)):
        try:
            checkpoint = read_training_checkpoint(path)
        except CheckpointError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            skipped.append(set_aside(path, reason))
            continue
        return ResumePoint(path, checkpoint, tuple(skipped))
    if skipped:
        listed = "; ".join(f"{s.path.name} ({s.reason}), set aside as {s.moved_to.name}" for s in skipped)
        raise CheckpointError(f"{directory}: no valid checkpoint to resume from: {listed}. Resuming again "
                              f"starts over from step 0")
    return None
