"""Whole-file replacement without fsync, for files derived from others (metrics.csv, tags, sweep.json).

A reader sees the old file or the new one, never half of one (temp file + rename); a power cut may lose
the latest version, which is acceptable for files that are rebuilt or re-written by the next event. Files
that must survive a crash (checkpoints, configs, reports) use engine.fileio.atomic_write_bytes instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
