"""SIGINT and SIGTERM end a headless run within a second, whatever phase it is in, with exit code 130."""

import os
import signal
import subprocess
import sys
import time

from engine.events import Checkpoint, RunFinished
from engine.runs import EVENTS_FILE, read_events

LIMIT_S = 1.0
RUN = ["run", "--headless", "--preset", "development", "--set", "epochs=120"]  # the run
SMALL = ["run", "--headless", "--set", "n_qubits=2", "--set", "circuit_depth=1", "--set", "n_samples=20",
         "--set", "epochs=500", "--set", "shots_per_circuit=0"]  # reaches training sooner


def _start(runs, log, args, preexec_fn=None):
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    with open(log, "w") as out:  # files, not pipes: a full pipe would block the child while we wait for others
        return subprocess.Popen([sys.executable, "-m", "qstore_tui", *args, "--runs-dir", str(runs)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)


def _importing(pid):
    """True once the interpreter is inside our imports (numpy's core is mapped) and before any run exists."""
    try:
        return "_multiarray_umath" in open(f"/proc/{pid}/maps").read()
    except OSError:
        return False


def _load_factor():
    """One second means one second of a free core: a machine running N times more work than cores gets N."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def _training(runs):
    """True once some run under `runs` has logged a step."""
    for d in runs.iterdir() if runs.exists() else []:
        path = d / EVENTS_FILE
        if path.exists() and b'"kind":"step_metrics"' in path.read_bytes():
            return True
    return False


def test_a_signal_in_every_phase_ends_the_run_within_a_second(tmp_path):
    # start-up (imports), building the parts (data, backend, compile check), and training; all at once.
    phases = {"start-up": (signal.SIGTERM, None), "build": (signal.SIGINT, None), "training": (signal.SIGTERM, None)}
    procs = {name: (_start(tmp_path / name, tmp_path / f"{name}.log", SMALL if name == "training" else RUN), sig, at)
             for name, (sig, at) in phases.items()}
    t0 = time.monotonic()
    sent, ended = {}, {}
    while len(ended) < len(procs) and time.monotonic() - t0 < 90:
        for name, (proc, sig, _) in procs.items():
            if name in ended:
                continue
            if proc.poll() is not None:
                ended[name] = time.monotonic()
                continue
            if name in sent:
                continue
            runs = tmp_path / name
            ready = {"start-up": _importing(proc.pid) and not runs.exists(),
                     "build": runs.exists() and any(runs.iterdir()) and not _training(runs),
                     "training": _training(runs)}[name]
            if ready:
                proc.send_signal(sig)
                sent[name] = time.monotonic()
        time.sleep(0.005)
    assert len(sent) == len(procs), f"never reached: {set(procs) - set(sent)}"
    for name, (proc, _, _) in procs.items():
        output = (tmp_path / f"{name}.log").read_text()
        assert proc.returncode == 130, (name, proc.returncode, output[-2000:])
        assert "Traceback" not in output, (name, output[-2000:])
        assert ended[name] - sent[name] <= LIMIT_S * _load_factor(), (name, ended[name] - sent[name])
    [run_dir] = (tmp_path / "training").iterdir()
    events = read_events(run_dir)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "interrupted"
    assert any(isinstance(e, Checkpoint) for e in events) or "abandoned" in events[-1].message


def test_a_hangup_stops_a_headless_run_at_a_checkpoint_and_under_nohup_the_run_goes_on(tmp_path):
    """The SSH session dropped: SIGHUP once stops the run as Ctrl-C does (it was killed outright, report unwritten).
    A run started under nohup (SIGHUP ignored) finishes. One started by a script's `&` (SIGINT ignored) stops too."""
    short = [*SMALL[:-4], "--set", "epochs=8", "--set", "shots_per_circuit=0"]
    hup = _start(tmp_path / "hup", tmp_path / "hup.log", SMALL)
    background = _start(tmp_path / "background", tmp_path / "background.log", SMALL,
                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    with open(tmp_path / "nohup.log", "w") as out:
        nohup = subprocess.Popen([sys.executable, "-m", "qstore_tui", *short, "--runs-dir", str(tmp_path / "nohup")],
                                 env=env, stdout=out, stderr=subprocess.STDOUT,
                                 preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    deadline = time.monotonic() + 90
    waiting = {"hup": hup, "background": background, "nohup": nohup}
    while waiting and time.monotonic() < deadline:
        for name, proc in list(waiting.items()):
            if _training(tmp_path / name):
                proc.send_signal(signal.SIGHUP)
                del waiting[name]
        time.sleep(0.01)
    assert not waiting, f"never trained: {set(waiting)}"
    for name, proc in (("hup", hup), ("background", background)):
        assert proc.wait(60) == 130, (tmp_path / f"{name}.log").read_text()[-2000:]
        [stopped] = (tmp_path / name).iterdir()
        events = read_events(stopped)
        assert isinstance(events[-1], RunFinished) and events[-1].status == "interrupted", name
        assert (stopped / "report.md").is_file() and "Traceback" not in (tmp_path / f"{name}.log").read_text()
    assert nohup.wait(120) == 0, (tmp_path / "nohup.log").read_text()[-2000:]
    [finished] = (tmp_path / "nohup").iterdir()
    assert read_events(finished)[-1].status == "completed"


def test_without_a_terminal_run_and_attach_headless_take_sigterm_and_sighup_as_ctrl_c(tmp_path):
    """Taken for the app, `run` without --headless (no terminal: it trains headless) died of a SIGHUP with 129, no
    checkpoint and no report; `attach --headless` died of SIGTERM with 143."""
    args = [a for a in SMALL if a != "--headless"]
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    runs = tmp_path / "runs"
    with open(tmp_path / "run.log", "w") as out:
        run = subprocess.Popen([sys.executable, "-m", "qstore_tui", *args, "--runs-dir", str(runs)], env=env,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while not _training(runs) and time.monotonic() < deadline:
        time.sleep(0.01)
    [run_dir] = runs.iterdir()
    with open(tmp_path / "attach.log", "w") as out:
        attach = subprocess.Popen([sys.executable, "-m", "qstore_tui", "attach", run_dir.name, "--headless",
                                   "--runs-dir", str(runs)], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT)
    while b"step" not in (tmp_path / "attach.log").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    attach.send_signal(signal.SIGTERM)
    assert attach.wait(30) == 130, (tmp_path / "attach.log").read_text()[-2000:]
    run.send_signal(signal.SIGHUP)
    assert run.wait(60) == 130, (tmp_path / "run.log").read_text()[-2000:]
    events = read_events(run_dir)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "interrupted"
    assert (run_dir / "report.md").is_file()
