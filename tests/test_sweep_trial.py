"""One trial in this process: pruning ends it as `pruned` with a checkpoint; the study's cost cap holds."""

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from engine.config import TrainingConfig
from engine.runs import run_record
from engine.runs.directory import CHECKPOINT_DIR
from engine.sweep import SweepOptions, SweepSpec, create_study, open_storage, parse_space
from engine.sweep.budget import reserve_budget, study_cost
from engine.sweep.objective import BudgetReached, TrialContext, run_trial
from sweep_helpers import SPACE, tiny_base


def test_a_pruned_trial_stops_at_the_epoch_boundary_with_a_checkpoint_and_its_run_says_pruned(tmp_path):
    base = tiny_base(epochs=3)
    spec = SweepSpec("prune", base, parse_space(SPACE, base), trials=1)
    url = SweepOptions(runs_dir=tmp_path).url
    create_study(spec, open_storage(url))
    # A pruner that prunes at the first report, so the test does not depend on the sampler's luck.
    study = optuna.load_study(study_name="prune", storage=open_storage(url),
                              pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(lambda t: run_trial(t, TrialContext(spec, tmp_path)), n_trials=1)
    (trial,) = study.get_trials()
    assert trial.state == TrialState.PRUNED and list(trial.intermediate_values) == [0]
    record = run_record(tmp_path / trial.user_attrs["run_id"])
    assert record.status == "pruned" and record.epochs_done == 1 and record.sweep.state == "pruned"
    assert record.steps == record.total_steps // 3  # one epoch of three
    assert any((record.path / CHECKPOINT_DIR).iterdir())


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask/tell by hand here, not optimize
def test_a_trial_that_could_pass_the_studys_cap_does_not_start(tmp_path, monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", "test-key-123456")
    base = TrainingConfig(backend="ionq", quantum_target="qpu.aria-1", shots_per_circuit=100, n_qubits=2,
                          circuit_depth=1, n_samples=20, epochs=1, max_cost_usd=10_000.0)
    space = parse_space({"seed": {"type": "int", "low": 0, "high": 3}}, base)
    per_trial = study_cost(SweepSpec("cap", base, space, trials=1)).per_trial_usd
    spec = SweepSpec("cap", base, space, trials=3, max_cost_usd=3 * per_trial)
    study = create_study(spec, open_storage(SweepOptions(runs_dir=tmp_path).url))
    first = study.ask()
    assert reserve_budget(first, spec) == pytest.approx(3 * per_trial, abs=0.01)  # its session's own cap
    first.set_user_attr("spent_usd", 2.5 * per_trial)  # it spent more than its share
    study.tell(first, 0.5)
    second = study.ask()
    with pytest.raises(BudgetReached):
        reserve_budget(second, spec)  # 2.5 spent + 1 reserved would pass 3
    assert "cost cap" in study.user_attrs["qstore.stopped"]


def test_a_resumed_sweep_runs_again_the_trials_a_ctrl_c_interrupted_once(tmp_path):
    base = tiny_base()
    spec = SweepSpec("resume", base, parse_space(SPACE, base), trials=2)
    storage = open_storage(SweepOptions(runs_dir=tmp_path).url)
    study = create_study(spec, storage)
    dists = spec.space.distributions()
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.FAIL, params={"learning_rate": 0.01, "seed": 4}, distributions=dists,
        user_attrs={"interrupted": True}))
    create_study(spec, storage)  # `--study resume` again
    create_study(spec, storage)  # and again: requeued once only
    waiting = study.get_trials(states=(TrialState.WAITING,))
    again = [t for t in waiting if t.user_attrs.get("qstore.retry_of") is not None]
    assert len(waiting) == 3 and len(again) == 1
    assert again[0].system_attrs["fixed_params"] == {"learning_rate": 0.01, "seed": 4}


def test_a_grid_study_enqueues_each_point_once_and_refuses_more_trials_than_points(tmp_path):
    from engine.config import ConfigError

    base = tiny_base()
    space = parse_space({"seed": {"type": "int", "low": 0, "high": 1},
                         "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]}}, base)
    storage = open_storage(SweepOptions(runs_dir=tmp_path).url)
    with pytest.raises(ConfigError, match="the grid has 4 points"):
        create_study(SweepSpec("grid", base, space, trials=5, sampler="grid"), storage)
    study = create_study(SweepSpec("grid", base, space, trials=4, sampler="grid"), storage)
    points = [t.system_attrs["fixed_params"] for t in study.get_trials(states=(TrialState.WAITING,))]
    assert sorted(map(str, points)) == sorted(map(str, space.grid())) and len(points) == 4


def test_a_sqlite_storage_url_names_its_file_and_a_folder_that_cannot_be_made_is_a_config_error(tmp_path):
    from engine.config import ConfigError
    from engine.sweep.storage import sqlite_path

    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"  # not //tmp/...: one slash is the URL's
    assert sqlite_path("sqlite:///rel/a.db") == Path("rel/a.db")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=rf"storage: {tmp_path}/file/sub: cannot create: "):
        open_storage(f"sqlite:///{tmp_path}/file/sub/optuna.sqlite3")
