"""The CLI's error boundary: every failure is one line and a documented exit code, never a traceback."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import engine.runs
from engine.config import TrainingConfig
from engine.runs import create_run_dir
from qstore_tui.cli import main
from qstore_tui.cli.boundary import EXIT_BACKEND, EXIT_CONFIG, classify
from qstore_tui.crash import EXIT_INTERNAL

NOBODY = 65534


def test_an_unexpected_error_is_one_line_naming_the_command_and_its_crash_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("IONQ_API_KEY", "canary-key-in-a-crash-77")

    def broken(runs_dir):
        raise RuntimeError("index exploded (key canary-key-in-a-crash-77)")

    monkeypatch.setattr(engine.runs, "list_runs", broken)
    assert main(["runs", "--runs-dir", str(tmp_path)]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert line.startswith("error: internal error in 'runs': RuntimeError: index exploded")
    log = tmp_path / "state" / "qstore" / "crash"
    [crash] = list(log.iterdir())
    assert f"crash log: {crash}" in line and "Traceback" not in err
    text = crash.read_text()
    assert "Traceback (most recent call last)" in text and "in broken" in text
    assert "canary-key-in-a-crash-77" not in text + err


def test_a_crash_in_a_run_logs_into_its_run_directory(tmp_path, monkeypatch, capsys):
    import qstore_tui.cli.headless as headless

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    async def broken(session):
        raise RuntimeError("the progress display exploded")

    monkeypatch.setattr(headless, "_headless", broken)
    runs = tmp_path / "runs"
    assert main(["run", "--headless", "--runs-dir", str(runs), "--set", "epochs=1"]) == EXIT_INTERNAL
    [line] = capsys.readouterr().err.strip().splitlines()
    [run] = [d for d in runs.iterdir() if d.is_dir()]
    [crash] = list(run.glob("crash-*.log"))
    assert line.endswith(f"(crash log: {crash})") and "the progress display exploded" in line
    assert "in broken" in crash.read_text() and not (tmp_path / "state").exists()


def test_a_crash_log_falls_back_to_the_temporary_directory_when_the_state_directory_cannot_take_it(
        tmp_path, monkeypatch, capsys):
    (tmp_path / "state").write_text("a file where the state directory would be")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))

    def broken(runs_dir):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(engine.runs, "list_runs", broken)
    assert main(["runs", "--runs-dir", str(tmp_path)]) == EXIT_INTERNAL
    [crash] = list((tmp_path / "tmp" / "qstore-crash").iterdir())
    assert f"(crash log: {crash})" in capsys.readouterr().err and "in broken" in crash.read_text()


@pytest.mark.parametrize("field, env", [("quantum_api_key", "IONQ_API_KEY"), ("pinecone_api_key", "PINECONE_API_KEY")])
def test_a_secret_on_the_command_line_is_refused_naming_its_environment_variable(tmp_path, capsys, field, env):
    """As in config files: a command line shows in `ps` to every user, and in crash logs."""
    assert main(["run", "--headless", "--runs-dir", str(tmp_path), "--set", f"{field}=canary-cli-secret-41"]) \
        == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.strip() == f"error: {field}: secrets are never read from the command line; set env {env}"
    assert not list(tmp_path.iterdir())  # refused before any run directory


def test_a_crash_log_masks_a_secret_given_on_the_command_line(tmp_path, monkeypatch):
    from qstore_tui.crash import write_crash_log

    monkeypatch.setattr(sys, "argv", ["qstore-tui", "run", "--set", "quantum_api_key=canary-argv-52",
                                      "--set=pinecone_api_key=canary-argv-53", "--set", "epochs=3"])
    log = write_crash_log(RuntimeError("boom"), what="a test", run_dir=tmp_path)
    text = log.read_text()
    assert "canary-argv-5" not in text
    assert "quantum_api_key=*" in text and "--set=pinecone_api_key=*" in text and "epochs=3" in text


def test_crash_logs_of_one_second_each_get_their_own_file_in_the_same_folder(tmp_path):
    from qstore_tui.crash import write_crash_log

    logs = [write_crash_log(RuntimeError(f"boom {i}"), what="a test", run_dir=tmp_path) for i in range(3)]
    assert all(log is not None and log.parent == tmp_path for log in logs) and len(set(logs)) == 3
    assert [f"boom {i}" in log.read_text() for i, log in enumerate(logs)] == [True] * 3


def test_a_runs_dir_that_is_a_file_exits_2_naming_the_path(tmp_path, capsys):
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    assert main(["run", "--headless", "--runs-dir", str(afile), "--set", "epochs=1"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"runs directory {afile}: not a directory" in err and "Traceback" not in err


def _as_nobody(argv, home):
    """Run main(argv) in a forked child that dropped root for `nobody`: (exit code, stdout and stderr)."""
    import qstore_tui.cli.headless  # noqa: F401  (imported before the fork: nobody cannot read /root's stdlib)
    import qstore_tui.cli.run  # noqa: F401
    import engine.session  # noqa: F401

    def body() -> int:
        os.environ["HOME"] = str(home)
        os.environ["XDG_STATE_HOME"] = str(home / "state")
        return main(argv)

    return _forked_as_nobody(body)


def _forked_as_nobody(body):
    """body() -> exit code, in a forked child that dropped root for `nobody`: (exit code, its stdout and stderr)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.close(read)
            sys.stderr = sys.stdout = open(write, "w", buffering=1)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            code = body()
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        out = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to a non-root user (CI runs as root)")
def test_a_read_only_or_foreign_run_directory_exits_2_naming_the_path_and_reason(tmp_path_factory):
    tmp_path = Path(tempfile.mkdtemp(prefix="qstore-nobody-"))  # pytest's own tmp folders are root-only (0700)
    os.chmod(tmp_path, 0o755)
    try:
        _check_read_only_and_foreign(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _check_read_only_and_foreign(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o555)
    code, err = _as_nobody(["run", "--headless", "--runs-dir", str(readonly), "--set", "epochs=1"], home)
    assert code == EXIT_CONFIG, err
    assert f"{readonly}/" in err and "cannot create the run directory: permission denied" in err
    assert "Traceback" not in err

    foreign = tmp_path / "runs"  # a run made by root, resumed by nobody
    run_dir = create_run_dir(foreign, "r1", TrainingConfig(epochs=1))
    (run_dir / "config.toml").chmod(0o644)  # readable by all, writable by root only, like the directory
    code, err = _as_nobody(["run", "--resume", "r1", "--runs-dir", str(foreign)], home)
    assert code == EXIT_CONFIG, err
    assert f"{run_dir}: cannot write to the run directory: permission denied" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to a non-root user (CI runs as root)")
def test_runs_another_user_keeps_private_are_listed_as_unreadable_not_a_failed_listing():
    """A shared runs folder where one run's folder, and another's events, are root's alone (0700, 0600): `runs`
    as nobody lists every run, says which it cannot read and why, and exits 0; the Runs screen's index too."""
    from runs_fixtures import fake_run

    from engine.runs import list_records

    tmp_path = Path(tempfile.mkdtemp(prefix="qstore-nobody-"))
    try:
        os.chmod(tmp_path, 0o755)
        home = tmp_path / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        runs = tmp_path / "runs"
        for run_id in ("r1-open", "r2-private", "r3-events"):
            fake_run(runs, run_id, losses=[0.5, 0.25])
        for path in runs.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (runs / "lost+found").mkdir(mode=0o700)  # a runs folder at a file system's root: not a run, not listed
        (runs / "r2-private").chmod(0o700)
        (runs / "r3-events" / "events.jsonl").chmod(0o600)
        code, out = _as_nobody(["runs", "--runs-dir", str(runs)], home)
        assert code == 0, out
        rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("r")}
        assert rows == {"r1-open": "completed", "r2-private": "unreadable", "r3-events": "unreadable"}, out
        assert f"warning: run r3-events: {runs}/r3-events/events.jsonl: cannot read: permission denied" in out
        assert "warning: run r2-private: " in out and "lost+found" not in out and "Traceback" not in out
        private = runs / "r1-open" / "config.toml"
        private.chmod(0o600)
        code, out = _as_nobody(["run", "--headless", "--config", str(private)], home)
        assert code == 2 and f"{private}: cannot read: permission denied" in out and "Errno" not in out, out
        private.chmod(0o644)

        def listing() -> int:  # the index the Runs screen lists, as nobody
            print(repr(sorted((r.run_id, r.status, bool(r.problem)) for r in list_records(runs))))
            return 0

        code, listed = _forked_as_nobody(listing)
        assert code == 0, listed
        assert listed.strip() == repr([("r1-open", "completed", False), ("r2-private", "unreadable", True),
                                       ("r3-events", "unreadable", True)])
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.parametrize("exc, code", [
    (OSError(28, "No space left on device", "/x/events.jsonl"), EXIT_BACKEND),
    (PermissionError(13, "Permission denied", "/x/run"), EXIT_CONFIG),
    (NotADirectoryError(20, "Not a directory", "/x/file"), EXIT_CONFIG),
    (ConnectionRefusedError(111, "Connection refused"), EXIT_BACKEND),
])
def test_os_errors_anywhere_get_a_code_and_a_line_naming_the_path(exc, code):
    got, line = classify(exc)
    assert got == code and line.startswith("error: ") and "Errno" not in line
    if exc.filename:
        assert exc.filename in line


def test_a_closed_output_pipe_exits_141_quietly(tmp_path):
    """`qstore-tui runs | head -1`: the reader is gone before the listing is written."""
    import subprocess

    from runs_fixtures import fake_run

    for i in range(3):
        fake_run(tmp_path, f"run-{i}", losses=[1.0, 0.5], val_accuracy=[0.7], start=1_000.0 + i)
    child = subprocess.Popen([sys.executable, "-m", "qstore_tui", "runs", "--runs-dir", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # before the child has written anything: its first write finds no reader
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141, err
    assert err == ""  # no traceback, no "Exception ignored" from the interpreter's last flush
