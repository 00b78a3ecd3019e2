"""The space's strict kinds and exact grids (refused naming file and field before the sweep is announced), a
damaged study.json refused as such, and --status names that stay inside the runs directory."""

import json
import warnings

import pytest

from engine.config import ConfigError, TrainingConfig
from engine.sweep import SweepOptions, SweepSpec, create_study, load_space, open_storage, parse_space
from engine.sweep.summary import SweepSummary, TrialRow, summary_path, write_summary
from qstore_tui.cli import main
from sweep_helpers import TINY_BASE, tiny_base

BASE = TrainingConfig(n_qubits=2, circuit_depth=1, shots_per_circuit=0)


@pytest.mark.parametrize("field, choices, message", [
    ("learning_rate", [0.1, "0.2"], "choice '0.2' is not a number"),
    ("learning_rate", [0.1, True], "choice True is not a number"),
    ("use_gradient_clipping", [0, 1], "choice 0 is not true or false"),
    ("epochs", [1, 2.0], "choice 2.0 is not an integer"),
    ("epochs", [1, True], "choice True is not an integer"),
    ("optimizer", ["adam", 1], "choice 1 is not a string"),
    ("learning_rate", [1, 1.0], "must not repeat"),
])
def test_choices_must_be_of_the_fields_own_type_and_distinct_by_value(field, choices, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_space({field: {"type": "categorical", "choices": choices}}, BASE)
    assert info.value.field == field


def test_a_float_fields_integer_choice_is_a_float():
    space = parse_space({"learning_rate": {"type": "categorical", "choices": [1, 0.5]}}, BASE)
    assert [type(c) for c in space.params["learning_rate"].choices] == [float, float]


def test_float_grid_points_stay_in_range_and_optuna_does_not_warn(tmp_path):
    base = tiny_base()
    space = parse_space({"learning_rate": {"type": "float", "low": 0.1, "high": 0.3, "step": 0.1}}, base)
    assert [p["learning_rate"] for p in space.grid()] == [0.1, 0.2, 0.3]  # not 0.30000000000000004
    study = create_study(SweepSpec("grid", base, space, trials=3, sampler="grid"),
                         open_storage(SweepOptions(runs_dir=tmp_path).url))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "Heartbeat of storage")  # ask by hand here, not optimize
        assert [space.suggest(study.ask())["learning_rate"] for _ in range(3)] == [0.1, 0.2, 0.3]


def test_a_step_that_does_not_divide_the_range_is_refused_naming_the_file_and_field(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[learning_rate]\ntype = "float"\nlow = 0.1\nhigh = 0.3\nstep = 0.15\n')
    with pytest.raises(ConfigError, match="step 0.15 does not divide the range 0.1 to 0.3") as info:
        load_space(path, BASE)
    assert info.value.field == "learning_rate" and str(path) in str(info.value)


@pytest.mark.parametrize("table, trials, message", [
    ({"learning_rate": {"type": "float", "low": 0.1, "high": 0.3}}, 2, "learning_rate: the grid sampler needs"),
    ({"seed": {"type": "int", "low": 0, "high": 2}}, 4, "trials: the grid has 3 points, fewer than --trials 4"),
])
def test_grid_refusals_name_the_space_file_before_the_sweep_is_announced(tmp_path, capsys, table, trials, message):
    base, space = tmp_path / "base.toml", tmp_path / "space.toml"
    base.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in TINY_BASE.items()))
    space.write_text("".join(f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in t.items())
                             for name, t in table.items()))
    assert main(["sweep", "--config", str(base), "--space", str(space), "--trials", str(trials), "--sampler", "grid",
                 "--workers", "1", "--runs-dir", str(tmp_path / "runs")]) == 2
    said = capsys.readouterr()
    assert said.out == "" and f"error: {space}: {message}" in said.err


def _summary(**kw):
    row = TrialRow(number=0, state="complete", params={"seed": 1}, value=0.5, duration_s=1.0, run_id="r", host="h")
    return SweepSummary(study="bad", storage="sqlite:///x", direction="maximize", objective="val_accuracy",
                        planned=1, counts={"complete": 1}, trials=[row], best=row, spent_usd=0.0, max_cost_usd=None,
                        stopped=None, finished=True, **kw)


@pytest.mark.parametrize("damage, where", [
    (lambda d: "x", "the file"), (lambda d: None, "the file"), (lambda d: {**d, "counts": [1]}, "counts"),
    (lambda d: {**d, "best": {**d["best"], "value": "0.5"}}, "best.value"),
    (lambda d: {**d, "trials": [{"number": 0}]}, "trials.0"),
])
@pytest.mark.parametrize("command", [["sweep", "--status", "bad"], ["attach", "bad", "--headless"]])
def test_a_damaged_study_json_is_refused_as_not_a_sweep_summary(tmp_path, capsys, damage, where, command):
    runs = tmp_path / "runs"
    path = write_summary(runs, _summary())
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    assert main([*command, "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: not a sweep summary ({where}" in err and "internal error" not in err


def test_a_sound_study_json_still_reads(tmp_path, capsys):
    write_summary(tmp_path, _summary())
    assert main(["sweep", "--status", "bad", "--runs-dir", str(tmp_path)]) == 0
    assert "sweep bad: 1 complete" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["", ".", "../../elsewhere", "a/b", "x\n"])
def test_status_names_stay_inside_the_runs_directory(tmp_path, capsys, name):
    outside = tmp_path / "elsewhere" / "study.json"  # what ../../elsewhere reached from <runs>/sweeps/
    outside.parent.mkdir()
    outside.write_text(json.dumps({"study": "elsewhere"}))
    for follow in ([], ["--follow"]):
        assert main(["sweep", "--status", name, *follow, "--runs-dir", str(tmp_path / "runs")]) == 2
        said = capsys.readouterr()
        assert "status: " in said.err and "use 1-64 letters" in said.err and said.out == ""
    assert summary_path(tmp_path / "runs", "ok").parent.parent == tmp_path / "runs" / "sweeps"
