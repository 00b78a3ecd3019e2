"""Sweeps with real worker processes on the default storage (SQLite in the runs directory)."""

import os
import signal
import time
import warnings

import optuna
from optuna.trial import TrialState

from engine.runs import read_sweep_tag, run_record
from engine.sweep import (
    Heartbeat, SweepOptions, SweepSpec, create_study, open_storage, parse_space, start_sweep, summarize,
)
from engine.sweep.worker import WorkerJob, work
from engine.sweep.runner import spawn_worker
from sweep_helpers import SPACE, segments, tiny_base, trial_runs


def test_two_workers_run_every_trial_once_and_the_best_trial_is_the_best_run(tmp_path):
    base = tiny_base()
    spec = SweepSpec("two", base, parse_space(SPACE, base), trials=6)
    summary = start_sweep(spec, SweepOptions(runs_dir=tmp_path, workers=2, poll_s=0.2))
    assert summary.finished and summary.planned == 6
    ran = [t for t in summary.trials if not t.surplus]
    assert [(t.state, t.error) for t in ran if t.state not in ("complete", "pruned")] == []
    assert len(ran) == 6
    runs = trial_runs(tmp_path)
    assert sorted(runs) == sorted(t.number for t in ran)  # none lost
    assert all(len(dirs) == 1 and segments(dirs[0]) == 1 for dirs in runs.values())  # none run twice
    assert len({t.run_id for t in ran}) == 6
    assert len({t.host + str(t.run_id) for t in ran}) == 6
    objectives = {n: read_sweep_tag(d[0]).objective for n, d in runs.items()
                  if read_sweep_tag(d[0]).state == "complete"}
    assert summary.best is not None and summary.best.value == max(objectives.values())
    assert objectives[summary.best.number] == summary.best.value
    assert (tmp_path / "sweeps" / "two" / "study.json").is_file()


def test_a_worker_killed_mid_trial_has_its_trial_failed_and_retried_and_the_study_completes(tmp_path):
    base = tiny_base()
    spec = SweepSpec("kill", base, parse_space(SPACE, base), trials=3, prune="none")
    options = SweepOptions(runs_dir=tmp_path, workers=1, heartbeat=Heartbeat(1, 2), poll_s=0.2)
    storage = open_storage(options.url, options.heartbeat)
    study = create_study(spec, storage)
    job = WorkerJob(study="kill", storage_url=options.url, runs_dir=str(tmp_path), heartbeat_interval_s=1,
                    heartbeat_grace_s=2, poll_s=0.2)
    victim = spawn_worker(job)
    deadline = time.monotonic() + 30
    killed = None
    while killed is None and time.monotonic() < deadline:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            events = tmp_path / str(t.user_attrs.get("run_id")) / "events.jsonl"
            if t.user_attrs.get("pid") == victim.pid and events.is_file() and b"run_started" in events.read_bytes():
                os.kill(victim.pid, signal.SIGKILL)  # mid-run: the session has started training
                killed = t.number
                break
        time.sleep(0.01)
    assert killed is not None, "the worker never started a trial"
    assert victim.wait() == -signal.SIGKILL

    # Another worker (here, in this process) waits out the grace period, fails the stale trial and retries it.
    work(job)
    summary = summarize(study, options.url)
    states = {t.number: t for t in summary.trials}
    assert states[killed].state == "fail"
    retry = [t for t in summary.trials if t.retry_of == killed]
    assert len(retry) == 1 and retry[0].state == "complete"
    assert summary.finished and summary.counts == {"complete": 3, "fail": 1}, [t.error for t in summary.trials]
    finished = optuna.load_study(study_name="kill", storage=storage).get_trials(states=(TrialState.COMPLETE,))
    assert {t.params["seed"] for t in finished} >= {states[killed].params["seed"]}  # the retry kept the values
    runs = trial_runs(tmp_path)
    assert sorted(runs) == sorted([killed] + [t.number for t in summary.trials if t.state == "complete"])
    assert run_record(runs[killed][0]).status == "incomplete"  # the killed run stays as it was left


def test_a_trial_whose_worker_died_before_its_first_beat_is_failed_and_retried_not_waited_for(tmp_path):
    """A worker killed between taking a trial and Optuna's heartbeat thread's first beat (which numba's
    compile, holding the GIL, can delay) left a RUNNING trial that Optuna never counts stale: the next
    worker polled for it forever (seen in `make test`)."""
    import threading

    base = tiny_base()
    spec = SweepSpec("nobeat", base, parse_space(SPACE, base), trials=1, prune="none")
    options = SweepOptions(runs_dir=tmp_path, workers=1, heartbeat=Heartbeat(1, 2), poll_s=0.2)
    study = create_study(spec, open_storage(options.url, options.heartbeat))
    with warnings.catch_warnings():  # Optuna warns that ask() does not start its heartbeat thread: the point here
        warnings.simplefilter("ignore", UserWarning)
        taken = study.ask()  # the enqueued trial turns RUNNING, as in a worker just before its objective; then silence
    assert taken.number == 0
    job = WorkerJob(study="nobeat", storage_url=options.url, runs_dir=str(tmp_path), heartbeat_interval_s=1,
                    heartbeat_grace_s=2, poll_s=0.2)
    worker = threading.Thread(target=work, args=(job,), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the worker is still waiting for a trial that never beat"
    summary = summarize(study, options.url)
    states = {t.number: t for t in summary.trials}
    assert states[0].state == "fail"
    assert [t.state for t in summary.trials if t.retry_of == 0] == ["complete"]


def test_sqlite_hands_each_waiting_trial_to_one_worker_only(tmp_path):
    """Workers race to mark WAITING trials RUNNING; exactly one wins each (BEGIN IMMEDIATE on SQLite)."""
    import threading

    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    study = optuna.create_study(study_name="race", storage=open_storage(url))
    for _ in range(30):
        study.enqueue_trial({})
    won: list[int] = []
    start = threading.Barrier(4)

    def worker():
        storage = open_storage(url)  # its own connections, as a worker process has
        ids = [t._trial_id for t in storage.get_all_trials(study._study_id, states=(TrialState.WAITING,))]
        start.wait()
        for trial_id in ids:
            try:
                if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                    won.append(trial_id)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == sorted(set(won)) and len(won) == 30


def test_k_local_workers_share_the_cores_and_a_thread_count_the_user_set_wins():
    from engine.sweep.host import THREAD_VARS, host_env, threads_per_worker

    assert [threads_per_worker(k, cores=8) for k in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    env = host_env(2, base={"OMP_NUM_THREADS": "3", "PATH": "/bin"})
    share = str(threads_per_worker(2))
    assert env["OMP_NUM_THREADS"] == "3" and env["PATH"] == "/bin"
    assert all(env[v] == share for v in THREAD_VARS if v != "OMP_NUM_THREADS")


def test_a_surplus_trial_is_counted_apart_and_never_as_a_failure(tmp_path):
    """Two workers can both see the last WAITING trial; the one that loses asks Optuna for a new trial, which the
    objective closes unrun (SurplusTrial, Optuna's FAIL). Counting it as `fail` told users a trial had failed."""
    from engine.sweep.objective import TrialContext, run_trial
    from engine.sweep.study import load_spec, load_study

    base = tiny_base()
    spec = SweepSpec("surplus", base, parse_space(SPACE, base), trials=1)
    url = f"sqlite:///{tmp_path / 'surplus.sqlite3'}"
    create_study(spec, open_storage(url))
    study = load_study("surplus", open_storage(url))
    work(WorkerJob("surplus", url, str(tmp_path)))  # the planned trial
    ctx = TrialContext(load_spec(study), tmp_path)
    from engine.sweep.objective import SurplusTrial

    study.optimize(lambda trial: run_trial(trial, ctx), n_trials=1, catch=(SurplusTrial,))  # the race's loser
    summary = summarize(study, url)
    assert [(t.state, t.surplus) for t in summary.trials] == [("complete", False), ("fail", True)]
    assert summary.counts == {"complete": 1, "surplus": 1} and summary.finished
