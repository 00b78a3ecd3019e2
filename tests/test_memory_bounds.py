"""What a long run holds in memory does not grow with its steps (issue 13's leak; bench/long_run.py measures it).

The causes pinned here: the end-of-run report was built from every event of events.jsonl loaded at once
(~150 MB for a 20,000-step run), its curve points were pydantic models of ~1.1 KB each, report.json was
rendered through a dict per curve point and a list of every JSON token (+24 MB for 20,000 steps), and the
vector store's SQLite page cache filled with the growing file (2 MiB) over the first ~140 epochs.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from engine.config import TrainingConfig
from engine.events import BatchExecuted, RunFinished, RunStarted, StepMetrics, _Event
from engine.runs import EVENTS_FILE
from engine.runs.eventlog import iter_events, read_events
from engine.session import EngineSession
from engine.store.sqlite_store import PAGE_CACHE_KIB, SQLiteVectorStore

STEPS = 6000


def _write_events(path: Path, steps: int) -> None:
    """A run's events.jsonl: per step one BatchExecuted (with its stage times) and one StepMetrics."""
    lines: list[bytes] = []
    seq = 0

    def add(ev: _Event) -> None:
        nonlocal seq
        seq += 1
        ev.seq, ev.time = seq, 1e9 + seq * 0.01
        lines.append(ev.model_dump_json().encode())

    add(RunStarted(run_id="run-mem", backend="local", target="simulator", n_qubits=4, n_params=12,
                   total_steps=steps))
    for k in range(steps):
        add(BatchExecuted(batch_id=k, circuits=3, total_ms=1.5, throughput_cps=2000.0, purpose="spsa",
                          stage_ms={"bind": 0.2, "execute": 1.1, "post_process": 0.2}))
        add(StepMetrics(epoch=k // 80, step=k, total_steps=steps, loss=0.7 - k * 1e-5, accuracy=1.0,
                        grad_norm=0.3 + k * 1e-7, circuits=3))
    add(RunFinished(status="completed", steps=steps, final_loss=0.64, wall_s=60.0))
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_the_session_report_folds_events_one_at_a_time_into_a_compact_curve(tmp_path: Path) -> None:
    session = EngineSession(TrainingConfig(), runs_dir=tmp_path, run_id="run-mem")
    session.run_dir.mkdir()
    _write_events(session.run_dir / EVENTS_FILE, STEPS)
    tracemalloc.start()
    try:
        report = session.performance_report()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.run.steps == STEPS and len(report.training.curve) == STEPS
    assert report.engine.events == 2 * STEPS + 2 and report.execution.circuits == 3 * STEPS
    # Loaded as a list, 12,000 events are ~20 MB; curve points as pydantic models ~1.1 KB each (6.6 MB).
    assert held < 300 * STEPS, f"the report holds {held / STEPS:.0f} B per step"
    assert peak < held + 2 * 2**20, f"building it peaked {(peak - held) / 2**20:.1f} MB above what it keeps"

    tracemalloc.start()
    try:
        data = report.to_json_bytes()  # json.dumps(to_json(), indent=2) peaks at ~1.3 KB/step: dicts, token list
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(data) + 60 * STEPS, f"rendering report.json peaked at {peak / STEPS:.0f} B per step"
    assert data == json.dumps(report.to_json(), indent=2).encode()


def test_iter_events_reads_like_read_events_without_holding_the_file(tmp_path: Path) -> None:
    _write_events(tmp_path / EVENTS_FILE, 50)
    with open(tmp_path / EVENTS_FILE, "ab") as f:
        f.write(b'{"kind":"log","seq":999')  # torn: a killed writer's last line is not an event
    stream = iter_events(tmp_path)
    first = next(stream)  # an iterator: the first event without parsing the rest
    assert isinstance(first, RunStarted)
    assert [first, *stream] == read_events(tmp_path)
    assert len(read_events(tmp_path)) == 102
    assert list(iter_events(tmp_path / "missing")) == []


def test_the_store_page_cache_is_capped(tmp_path: Path) -> None:
    store = SQLiteVectorStore(tmp_path / "store.sqlite", 4, "euclidean")
    try:
        assert store._db().execute("PRAGMA cache_size").fetchone()[0] == -PAGE_CACHE_KIB
    finally:
        store.close()


def test_the_report_files_and_the_report_command_fold_the_events_too(tmp_path: Path, capsys) -> None:
    """`qstore-tui report` (and --write, and the Report screen's files) loaded every event at once and rendered
    report.json through json.dumps: ~20 MB and ~8 MB more for these 6,000 steps."""
    from qstore_tui.cli import main as cli_main

    from engine.runs import create_run_dir

    run_dir = create_run_dir(tmp_path, "run-mem", TrainingConfig())
    _write_events(run_dir / EVENTS_FILE, STEPS)
    tracemalloc.start()
    try:
        assert cli_main(["report", str(run_dir), "--format", "json", "--runs-dir", str(tmp_path)]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    printed = capsys.readouterr().out
    assert json.loads(printed)["run"]["steps"] == STEPS
    assert peak < len(printed) + 700 * STEPS, f"the report command peaked at {peak / STEPS:.0f} B per step"
