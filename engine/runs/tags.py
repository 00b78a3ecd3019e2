"""A run's tags (tags.json) and, for a sweep trial, which study and trial it is (sweep.json).

Tags are small labels a researcher puts on a run ("baseline", "lr-scan"); a sweep adds `study:NAME` and
`trial:N` so the runs of one study filter together. Both files are replaced whole (temp file + rename,
no fsync: a reader never sees half a file) and are optional: a run without them has no tags.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..fileio import write_error
from .directory import RunError
from .replace import replace_bytes

TAGS_FILE = "tags.json"
SWEEP_FILE = "sweep.json"
_TAG = re.compile(r"^[A-Za-z0-9_.:=+-]{1,64}$")


@dataclass(frozen=True)
class SweepTag:
    """The trial a run belongs to; `state` follows Optuna's (running, complete, pruned, fail)."""

    study: str
    trial: int
    state: str = "running"
    objective: float | None = None


def check_tag(tag: str) -> str:
    """A tag is 1-64 letters, digits or `_.:=+-` (no spaces or commas: it is typed on a command line)."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise RunError(f"tag {tag!r}: use 1-64 letters, digits or _.:=+- (no spaces or commas)")
    return tag


def read_tags(run_dir: Path) -> list[str]:
    """The run's tags, in the order they were added; [] without a tags file."""
    path = Path(run_dir) / TAGS_FILE
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: unreadable tags file: {exc}") from None
    tags = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RunError(f"{path}: expected {{\"tags\": [\"...\"]}}")
    return list(tags)


def _replace(path: Path, data: bytes) -> None:
    """replace_bytes, its errors naming the file written (the OSError names the temp file beside it)."""
    try:
        replace_bytes(path, data)
    except OSError as exc:
        raise write_error(path, exc) from None


def _write_tags(run_dir: Path, tags: list[str]) -> None:
    _replace(Path(run_dir) / TAGS_FILE, json.dumps({"tags": tags}, indent=1).encode())


def tag_run(run_dir: Path, *tags: str) -> list[str]:
    """Add tags (already present ones are kept once); returns the run's tags."""
    current = read_tags(run_dir)
    added = [t for t in dict.fromkeys(check_tag(t) for t in tags) if t not in current]
    if added:
        current += added
        _write_tags(run_dir, current)
    return current


def untag_run(run_dir: Path, *tags: str) -> list[str]:
    """Remove tags (absent ones are ignored); returns the run's tags."""
    drop = {check_tag(t) for t in tags}
    current = [t for t in read_tags(run_dir) if t not in drop]
    _write_tags(run_dir, current)
    return current


def read_sweep_tag(run_dir: Path) -> SweepTag | None:
    path = Path(run_dir) / SWEEP_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return SweepTag(study=str(data["study"]), trial=int(data["trial"]), state=str(data.get("state", "running")),
                        objective=None if data.get("objective") is None else float(data["objective"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: unreadable sweep file: {exc}") from None


def write_sweep_tag(run_dir: Path, tag: SweepTag) -> None:
    """Record the trial (and keep `study:NAME`, `trial:N` among the run's tags)."""
    _replace(Path(run_dir) / SWEEP_FILE, json.dumps(asdict(tag), indent=1).encode())
    tag_run(run_dir, f"study:{tag.study}", f"trial:{tag.trial}")
