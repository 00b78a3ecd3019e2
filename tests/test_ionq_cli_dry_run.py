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


def test_a_headless_qpu_run_asks_once_and_needs_yes_without_a_terminal(tmp_path, monkeypatch):
    """As the Config screen's dialog and `sweep` do: the estimate and the cap, then y/N; a no starts nothing. The
    ionq backend against the emulator on loopback (a real QPU target's path, key from the environment)."""
    from engine.backends.emulator import EmulatorServer, EmulatorSettings

    key = "cli-confirm-key-0123456789"
    monkeypatch.setenv("IONQ_API_KEY", key)
    with EmulatorServer(EmulatorSettings(api_keys=(key,), seed=0)) as server:
        qpu = {**SETTINGS, "backend": "ionq", "ionq_api_url": server.base_url, "use_native_gates": "false"}
        sets = [x for k, v in qpu.items() for x in ("--set", f"{k}={v}")]
        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        code, out, err = _run(["run", "--headless", "--runs-dir", str(tmp_path), *sets])
        assert code == 2 and "QPU cost estimate: $" in out and "cap $10,000.00" in out
        assert err.strip() == ("error: yes: a run on a QPU target needs confirmation: run it in a terminal or "
                               "pass --yes")
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        monkeypatch.setattr("builtins.input", lambda prompt: "n")
        code, out, err = _run(["run", "--headless", "--runs-dir", str(tmp_path), *sets])
        assert code == 130 and "run not started: its estimated cost of $" in err
        assert not list(tmp_path.iterdir())  # nothing created, nothing sent
        monkeypatch.setattr("builtins.input", lambda prompt: "y")
        from engine.config import TrainingConfig
        from qstore_tui.cli.run import _cost_confirmed

        assert _cost_confirmed(TrainingConfig().with_overrides(qpu), yes=False)

        def no_question(prompt):
            raise AssertionError("--yes asks nothing")

        monkeypatch.setattr("builtins.input", no_question)
        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        def sets_with(**changes):
            return [x for k, v in {**qpu, **changes}.items() if v is not None for x in ("--set", f"{k}={v}")]

        code, out, err = _run(["run", "--headless", "--runs-dir", str(tmp_path), *sets_with(max_cost_usd=None)])
        assert code == 2 and err.startswith("error: max_cost_usd: a run on 'qpu.forte-1' costs money"), err
        code, out, err = _run(["run", "--headless", "--runs-dir", str(tmp_path), *sets_with(max_cost_usd="0.01")])
        assert "over the cap by this estimate: IonQ's own estimate, asked as the run starts, decides" in out
        code, out, err = _run(["run", "--headless", "--yes", "--runs-dir", str(tmp_path), *sets])
        assert code == 0, err
        (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
        assert [e for e in read_events(run_dir) if isinstance(e, StepMetrics)]
