"""The command line: --version and --help work, and starting the app does not import cirq."""

import os
import subprocess
import sys

from engine import __version__


def _run(*args):
    return subprocess.run([sys.executable, "-m", "qstore_tui", *args], capture_output=True, text=True, timeout=60)


def test_version_and_help():
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"qstore-tui {__version__}"
    r = _run("--help")
    assert r.returncode == 0 and "usage: qstore-tui" in r.stdout


def test_importing_the_app_does_not_import_cirq_pinecone_matplotlib_or_optuna():
    heavy = ("cirq", "pinecone", "matplotlib", "optuna")
    code = ("import sys, qstore_tui.cli, qstore_tui.app, qstore_tui.cli.commands, engine.runs, engine.sweep; "
            f"print(*[any(m == h or m.startswith(h + '.') for m in sys.modules) for h in {heavy!r}])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert dict(zip(heavy, r.stdout.split())) == {h: "False" for h in heavy}


def test_a_local_run_never_loads_the_ionq_client_or_httpx(tmp_path):
    """A local run asked whether its backend was IonQ's by importing that module, which loaded httpx on the event
    loop: ~200 ms, a local run's worst stall (now ~50 ms)."""
    ionq = ("httpx", "engine.backends.ionq", "engine.backends.ionq_client")
    code = ("import sys; from qstore_tui.cli import main; "
            f"rc = main(['run', '--headless', '--preset', 'development', '--set', 'epochs=1', '--set', "
            f"'use_native_gates=false', '--runs-dir', {str(tmp_path)!r}]); "
            f"print(rc, *[m in sys.modules for m in {ionq!r}])")
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-4:] == ["0", "False", "False", "False"], r.stdout[-2000:]
