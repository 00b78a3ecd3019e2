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


# ----- the trainer's checkpoint: validated, damaged ones set aside -----

import asyncio  # noqa: E402
import shutil  # noqa: E402

from engine.checkpoint import (  # noqa: E402
    DAMAGED_SUFFIX,
    find_resume_point,
    read_training_checkpoint,
)


@pytest.fixture(scope="module")
def real_checkpoints(tmp_path_factory):
    """The last three checkpoints (steps 4, 6, 8) of a real run (24 training samples in steps of 4, twice)."""
    from engine.config import TrainingConfig
    from engine.session import EngineSession

    cfg = TrainingConfig(n_qubits=2, circuit_depth=1, n_samples=30, batch_size=4, epochs=2, shots_per_circuit=0,
                         seed=0, checkpoint_interval=2, embeddings_to_store=False)
    session = EngineSession(cfg, runs_dir=tmp_path_factory.mktemp("ck"))
    asyncio.run(session.run())
    return session.run_dir / "checkpoints"


def _copy(src, tmp_path):
    dst = tmp_path / "checkpoints"
    shutil.copytree(src, dst)
    return dst


def test_a_real_checkpoint_validates_and_restores_what_load_checkpoint_gives(real_checkpoints):
    path = latest_checkpoint(real_checkpoints)
    ck = read_training_checkpoint(path)
    state, plain = ck.state(), load_checkpoint(path)
    assert state.keys() == plain.keys() and ck.step == plain["step"]
    assert np.array_equal(state["order"], plain["order"]) and state["order"].dtype == np.int64
    assert state["rng"] == plain["rng"] and state["model"] == plain["model"]
    assert np.array_equal(state["optimizer"]["m"], plain["optimizer"]["m"])


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("config"), "config: Field required"),
    (lambda d: d.update(step="5"), "step: Input should be a valid integer"),
    (lambda d: d.update(step=-1), "step: Input should be greater than or equal to 0"),
    (lambda d: d["rng"].update(bit_generator="MT19937"), "rng.bit_generator"),
    (lambda d: d["model"].update(params=d["model"]["params"][:-1]), "optimizer: holds state for"),
    (lambda d: d["order"].update(data=[0] * len(d["order"]["data"])), "order: must be a permutation"),
    (lambda d: d["optimizer"].pop("m"), "optimizer.m: Field required"),
    (lambda d: d["optimizer"].update(kind=3), "optimizer.kind: Input should be a valid string"),
    (lambda d: d["optimizer"]["m"].update(shape=[3]), "optimizer.m: Value error, shape [3] holds 3 values"),
    (lambda d: d.update(best_val_loss="low"), "best_val_loss"),
    (lambda d: d.update(data_fingerprint=7), "data_fingerprint"),
])
def test_missing_or_wrong_typed_fields_name_the_file_and_the_field(real_checkpoints, tmp_path, edit, field):
    data = json.loads(latest_checkpoint(real_checkpoints).read_text())
    edit(data)
    bad = tmp_path / "step-000012.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(CheckpointError) as info:
        read_training_checkpoint(bad)
    assert str(info.value).startswith(f"{bad}: ") and field in str(info.value)


def test_a_damaged_newest_checkpoint_is_set_aside_and_the_newest_valid_one_is_used(real_checkpoints, tmp_path):
    folder = _copy(real_checkpoints, tmp_path)
    newest, middle, oldest = reversed(checkpoints_in(folder))
    torn = newest.read_bytes()[:100]
    newest.write_bytes(torn)
    middle.write_text(json.dumps({**json.loads(middle.read_text()), "step": "four"}))
    point = find_resume_point(folder)
    assert point.path == oldest and point.step == int(oldest.stem.split("-")[1])
    assert [(s.path.name, s.moved_to.name) for s in point.set_aside] == [
        (newest.name, newest.name + DAMAGED_SUFFIX), (middle.name, middle.name + DAMAGED_SUFFIX)]
    assert "not a readable checkpoint" in point.set_aside[0].reason and "step" in point.set_aside[1].reason
    assert checkpoints_in(folder) == [oldest]  # the damaged ones are kept, under names no resume picks
    assert (folder / (newest.name + DAMAGED_SUFFIX)).read_bytes() == torn


def test_only_damaged_checkpoints_is_an_error_naming_each(real_checkpoints, tmp_path):
    folder = _copy(real_checkpoints, tmp_path)
    for path in checkpoints_in(folder):
        path.write_text("[]")
    newest = checkpoints_in(folder)[-1].name
    with pytest.raises(CheckpointError, match=rf"no valid checkpoint to resume from: {newest} \(not a "
                                              r"checkpoint: the file holds a JSON list"):
        find_resume_point(folder)
    assert checkpoints_in(folder) == [] and len(list(folder.iterdir())) == 3
    assert find_resume_point(tmp_path / "none") is None


def test_checkpoints_that_are_a_file_are_refused_not_read_as_none(tmp_path):
    # read as "no checkpoint", a resume trained from step 0 and then failed at its first save
    folder = tmp_path / "checkpoints"
    folder.write_text("x")
    with pytest.raises(CheckpointError, match=rf"^{folder}: not a directory"):
        find_resume_point(folder)


def test_fields_other_parts_add_later_do_not_make_a_checkpoint_damaged(real_checkpoints, tmp_path):
    data = json.loads(latest_checkpoint(real_checkpoints).read_text())
    data["model"]["encoding"] = "angle"
    data["curriculum"] = {"stage": 2}
    data["optimizer"] = {"kind": "qn_spsa", "metric": [[1.0]]}
    path = tmp_path / "step-000001.json"
    path.write_text(json.dumps(data))
    state = read_training_checkpoint(path).state()
    assert state["model"]["encoding"] == "angle" and state["curriculum"] == {"stage": 2}
    assert state["optimizer"]["kind"] == "qn_spsa"
