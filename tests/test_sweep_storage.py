"""A sweep's storage URL: a silent server times out (exit 3), bad URLs are refused naming storage (exit 2), the
password is masked however it is spelled (and in crash logs), and a join creates no database."""

import socket
import sys
import threading

import pytest

from engine.sweep.storage import mask_url
from qstore_tui.cli import main
from qstore_tui.crash import write_crash_log


@pytest.fixture
def silent_server():
    """A loopback listener that accepts connections and never answers (as a hung database server does)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    done = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not done.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_server_that_accepts_and_never_answers_fails_after_the_connect_timeout(tmp_path, capsys, monkeypatch,
                                                                                  silent_server):
    monkeypatch.setattr("engine.sweep.storage.CONNECT_TIMEOUT_S", 2)  # libpq's least
    url = f"postgresql://bob:s3cret@127.0.0.1:{silent_server}/optuna"
    assert main(["sweep", "--join", "x", "--storage", url, "--workers", "1", "--runs-dir", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "storage: cannot open postgresql://bob:***@127.0.0.1" in err and "timeout" in err
    assert "s3cret" not in err and "internal error" not in err


@pytest.mark.parametrize("url, password", [
    ("postgresql://bob:s3/cret@db.example:5432/optuna", "s3/cret"),
    ("postgresql://bob:s3?cret@db.example/optuna", "s3?cret"),
    ("postgresql://bob:s3#cret@db.example/optuna", "s3#cret"),
    ("postgresql://bob:s3@cret@db.example/optuna", "s3@cret"),
])
def test_a_password_with_url_delimiters_is_masked_whole(url, password):
    masked = mask_url(url)
    assert password not in masked and masked.startswith("postgresql://bob:***@db.example")


@pytest.mark.parametrize("url", ["postgresql://bob:pw/x@127.0.0.1:99999/db", "postgresql://bob:pw/x@[::1/db",
                                 "sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_bad_storage_urls_are_refused_naming_storage_without_the_password(tmp_path, capsys, url):
    base, space = tmp_path / "base.toml", tmp_path / "space.toml"
    base.write_text("n_qubits = 2\ncircuit_depth = 1\nshots_per_circuit = 0\n")
    space.write_text('[seed]\ntype = "int"\nlow = 0\nhigh = 3\n')
    assert main(["sweep", "--config", str(base), "--space", str(space), "--trials", "1", "--workers", "1",
                 "--storage", url, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: storage: ") and "internal error" not in err and "pw/x" not in err


def test_a_crash_log_masks_a_storage_password_in_argv(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["qstore-tui", "sweep", "--storage", "postgresql://bob:s3/cret@h/db",
                                      "--storage=postgresql://bob:t0p?s@h/db", "--stor", "mysql://bob:x#y@h/db"])
    path = write_crash_log(RuntimeError("boom"), what="'sweep'", run_dir=tmp_path)
    text = path.read_text()
    assert "argv: qstore-tui sweep --storage postgresql://bob:***@h/db --storage=postgresql://bob:***@h/db" in text
    assert not any(secret in text for secret in ("s3/cret", "t0p?s", "x#y"))


def test_a_join_on_a_missing_sqlite_file_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "missing" / "dir" / "x.db"
    assert main(["sweep", "--join", "lr", "--storage", f"sqlite:///{missing}", "--runs-dir",
                 str(tmp_path / "runs")]) == 2
    said = capsys.readouterr()
    assert "storage: " in said.err and "no such database file" in said.err and "joining" not in said.out
    assert not (tmp_path / "missing").exists()
