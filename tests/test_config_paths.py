"""Paths a run keeps in config.toml: absolute (a resume from another folder finds the same files), no control
characters; a characterization file picks the gate family by the backend its body names, not by its name; and
settings a run would have ignored (a CSV path for moons) or failed on later are refused when given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import ConfigError, TrainingConfig
from engine.runs import load_run_config
from engine.sim.noise import FORTE_1_CHARACTERIZATION
from qstore_tui.cli import main


def test_relative_paths_are_kept_absolute_in_the_runs_config(tmp_path, monkeypatch, capsys):
    here = tmp_path / "here"
    here.mkdir()
    (here / "d.csv").write_text("a,b,label\n" + "".join(f"{i / 10},{(i * 7 % 10) / 10},{i % 2}\n" for i in range(20)))
    monkeypatch.chdir(here)
    argv = ["run", "--headless", "--runs-dir", str(tmp_path / "runs"), "--set", "epochs=1", "--set", "n_qubits=2",
            "--set", "dataset=csv", "--set", "dataset_path=d.csv", "--set", "checkpoint_directory=ck",
            "--set", "embeddings_to_store=false", "--set", "use_native_gates=false"]
    assert main(argv) == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = load_run_config(run_dir)
    assert config.dataset_path == here / "d.csv" and config.checkpoint_directory == here / "ck"
    assert list((here / "ck" / run_dir.name).glob("step-*.json"))  # where a resume from any folder will look


@pytest.mark.parametrize("field", ["checkpoint_directory", "dataset_path", "runs_dir"])
def test_a_path_with_a_control_character_is_refused_naming_the_field(field):
    with pytest.raises(ConfigError, match=rf"{field}: must not hold a control character"):
        TrainingConfig(**{field: "ck\x00pt"})


def test_the_gate_family_of_a_characterization_file_is_its_bodys_backend_not_its_name(tmp_path):
    forte = tmp_path / "cf.json"  # a Forte body in a file whose name does not say so
    forte.write_text(json.dumps(FORTE_1_CHARACTERIZATION))
    config = TrainingConfig(noise_model="characterization", characterization=str(forte), shots_per_circuit=100)
    assert config.native_target == "forte"
    aria = tmp_path / "forte-like-name.json"
    aria.write_text(json.dumps({**FORTE_1_CHARACTERIZATION, "backend": "qpu.aria-1"}))
    assert TrainingConfig(noise_model="characterization", characterization=str(aria),
                          shots_per_circuit=100).native_target == "aria"
    assert TrainingConfig(noise_model="characterization", characterization="qpu.forte-1",
                          shots_per_circuit=100).native_target == "forte"
    assert Path(TrainingConfig(characterization="cf.json").characterization).is_absolute()


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset_path": "d.csv"}, "dataset_path: only for dataset 'csv', got dataset 'moons'"),  # trained on moons
    ({"label_column": "y"}, "label_column: only for dataset 'csv'"),
    ({"preflight_initializations": 1}, "preflight_initializations: a variance needs >= 2"),  # failed 2 s into a run
])
def test_settings_a_run_would_ignore_or_fail_on_later_are_refused_now(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainingConfig(**kwargs)


def test_a_data_path_that_is_a_folder_is_not_a_regular_file_not_missing(tmp_path):
    with pytest.raises(ConfigError, match=f"dataset_path: not a regular file: {tmp_path}"):
        TrainingConfig(dataset="csv", dataset_path=tmp_path).check_runnable()
    with pytest.raises(ConfigError, match="dataset_path: file not found"):
        TrainingConfig(dataset="csv", dataset_path=tmp_path / "nope.csv").check_runnable()
