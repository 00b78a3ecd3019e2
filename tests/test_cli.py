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


def test_importing_the_app_does_not_import_cirq_or_pinecone():
    code = ("import sys, qstore_tui.cli, qstore_tui.app; "
            "print(any(m == 'cirq' or m.startswith('cirq.') for m in sys.modules), 'pinecone' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]
