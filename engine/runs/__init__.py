"""Run directories: layout and lock (`directory`), events.jsonl (`eventlog`), listing (`summary`).

`from engine.runs import X` is the public surface; see each module for what it owns.
"""

from __future__ import annotations

from .directory import (
    CHECKPOINT_DIR, CONFIG_FILE, EVENTS_FILE, LOCK_FILE, REPORT_JSON, REPORT_MD, STORE_FILE, RunError, RunLock,
    create_run_dir, default_runs_dir, is_running, load_run_config, new_run_id, resolve_run,
)
from .eventlog import EventLog, follow_events, read_events
from .summary import RunInfo, list_runs, run_info

__all__ = [
    "CHECKPOINT_DIR", "CONFIG_FILE", "EVENTS_FILE", "LOCK_FILE", "REPORT_JSON", "REPORT_MD", "STORE_FILE",
    "EventLog", "RunError", "RunInfo", "RunLock", "create_run_dir", "default_runs_dir", "follow_events",
    "is_running", "list_runs", "load_run_config", "new_run_id", "read_events", "resolve_run", "run_info",
]
