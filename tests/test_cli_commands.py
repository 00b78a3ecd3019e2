"""The CLI commands in-process: headless run, bad --set values, runs, report, attach, emulator."""

import contextlib
import io
import json

import pytest

from engine.events import BatchExecuted, RunFinished, StepMetrics
from engine.runs import read_events
from qstore_tui.cli import main

TINY = ["--set", "n_qubits=4", "--set", "circuit_depth=1", "--set", "n_samples=20", "--set", "epochs=2",
        "--set", "batch_size=4", "--set", "shots_per_circuit=0", "--set", "log_interval=1",
        "--set", "checkpoint_interval=2"]


def _only_run(runs_dir):
    [run_dir] = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One headless run shared by the read-only tests: (runs_dir, run_dir, stdout)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--headless", "--runs-dir", str(runs_dir), *TINY])
    assert code == 0, err.getvalue()
    return runs_dir, _only_run(runs_dir), out.getvalue()


def test_a_headless_run_prints_the_report_and_writes_it_beside_the_events(finished_run):
    runs_dir, run_dir, out = finished_run
    events = read_events(run_dir)
    circuits = sum(e.circuits for e in events if isinstance(e, BatchExecuted))
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    assert "QSTORE-TUI PERFORMANCE REPORT" in out and f"Total Circuits: {circuits:,}" in out
    assert "step 8/8" in out  # the plain progress line (stdout is not a terminal here)
    data = json.loads((run_dir / "report.json").read_text())
    assert data["execution"]["circuits"] == circuits
    assert data["training"]["final_loss"] == [e for e in events if isinstance(e, StepMetrics)][-1].loss
    assert (run_dir / "report.md").is_file() and (run_dir / "config.toml").is_file()


def test_report_prints_each_format_from_the_events(finished_run, capsys):
    runs_dir, run_dir, _ = finished_run
    assert main(["report", run_dir.name, "--runs-dir", str(runs_dir), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((run_dir / "report.json").read_text())
    assert main(["report", run_dir.name, "--runs-dir", str(runs_dir), "--format", "md"]) == 0
    assert capsys.readouterr().out == (run_dir / "report.md").read_text()
    assert main(["--runs-dir", str(runs_dir), "report", str(run_dir)]) == 0
    assert "Total Circuits:" in capsys.readouterr().out


def test_runs_lists_the_run_with_its_status_and_steps(finished_run, capsys):
    runs_dir, run_dir, _ = finished_run
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "BACKEND", "STEPS", "LOSS", "VAL", "ACC", "STARTED"]
    assert lines[1].split()[:4] == [run_dir.name, "completed", "local", "8/8"]
    assert lines[-1] == f"(1 run in {runs_dir})"


def test_runs_lists_every_run_when_one_has_a_damaged_event_line_and_names_it(finished_run, capsys):
    """A bad line in the middle of one run's events made `runs` fail as a whole (exit 2, nothing listed)."""
    import shutil

    runs_dir, run_dir, _ = finished_run
    damaged = runs_dir / "20200101-000000-dead"
    shutil.copytree(run_dir, damaged)
    events = (damaged / "events.jsonl").read_text().splitlines(keepends=True)
    events[3] = '{"seq":4,"kind":"step_metrics","loss":"not a number"}\n'
    (damaged / "events.jsonl").write_text("".join(events))
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    captured = capsys.readouterr()
    listed = [line.split()[0] for line in captured.out.splitlines()[1:-1]]
    assert sorted(listed) == sorted([run_dir.name, damaged.name]) and captured.out.splitlines()[-1] == \
        f"(2 runs in {runs_dir})"
    assert captured.err.startswith(f"warning: run {damaged.name}: {damaged / 'events.jsonl'}: line 4: not a valid event")


def test_runs_warns_of_a_run_whose_config_cannot_be_read(finished_run, tmp_path, capsys):
    """Listed as healthy before, while `report` and `run --resume` refused the same run."""
    import shutil

    _, run_dir, _ = finished_run
    damaged = tmp_path / run_dir.name
    shutil.copytree(run_dir, damaged)
    (damaged / "config.toml").write_bytes(b"\xff\xfe[optimization\n")
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].split()[0] == damaged.name
    assert captured.err.startswith(f"warning: run {damaged.name}: {damaged / 'config.toml'}: "), captured.err


def test_runs_in_a_file_instead_of_a_folder_is_an_error(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["runs", "--runs-dir", str(afile)]) == 2
    assert f"runs directory {afile}: not a directory" in capsys.readouterr().err


def test_resuming_a_completed_run_is_refused(finished_run, capsys):
    runs_dir, run_dir, _ = finished_run
    assert main(["run", "--resume", run_dir.name, "--runs-dir", str(runs_dir)]) == 2
    assert "already completed" in capsys.readouterr().err


@pytest.mark.parametrize("setting, message", [
    ("epochs=zero", "epochs: must be an integer, got 'zero'"),
    ("learning_rate=-1", "learning_rate: must be > 0, got -1"),
    ("epoch=3", "epoch: unknown field (did you mean 'epochs'?)"),
    ("backend=cloud", "backend: must be one of"),
    ("epochs", "--set takes KEY=VALUE, got 'epochs'"),
    ("dataset_path=~qstore-no-such-user/x.csv", "dataset_path: '~qstore-no-such-user/x.csv': there is no user "
                                              "'qstore-no-such-user'"),  # Path.expanduser's RuntimeError: a crash
])
def test_a_bad_set_value_is_refused_with_the_field_name(tmp_path, capsys, setting, message):
    assert main(["run", "--headless", "--runs-dir", str(tmp_path), "--set", setting]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_config_file_errors_name_the_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[optimization]\nepochs = -2\n")
    assert main(["run", "--headless", "--runs-dir", str(tmp_path / "runs"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "epochs: must be >= 1" in err
    assert main(["run", "--headless", "--config", str(bad), "--preset", "development"]) == 2
    assert "not both" in capsys.readouterr().err


def test_resume_refuses_config_options(tmp_path, capsys):
    assert main(["run", "--resume", "x", "--runs-dir", str(tmp_path), "--set", "epochs=2"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_attach_and_report_name_an_unknown_run(tmp_path, capsys):
    assert main(["attach", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "run 'nope': not found" in capsys.readouterr().err
    assert main(["report", "nope", "--runs-dir", str(tmp_path)]) == 2


def test_the_emulator_command_is_the_emulator_entry(capsys):
    with pytest.raises(SystemExit) as info:
        main(["emulator", "--help"])
    assert info.value.code == 0 and "usage: qstore-tui emulator" in capsys.readouterr().out
    assert main(["emulator", "--port", "70000"]) == 2


async def test_attaching_to_a_finished_run_shows_its_final_metrics(finished_run, app_factory):
    runs_dir, run_dir, _ = finished_run
    events = read_events(run_dir)
    last_step = [e for e in events if isinstance(e, StepMetrics)][-1]
    app = app_factory(runs_dir=runs_dir, attach=run_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(100):
            if app.bridge.view.finished is not None:
                break
            await pilot.pause(0.05)
        view = app.bridge.view
        assert view.source == "attach" and view.run_id == run_dir.name
        assert view.finished == events[-1] and view.status == "completed"
        assert view.step == 8 and view.losses[-1] == last_step.loss
        assert view.circuits_done == sum(e.circuits for e in events if isinstance(e, BatchExecuted))


class _FakeApp:
    return_code = 0  # what a real app reports after a clean exit (1 after a crash)

    def __init__(self, calls, kw):
        self.calls, self.kw = calls, kw

    def run(self, **kw):
        self.calls.append((self.kw, kw))


@pytest.mark.parametrize("argv, expected", [
    ([], {"demo": False, "no_mouse": False, "config": None}),
    (["--demo", "--no-mouse"], {"demo": True, "no_mouse": True}),
    (["--set", "epochs=7"], {"demo": False}),
])
def test_the_tui_commands_open_make_app(tmp_path, monkeypatch, argv, expected):
    calls = []
    monkeypatch.setattr("qstore_tui.app.make_app", lambda **kw: _FakeApp(calls, kw))
    monkeypatch.setattr("qstore_tui.cli.options.have_terminal", lambda: True)
    assert main([*argv, "--runs-dir", str(tmp_path)]) == 0
    [(made, ran)] = calls
    assert {k: made[k] for k in expected} == expected and made["runs_dir"] == tmp_path
    assert ran == {"mouse": not made["no_mouse"]}
    if "--set" in argv:
        assert made["config"].epochs == 7


def test_attach_opens_make_app_on_the_run_directory(finished_run, monkeypatch):
    runs_dir, run_dir, _ = finished_run
    calls = []
    monkeypatch.setattr("qstore_tui.app.make_app", lambda **kw: _FakeApp(calls, kw))
    monkeypatch.setattr("qstore_tui.cli.options.have_terminal", lambda: True)
    assert main(["attach", run_dir.name, "--runs-dir", str(runs_dir), "--no-mouse"]) == 0
    [(made, ran)] = calls
    assert made["attach"] == run_dir and made["runs_dir"] == runs_dir and ran == {"mouse": False}


def test_options_before_the_command_are_kept(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("qstore_tui.app.make_app", lambda **kw: _FakeApp(calls, kw))
    monkeypatch.setattr("qstore_tui.cli.options.have_terminal", lambda: True)
    assert main(["--no-mouse", "--set", "epochs=4", "--runs-dir", str(tmp_path), "run"]) == 0
    [(made, ran)] = calls
    assert made["config"].epochs == 4 and made["runs_dir"] == tmp_path and ran == {"mouse": False}


def test_without_a_terminal_the_app_is_not_opened_run_trains_headless_and_attach_prints_the_progress(
        finished_run, tmp_path, capsys):
    """stdin or stdout a pipe (here pytest's capture): the app would draw escape codes into it and wait for keys
    forever. The bare app refuses, naming what to run instead; `run` trains headless and says so; `attach` follows
    the run in text. No app is made: make_app is not replaced here, so opening one would fail this test."""
    from runs_fixtures import fake_run

    runs_dir, run_dir, _ = finished_run
    assert main(["--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error: the app needs a terminal" in err and "qstore-tui run --headless" in err

    assert main(["run", "--runs-dir", str(tmp_path / "runs"), *TINY]) == 0
    out, err = capsys.readouterr()
    assert "no terminal (stdin or stdout is a pipe or a file): training headless" in err
    assert "QSTORE-TUI PERFORMANCE REPORT" in out and read_events(_only_run(tmp_path / "runs"))[-1].status == "completed"

    assert main(["attach", run_dir.name, "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"following run {run_dir.name}") and "step 8/8" in out
    assert out.splitlines()[-1].startswith("run completed after 8 steps in ")

    killed = fake_run(tmp_path / "others", "r1", losses=[0.5, 0.4], status=None)
    stopped = fake_run(tmp_path / "others", "r2", losses=[0.5, 0.4], status="stopped")
    for run, said in ((killed, "run r1: no session writes it any more and it did not finish (killed?)"),
                      (stopped, "run r2 stopped: ")):
        assert main(["attach", "--headless", run.name, "--runs-dir", str(run.parent)]) == 4
        out = capsys.readouterr().out
        assert said in out and f"resume it with: qstore-tui run --resume {run.name}" in out


def test_attach_without_the_app_follows_a_live_run_until_its_writer_finishes_it(tmp_path, capsys):
    """A run held by a session (its lock) is followed past the end of its file; the writer's RunFinished ends it."""
    import threading
    import time

    from runs_fixtures import fake_run

    from engine.events import EventBus
    from engine.runs import EVENTS_FILE, EventLog, RunLock

    run = fake_run(tmp_path, "live", losses=[0.5, 0.4], status=None)
    lock = RunLock(run)
    lock.acquire()

    def finish_later() -> None:
        time.sleep(0.6)  # the follower has read the file to its end by now, and waits for more
        log = EventLog(run / EVENTS_FILE)
        bus = EventBus()
        bus.add_sink(log)
        bus.emit(RunFinished(status="completed", steps=2, final_loss=0.4, val_accuracy=None, wall_s=1.0))
        log.close()
        lock.release()

    writer = threading.Thread(target=finish_later)
    writer.start()
    try:
        started = time.monotonic()
        assert main(["attach", "--headless", "live", "--runs-dir", str(tmp_path)]) == 0
        assert time.monotonic() - started >= 0.5  # it waited for the writer, not stopped at the file's end
    finally:
        writer.join()
    assert capsys.readouterr().out.splitlines()[-1] == "run completed after 2 steps in 1.0s"


@pytest.mark.parametrize("argv, message", [
    (["--runs-dir=", "runs"], "argument --runs-dir: an empty path"),  # was read as ".", the current directory
    (["--config=", "run", "--headless"], "argument --config: an empty path"),
    (["runs", "--runs-dir", "~qstore-no-such-user/runs"],
     "runs_dir: --runs-dir '~qstore-no-such-user/runs': there is no user 'qstore-no-such-user'"),
    (["export", "r", "--format", "csv", "--out="], "argument --out: an empty path"),
])
def test_an_empty_path_or_an_unknown_users_home_exits_2_naming_the_option(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err
