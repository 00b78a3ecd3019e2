"""Two `qstore-tui sweep --join` processes, two runs directories ("machines"), one study on a real PostgreSQL.

The server is started for the module with initdb and pg_ctl in a temporary directory, as the `postgres`
user (PostgreSQL refuses to run as root), on a free port of 127.0.0.1, and stopped afterwards.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from engine.sweep import SweepSpec, create_study, open_storage, parse_space, summarize
from sweep_helpers import SPACE, segments, tiny_base, trial_runs

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        pytest.skip(f"PostgreSQL 15 binaries not found in {PG_BIN} (.ci/run installs them)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="qstore-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                                 "-w", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_join_processes_share_one_study_through_postgresql(tmp_path, postgres_url):
    base = tiny_base()
    spec = SweepSpec("shared", base, parse_space(SPACE, base), trials=6, prune="none")
    storage = open_storage(postgres_url)
    study = create_study(spec, storage)
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    command = [sys.executable, "-m", "qstore_tui", "sweep", "--join", "shared", "--storage", postgres_url,
               "--workers", "1"]
    procs = [subprocess.Popen([*command, "--runs-dir", str(m)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for m in machines]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err.decode()[-2000:]
    summary = summarize(study, postgres_url)
    ran = {state: n for state, n in summary.counts.items() if state != "surplus"}  # a race's unrun extra: see summary
    assert summary.finished and ran == {"complete": 6}, [(t.state, t.error) for t in summary.trials]
    runs = trial_runs(*machines)
    assert sorted(runs) == list(range(6))  # none lost
    assert all(len(dirs) == 1 and segments(dirs[0]) == 1 for dirs in runs.values())  # none run twice
    per_machine = {m: sum(1 for dirs in runs.values() if dirs[0].parent == m) for m in machines}
    assert all(n >= 1 for n in per_machine.values()), per_machine  # the trials spread over both
    assert "postgres@127.0.0.1" in outputs[0][0].decode()  # the masked storage is shown
    best = max((t for t in summary.trials if t.state == "complete"), key=lambda t: (t.value, -t.number))  # not surplus
    assert summary.best.number == best.number
