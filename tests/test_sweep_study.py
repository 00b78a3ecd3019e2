"""A study's plan: bounded, enqueued in one transaction (all or none, an interrupt honoured), resumed from its
stored spec (`--study NAME` alone), never silently rewritten; study.json kept current while a trial runs."""

import os
import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

from engine.config import ConfigError
from engine.sweep import SweepOptions, SweepSpec, create_study, open_storage, parse_space, start_sweep
from engine.sweep.study import check_study_name
from qstore_tui.cli import main
from sweep_helpers import SPACE, sweep_files, tiny_base


def _spec(name, trials, **kw):
    base = tiny_base()
    return SweepSpec(name, base, parse_space(SPACE, base), trials=trials, **kw)


def _planned(study):
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("qstore.planned")]


def test_an_absurd_trial_count_is_refused_at_once_naming_trials(tmp_path, capsys):
    base, space = sweep_files(tmp_path)
    started = time.monotonic()
    assert main(["sweep", "--config", str(base), "--space", str(space), "--trials=99999999999999999999",
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert time.monotonic() - started < 5
    assert "trials: --trials must be 1 to 10,000" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask by hand here, not optimize
def test_thousands_of_trials_are_enqueued_as_optuna_enqueues_them(tmp_path):
    storage = open_storage(SweepOptions(runs_dir=tmp_path).url)
    study = create_study(_spec("many", 2000), storage)
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(2000))
    assert all(t.state == TrialState.WAITING and t.user_attrs == {"qstore.planned": True}
               and t.system_attrs == {"fixed_params": {}} for t in trials)
    trial = study.ask()  # a worker takes the first waiting trial
    assert trial.number == 0 and set(trial.params) == set() and trial.user_attrs["qstore.planned"]


def test_an_interrupted_enqueue_leaves_no_part_of_the_plan_and_a_resume_enqueues_it_exactly(tmp_path, monkeypatch):
    import sqlalchemy

    from engine.sweep import storage as storage_module

    storage = open_storage(SweepOptions(runs_dir=tmp_path).url)
    monkeypatch.setattr(storage_module, "_ENQUEUE_CHUNK", 100)
    real_insert, inserts = sqlalchemy.insert, []

    def insert(table):  # a Ctrl-C once the first batches of rows went in
        inserts.append(table)
        if len(inserts) == 7:
            raise KeyboardInterrupt
        return real_insert(table)

    monkeypatch.setattr(sqlalchemy, "insert", insert)
    with pytest.raises(KeyboardInterrupt):
        create_study(_spec("cut", 1500), storage)
    monkeypatch.undo()
    study = optuna.load_study(study_name="cut", storage=storage)
    assert study.get_trials(deepcopy=False) == [] and study.user_attrs["qstore.trials"] == 1500
    other = parse_space({"seed": {"type": "int", "low": 0, "high": 9}}, tiny_base())
    with pytest.raises(ConfigError, match="another base config or space"):  # the stored spec is checked already
        create_study(SweepSpec("cut", tiny_base(), other, trials=1500), storage)
    study = create_study(_spec("cut", 1500), storage)
    assert len(_planned(study)) == 1500


def test_an_interrupt_swallowed_while_enqueueing_still_stops_the_sweep(tmp_path, monkeypatch):
    """SQLAlchemy's garbage-collection callbacks print a KeyboardInterrupt raised in them and go on."""
    from engine.sweep import study as study_module

    real = study_module.enqueue_waiting

    def swallowing(*args):
        real(*args)
        try:  # as in a gc callback: "Exception ignored in ... KeyboardInterrupt"
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    monkeypatch.setattr(study_module, "enqueue_waiting", swallowing)
    storage = open_storage(SweepOptions(runs_dir=tmp_path).url)
    with pytest.raises(KeyboardInterrupt):
        create_study(_spec("swallowed", 3), storage)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert len(_planned(optuna.load_study(study_name="swallowed", storage=storage))) == 3  # committed, whole


def test_a_resume_keeps_the_plan_and_refuses_another_sampler_or_pruner(tmp_path):
    storage = open_storage(SweepOptions(runs_dir=tmp_path).url)
    create_study(_spec("plan", 3), storage)
    study = create_study(_spec("plan", 2), storage)  # not larger: the plan stays
    assert study.user_attrs["qstore.trials"] == 3 and len(_planned(study)) == 3
    study = create_study(_spec("plan", 5), storage)  # larger: adds trials
    assert study.user_attrs["qstore.trials"] == 5 and len(_planned(study)) == 5
    for kw, field in (({"sampler": "random"}, "sampler"), ({"prune": "none"}, "prune")):
        with pytest.raises(ConfigError, match="was created with --") as info:
            create_study(_spec("plan", 5, **kw), storage)
        assert info.value.field == field
    assert study.user_attrs["qstore.sampler"] == "tpe" and study.user_attrs["qstore.prune"] == "median"


def test_study_name_alone_resumes_a_sweep_from_its_stored_spec(tmp_path, capsys):
    base, space = sweep_files(tmp_path)
    runs = ["--runs-dir", str(tmp_path / "runs"), "--workers", "1"]
    assert main(["sweep", "--config", str(base), "--space", str(space), "--trials", "1", "--study", "alone",
                 "--prune", "none", *runs]) == 0
    capsys.readouterr()
    assert main(["sweep", "--study", "alone", "--trials", "2", *runs]) == 0  # space, base, pruner: the study's
    out = capsys.readouterr().out
    assert "sweep alone: 2 trials over learning_rate, seed (tpe, prune none)" in out and "trial   1 complete" in out
    assert main(["sweep", "--study", "alone", *runs]) == 0
    assert "sweep alone: 2 complete" in capsys.readouterr().out
    assert main(["sweep", "--study", "alone", "--sampler", "random", *runs]) == 2
    said = capsys.readouterr()
    assert "sampler: 'alone' was created with --sampler tpe, not random" in said.err and said.out == ""
    assert main(["sweep", "--study", "nothing-here", *runs]) == 2
    assert "a sweep needs --space FILE and --trials N" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["abc\n", "", ".", "..", "../x", "a/b"])
def test_a_study_name_must_be_a_plain_folder_name(name):
    with pytest.raises(ConfigError, match="use 1-64 letters"):
        check_study_name(name)


def test_study_json_is_kept_current_while_the_one_in_process_worker_runs_a_trial(tmp_path, monkeypatch):
    from engine.sweep import objective

    real = objective.run_trial

    def slow(trial, ctx):
        time.sleep(1.0)
        return real(trial, ctx)

    monkeypatch.setattr(objective, "run_trial", slow)
    seen = []
    start_sweep(_spec("live", 1, prune="none"), SweepOptions(runs_dir=tmp_path, workers=1, report_s=0.1),
                on_progress=lambda s: seen.append(dict(s.counts)))
    assert {"running": 1} in seen and seen[-1] == {"complete": 1}
