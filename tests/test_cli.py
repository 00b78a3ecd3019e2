"""The command line: --version and --help work, and starting the app does not import cirq."""

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
