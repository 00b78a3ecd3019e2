"""`qstore-tui run --headless --dry-run`: IonQ (here the in-process emulator) validates and prices every payload
of a step, nothing runs, and the report says what the run would cost."""

from __future__ import annotations

import contextlib
import io

from engine.events import DryRunReport, StepMetrics
from engine.runs import read_events
from qstore_tui.cli import main

SETTINGS = {"backend": "emulator", "quantum_target": "qpu.forte-1", "max_cost_usd": "10000", "n_qubits": "2",
            "circuit_depth": "1", "n_samples": "12", "epochs": "1", "batch_size": "3", "shots_per_circuit": "100",
            "embeddings_to_store": "false"}


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_a_dry_run_from_the_command_line_prices_the_run_and_runs_nothing(tmp_path):
    sets = [x for k, v in SETTINGS.items() for x in ("--set", f"{k}={v}")]
    code, out, err = _run(["run", "--headless", "--dry-run", "--runs-dir", str(tmp_path), *sets])
    assert code == 0, err
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    events = read_events(run_dir)
    (report,) = [e for e in events if isinstance(e, DryRunReport)]
    assert report.executed == 0 and report.planned_usd > 0
    assert not [e for e in events if isinstance(e, StepMetrics)], "a dry run trains nothing"
    md = (run_dir / "report.md").read_text()
    assert "| Dry Run |" in md and "executed 0" in md


def test_a_dry_run_on_the_local_simulator_is_refused_naming_the_field(tmp_path):
    code, out, err = _run(["run", "--headless", "--dry-run", "--runs-dir", str(tmp_path)])
    assert code == 2 and "dry_run" in err and "needs backend 'ionq' or 'emulator'" in err
