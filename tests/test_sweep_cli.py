"""`qstore-tui sweep` from the command line: a tiny study in this process, resume, status, refusals."""

import os
import socket
import subprocess
import sys
import time

from qstore_tui.cli import main
from sweep_helpers import sweep_files


def test_a_sweep_runs_resumes_with_more_trials_and_reports_its_status(tmp_path, capsys):
    base, space = sweep_files(tmp_path)
    argv = ["sweep", "--config", str(base), "--space", str(space), "--workers", "1", "--study", "cli",
            "--runs-dir", str(tmp_path / "runs"), "--prune", "none"]
    assert main([*argv, "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "trial   0 complete" in out and "trial   1 complete" in out and "best: trial" in out
    assert main([*argv, "--trials", "3"]) == 0  # the same study resumes: one more trial
    out = capsys.readouterr().out
    assert "trial   2 complete" in out and "sweep cli: 3 complete" in out
    assert main(["sweep", "--status", "cli", "--runs-dir", str(tmp_path / "runs")]) == 0
    assert "sweep cli: 3 complete" in capsys.readouterr().out
    assert main(["attach", "cli", "--runs-dir", str(tmp_path / "runs")]) == 0  # no terminal: attach follows the sweep
    out = capsys.readouterr().out
    assert "trial   2 complete" in out and "best: trial" in out


def test_bad_sweeps_are_refused_naming_the_field(tmp_path, capsys, monkeypatch):
    base, space = sweep_files(tmp_path)
    runs = str(tmp_path / "runs")
    assert main(["sweep", "--config", str(base), "--space", str(space), "--runs-dir", runs]) == 2
    assert "trials" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[learning_rat]\ntype = "float"\nlow = 0.1\nhigh = 1.0\n')
    assert main(["sweep", "--config", str(base), "--space", str(bad), "--trials", "2", "--runs-dir", runs]) == 2
    assert "learning_rat: not a TrainingConfig field" in capsys.readouterr().err
    assert main(["sweep", "--join", "nope", "--runs-dir", runs]) == 2
    said = capsys.readouterr()
    assert "--join needs --storage" in said.err and "joining" not in said.out  # not announced, then refused
    for workers in ("0", "-3"):  # a typed 0 is refused, not taken for the default (one per core)
        assert main(["sweep", "--config", str(base), "--space", str(space), "--trials", "2", "--workers", workers,
                     "--runs-dir", runs]) == 2
        assert f"workers: must be >= 1, got {workers}" in capsys.readouterr().err
    monkeypatch.setenv("IONQ_API_KEY", "test-key-123456")
    qpu = ["--set", "backend=ionq", "--set", "quantum_target=qpu.aria-1", "--set", "shots_per_circuit=100"]
    assert main(["sweep", "--config", str(base), *qpu, "--set", "max_cost_usd=1", "--space", str(space),
                 "--trials", "3", "--runs-dir", runs]) == 2
    assert "max_cost_usd: $1.00 does not cover the study's estimate" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["sweep", "--config", str(base), *qpu, "--set", "max_cost_usd=100000", "--space", str(space),
                 "--trials", "3", "--runs-dir", runs]) == 2  # no terminal to confirm in, no --yes
    captured = capsys.readouterr()
    assert "estimated cost of the study: $" in captured.out and "pass --yes" in captured.err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")  # the user declines the cost
    assert main(["sweep", "--config", str(base), *qpu, "--set", "max_cost_usd=100000", "--space", str(space),
                 "--trials", "3", "--runs-dir", runs]) == 130
    err = capsys.readouterr().err
    assert "not started: the study's estimated cost of $" in err and "was not confirmed" in err
    from qstore_tui.crash import crash_dir

    assert "internal error" not in err and not (crash_dir().exists() and any(crash_dir().iterdir()))


def test_the_heartbeat_grace_covers_a_cold_start_however_short_the_beat(tmp_path, monkeypatch):
    """`--heartbeat 5` meant a 20 s grace, which a first trial's numba compile (holding the GIL) could outlast:
    a healthy trial was then failed and run again. The grace is 4 beats, but never under 60 s."""
    import argparse

    from engine.sweep import Heartbeat
    from qstore_tui.cli.sweep import _options

    monkeypatch.delenv("QSTORE_SWEEP_STORAGE", raising=False)
    grace = {beat: _options(argparse.Namespace(storage=None, workers=1, heartbeat=beat), tmp_path).heartbeat
             for beat in (1, 5, 15, 30)}
    assert grace == {1: Heartbeat(1, 60), 5: Heartbeat(5, 60), 15: Heartbeat(15, 60), 30: Heartbeat(30, 120)}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_following_a_sweep_whose_runner_was_killed_ends_saying_so(tmp_path, capsys):
    from engine.sweep.summary import SweepSummary, TrialRow, write_summary

    runs = tmp_path / "runs"
    running = TrialRow(number=0, state="running", params={"seed": 1}, value=None, duration_s=None, run_id="r0",
                       host=socket.gethostname())
    summary = SweepSummary(study="dead", storage="sqlite:///x", direction="maximize", objective="val_accuracy",
                           planned=2, counts={"running": 1, "waiting": 1}, trials=[running], best=None,
                           spent_usd=0.0, max_cost_usd=None, stopped=None, finished=False,
                           writer_host=socket.gethostname(), writer_pid=os.getpid())
    write_summary(runs, summary)
    assert main(["sweep", "--status", "dead", "--runs-dir", str(runs)]) == 4  # not finished: its own code
    assert "sweep dead: 1 running, 1 waiting" in capsys.readouterr().out
    summary.writer_pid = _dead_pid()  # the runner was killed: the file will never change again
    write_summary(runs, summary)
    started = time.monotonic()
    assert main(["sweep", "--status", "dead", "--follow", "--runs-dir", str(runs)]) == 4
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert f"its runner (pid {summary.writer_pid}) exited before the sweep finished" in err
    assert "qstore-tui sweep --study dead" in err


def _children(pid):
    """Pids whose parent is `pid` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _state(pid):
    """The process's state letter from /proc (T: stopped), or "" once it is gone."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_ctrl_z_and_a_hangup_to_the_sweep_reach_every_worker_and_the_hangup_ends_them_without_a_traceback(tmp_path):
    """The terminal's Ctrl+Z and hangup reach the sweep's own process (the session's controlling process), not its
    workers' host: the sweep passes them on. Before, a suspended sweep's workers ran on in the background, the
    workers ran the whole sweep on after a SIGTERM or SIGHUP, and a Ctrl-C printed Optuna's traceback twice a
    worker. After the hangup, study.json says `interrupted`, not `running`. The sweep is started as a script's `&`
    starts it, SIGINT ignored (inherited by its host, which then ignored the interrupt passed on to it)."""
    import signal

    from engine.events import RunFinished
    from engine.runs import read_events
    from engine.sweep.summary import read_summary, summary_path

    base, space = sweep_files(tmp_path)
    base.write_text(base.read_text().replace("epochs = 2", "epochs = 400"))
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    for sig, study in ((signal.SIGHUP, "hup"),):  # SIGTERM takes the same path (a KeyboardInterrupt in the runner)
        log = tmp_path / f"{study}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "qstore_tui", "sweep", "--config", str(base), "--space",
                                     str(space), "--trials", "4", "--workers", "2", "--study", study, "--prune",
                                     "none", "--runs-dir", str(runs / study)], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,  # a job of its own, as in a shell
                                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            started = [d for d in (runs / study).glob("*-t*") if (d / "events.jsonl").is_file()
                       and b'"kind":"step_metrics"' in (d / "events.jsonl").read_bytes()]
            if len(started) == 2:
                break
            time.sleep(0.05)
        assert len(started) == 2, log.read_text()[-2000:]
        family = _children(proc.pid)
        family += [p for host in family for p in _children(host)]
        assert len(family) == 3, family  # the host and its two workers

        def sizes():
            return [(d / "events.jsonl").stat().st_size for d in started]

        proc.send_signal(signal.SIGTSTP)  # Ctrl+Z: the sweep and every worker stop, and their runs with them
        assert _until(lambda: all(_state(p) == "T" for p in [proc.pid, *family])), [_state(p) for p in family]
        stopped = sizes()
        time.sleep(1.5)
        assert sizes() == stopped
        proc.send_signal(signal.SIGCONT)  # fg: all of them go on
        assert _until(lambda: all(_state(p) not in ("T", "") for p in [proc.pid, *family]))
        assert _until(lambda: all(a > b for a, b in zip(sizes(), stopped))), log.read_text()[-2000:]
        proc.send_signal(sig)
        assert proc.wait(60) == 130, log.read_text()[-2000:]
        text = log.read_text()
        assert "Traceback" not in text, text[-2000:]
        time.sleep(0.5)
        assert not [p for p in family if _alive(p)], f"{sig.name}: workers left running"
        for run in started:
            last = read_events(run)[-1]
            assert isinstance(last, RunFinished) and last.status == "interrupted", last
        summary = read_summary(summary_path(runs / study, study))
        assert summary.counts.get("interrupted") == 2 and "running" not in summary.counts, summary.counts
