"""Detach from a run: after its checkpoint, a headless `qstore-tui run --resume` process continues it.

The app runs a run in its own process (fast to start, one worker, simple to test); quitting with
"detach" hands the run over instead of killing it. The new process is a session leader (an SSH drop
or the terminal closing does not reach it), reads no terminal, writes its progress to
`headless.log` in the run directory, and resumes from the checkpoint just written: the run's
losses continue bit for bit. API keys go through its environment, never its command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import TrainingConfig

LOG_FILE = "headless.log"


def continue_headless(run_dir: Path, config: TrainingConfig | None) -> tuple[int, Path]:
    """Start the headless process that resumes `run_dir`; (its pid, its log file)."""
    from engine.config import SECRET_FIELDS

    env = dict(os.environ)
    if config is not None:  # a key typed on the Config screen is not in our environment
        for field, var in SECRET_FIELDS.items():
            value = getattr(config, field)  # a SecretStr or None
            if value is not None and not env.get(var):
                env[var] = value.get_secret_value()
    log = run_dir / LOG_FILE
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qstore_tui", "run", "--resume", str(run_dir)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, close_fds=True,
        )
    return proc.pid, log
