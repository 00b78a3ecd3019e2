"""A full disk (a real 2 MB tmpfs as the runs directory): the run stops cleanly and resumes once there is space."""

import json
import os
import subprocess
import uuid

import numpy as np
import pytest

from engine.checkpoint import checkpoints_in, read_training_checkpoint
from engine.events import RunFinished
from engine.runs import read_events
from engine.store import SQLiteVectorStore, StoreError, VectorRecord
from qstore_tui.cli import main


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (root only: CI runs as root); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk, leave_bytes):
    """A filler file that leaves about `leave_bytes` free; deleting it gives the space back."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


SETTINGS = ["--set", "n_qubits=2", "--set", "circuit_depth=1", "--set", "n_samples=20", "--set", "batch_size=1",
            "--set", "epochs=8", "--set", "log_interval=1", "--set", "checkpoint_interval=5", "--set",
            "shots_per_circuit=0", "--set", "embeddings_to_store=false", "--set", "seed=3"]


def test_a_full_disk_stops_the_run_cleanly_and_it_resumes_once_there_is_space(tiny_disk, capsys):
    runs = tiny_disk / "runs"
    filler = _fill(tiny_disk, 48 * 1024)
    assert main(["run", "--headless", "--runs-dir", str(runs), *SETTINGS]) == 3
    out, err = capsys.readouterr()
    [run_dir] = runs.iterdir()
    assert "no space left on device" in err and str(run_dir) in err and "Traceback" not in out + err
    assert "report: " not in out and "report not written" in err  # the report is not claimed when refused
    data = (run_dir / "events.jsonl").read_bytes()
    assert data.endswith(b"\n")  # whole lines only
    for line in data.splitlines():
        json.loads(line)
    last = checkpoints_in(run_dir / "checkpoints")[-1]
    assert read_training_checkpoint(last).step > 0  # the last good checkpoint is intact
    assert not any(p.name.endswith(".tmp") for p in (run_dir / "checkpoints").iterdir())

    filler.unlink()
    assert main(["run", "--resume", run_dir.name, "--runs-dir", str(runs)]) == 0, capsys.readouterr().err
    finished = read_events(run_dir)[-1]
    assert isinstance(finished, RunFinished) and finished.status == "completed" and finished.steps == 8 * 16
    seqs = [json.loads(line)["seq"] for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))  # nothing lost or doubled across the failure and the resume


def test_the_vector_store_on_a_full_disk_raises_a_store_error_naming_the_file(tiny_disk):
    _fill(tiny_disk, 256 * 1024)
    store = SQLiteVectorStore(tiny_disk / "store.sqlite", 8, "euclidean")
    rng = np.random.default_rng(0)
    with pytest.raises(StoreError, match=r"store .*store.sqlite: upsert failed: no space left on device"):
        for _ in range(200):
            store.upsert("ns", [VectorRecord(uuid.uuid4().hex * 8, rng.random(8), {"x": "y" * 200})
                                for _ in range(50)])
    store.close()


def test_a_disk_full_before_the_first_step_says_what_was_not_written_and_claims_no_report(tiny_disk, capsys):
    """With no room for config.toml no run is left behind. With room for it but not for the store, the run fails at
    step 0, events.jsonl takes nothing, and the printed report (built from events.jsonl) is said to end early."""
    runs = tiny_disk / "runs"
    runs.mkdir()
    filler = _fill(tiny_disk, 0)
    assert main(["run", "--headless", "--runs-dir", str(runs), *SETTINGS]) == 3
    out, err = capsys.readouterr()
    assert "config.toml: cannot write: no space left on device" in err and "Traceback" not in out + err
    assert list(runs.iterdir()) == []  # not a run without a config

    filler.unlink()
    _fill(tiny_disk, 8 * 1024)
    assert main(["run", "--headless", "--runs-dir", str(runs), *SETTINGS, "--set", "embeddings_to_store=true"]) == 3
    out, err = capsys.readouterr()
    [run_dir] = runs.iterdir()
    assert "Traceback" not in out + err
    assert f"store path {run_dir / 'store.sqlite'}: cannot open: no space left on device" in err
    assert "events of this run could not be written" in err and str(run_dir / "events.jsonl") in err
    assert "report: " not in out and "report not written" in err
