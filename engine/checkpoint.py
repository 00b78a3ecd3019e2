"""Atomic checkpoint files: JSON with exact floats and tagged numpy arrays.

A checkpoint is written to a temporary file in the target folder, fsynced, then renamed over the
target (and the folder fsynced), so a crash leaves either the old file or the new one, never half
of one. Floats are written with `repr`, which round-trips float64 exactly, so a resumed run
continues bit for bit. Arrays are stored as {"__ndarray__": dtype, "shape": [...], "data": [...]}.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import atomic_write_bytes

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
    """The step-*.json checkpoints in `directory`, fewest steps first (empty when there is no folder)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name)))
    return [p for _, p in found]


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint with the most steps in `directory`, or None when there is none."""
    found = checkpoints_in(directory)
    return found[-1] if found else None
