"""Run directories: layout and lock (`directory`), events.jsonl (`eventlog`), listing (`summary`),
the run index with tags, sort, filter and delete (`index`, `tags`), metrics.csv (`metrics`), and the
comparison maths (`compare`, imported from its module: `from engine.runs.compare import ...`).

`from engine.runs import X` is the public surface; see each module for what it owns.
"""

from __future__ import annotations

from .directory import (
    CHECKPOINT_DIR, CONFIG_FILE, EVENTS_FILE, LOCK_FILE, REPORT_JSON, REPORT_MD, STORE_FILE, RunError, RunLock,
    create_run_dir, default_runs_dir, is_running, load_run_config, new_run_id, resolve_run,
)
from .eventlog import EventLog, follow_events, iter_events, read_events
from .index import SORT_KEYS, RunRecord, delete_run, filter_runs, list_records, run_record, sort_runs
from .metrics import METRICS_FILE, MetricRow, MetricsWriter, run_metrics, write_metrics_csv
from .summary import RunInfo, list_runs, run_info
from .tags import SWEEP_FILE, TAGS_FILE, SweepTag, read_sweep_tag, read_tags, tag_run, untag_run, write_sweep_tag

__all__ = [
    "CHECKPOINT_DIR", "CONFIG_FILE", "EVENTS_FILE", "LOCK_FILE", "REPORT_JSON", "REPORT_MD", "STORE_FILE",
    "EventLog", "RunError", "RunInfo", "RunLock", "create_run_dir", "default_runs_dir", "follow_events",
    "is_running", "iter_events", "list_runs", "load_run_config", "new_run_id", "read_events", "resolve_run", "run_info",
    "SORT_KEYS", "RunRecord", "delete_run", "filter_runs", "list_records", "run_record", "sort_runs",
    "METRICS_FILE", "MetricRow", "MetricsWriter", "run_metrics", "write_metrics_csv",
    "SWEEP_FILE", "TAGS_FILE", "SweepTag", "read_sweep_tag", "read_tags", "tag_run", "untag_run", "write_sweep_tag",
]
