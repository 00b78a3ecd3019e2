"""Shared by the sweep tests: the tiniest trainable config, and what the run directories say about a study."""

from __future__ import annotations

import json
from pathlib import Path

from engine.config import TrainingConfig
from engine.events import RunStarted
from engine.runs import read_events, read_sweep_tag
from engine.runs.directory import CONFIG_FILE

# Two qubits, a dozen samples, exact expectations: a trial trains in well under a second once warm.
TINY_BASE = dict(n_qubits=2, circuit_depth=1, n_samples=12, epochs=2, batch_size=4, shots_per_circuit=0,
                 embeddings_to_store=False, use_native_gates=False, checkpoint_interval=2)
SPACE = {"learning_rate": {"type": "float", "low": 0.001, "high": 0.3, "log": True},
         "seed": {"type": "int", "low": 0, "high": 5}}


def tiny_base(**kw: object) -> TrainingConfig:
    return TrainingConfig(**{**TINY_BASE, **kw})


def trial_runs(*runs_dirs: Path) -> dict[int, list[Path]]:
    """Trial number -> the run directories that ran it (across every machine's runs directory)."""
    out: dict[int, list[Path]] = {}
    for root in runs_dirs:
        for run in Path(root).iterdir():
            if not (run / CONFIG_FILE).is_file():
                continue
            tag = read_sweep_tag(run)
            assert tag is not None, f"{run} has no sweep.json"
            out.setdefault(tag.trial, []).append(run)
    return out


def segments(run: Path) -> int:
    return sum(isinstance(e, RunStarted) for e in read_events(run))


def sweep_files(tmp_path: Path) -> tuple[Path, Path]:
    """base.toml (TINY_BASE) and space.toml (SPACE) written for the CLI."""
    base = tmp_path / "base.toml"
    base.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in TINY_BASE.items()))
    space = tmp_path / "space.toml"
    space.write_text("".join(f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
                             for name, table in SPACE.items()))
    return base, space
