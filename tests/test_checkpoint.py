"""Checkpoint files: atomic writes, exact round trips, clear errors."""

import json
import os

import numpy as np
import pytest

from engine.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    checkpoint_path,
    checkpoints_in,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)


def test_round_trip_is_exact_for_floats_arrays_and_rng_state(tmp_path):
    rng = np.random.default_rng(123)
    rng.random(7)
    values = np.array([0.1, 1 / 3, np.pi, 1e-300, -2.5e17, np.nextafter(1.0, 2.0)])
    state = {"params": values, "ints": np.arange(5, dtype=np.int64), "step": 7, "rng": rng.bit_generator.state,
             "nested": {"m": values.reshape(2, 3), "t": 3}, "loss": 0.1 + 0.2}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "c.json", state))
    assert loaded["params"].dtype == np.float64 and np.array_equal(loaded["params"], values)
    assert loaded["ints"].dtype == np.int64 and loaded["ints"].tolist() == [0, 1, 2, 3, 4]
    assert np.array_equal(loaded["nested"]["m"], values.reshape(2, 3))
    assert loaded["loss"] == 0.1 + 0.2 and loaded["step"] == 7
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["rng"]
    assert np.array_equal(restored.random(10), rng.random(10))


def test_write_leaves_no_temporary_file_and_replaces_the_old_one(tmp_path):
    path = tmp_path / "deep" / "c.json"
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 2
    assert os.listdir(path.parent) == ["c.json"]


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.json"
    save_checkpoint(path, {"step": 1})
    with pytest.raises(CheckpointError, match="not finite JSON"):
        save_checkpoint(path, {"step": 2, "loss": float("nan")})
    assert load_checkpoint(path)["step"] == 1

    target = tmp_path / "taken"
    (target / "inside").mkdir(parents=True)  # a non-empty folder: the final rename fails
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"{}")
    assert sorted(os.listdir(tmp_path)) == ["c.json", "taken"]  # no temporary file left behind


def test_bad_files_raise_naming_the_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing.json: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"bad.json: not a readable checkpoint"):
        load_checkpoint(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "v0"}))
    with pytest.raises(CheckpointError, match=r"other.json: format: expected 'qstore-checkpoint/1', got 'v0'"):
        load_checkpoint(other)


def test_latest_checkpoint_orders_by_step_number(tmp_path):
    assert latest_checkpoint(tmp_path / "none") is None
    for step in (9, 1_000_000, 10, 999_999):
        save_checkpoint(checkpoint_path(tmp_path, step), {"step": step})
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in checkpoints_in(tmp_path)] == [
        "step-000009.json", "step-000010.json", "step-999999.json", "step-1000000.json"]
    assert latest_checkpoint(tmp_path).name == "step-1000000.json"
