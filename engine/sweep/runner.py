"""Running a sweep on this machine: create (or resume, or join) the study, then K worker processes.

`start_sweep` is `qstore-tui sweep --config --space --trials`: it checks the space and, on a QPU target,
the whole study's cost (one confirmation), creates or resumes the study, and runs the workers.
`join_sweep` is `qstore-tui sweep --join NAME --storage URL`: workers for a study made elsewhere.
Both keep `<runs_dir>/sweeps/<study>/study.json` current and return the final summary. With K > 1 local
workers, one host process warms up once and forks them (host.py): no worker pays a cold start of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..config import ConfigError, TrainingConfig
from .budget import StudyCost, check_study_cap, study_cost
from .storage import Heartbeat, default_storage_url, mask_url, open_storage, sqlite_path
from .host import WorkerHost
from .study import SweepSpec, check_study_name, create_study, load_spec, load_study
from .summary import SweepSummary, importances, summarize, write_summary
from .worker import WorkerJob, work

if TYPE_CHECKING:
    import optuna


class SweepCancelled(RuntimeError):
    """The user did not confirm the study's cost."""


@dataclass(frozen=True)
class SweepOptions:
    runs_dir: Path
    storage_url: str | None = None  # None: SQLite in the runs directory
    workers: int = 0  # 0: one per core
    heartbeat: Heartbeat = Heartbeat()
    poll_s: float = 0.5  # a worker's wait for another worker's trial
    report_s: float = 1.0  # study.json rewritten this often while workers run (each costs a read of every trial)

    @property
    def url(self) -> str:
        return self.storage_url or default_storage_url(self.runs_dir)

    @property
    def n_workers(self) -> int:
        n = self.workers or os.cpu_count() or 1
        if n < 1:
            raise ConfigError("workers", f"must be >= 1, got {n}")
        return n


Progress = Callable[[SweepSummary], None]


def start_sweep(spec: SweepSpec, options: SweepOptions, *, confirm: Callable[[StudyCost], bool] = lambda c: False,
                on_progress: Progress | None = None) -> SweepSummary:
    """Estimate (QPU), confirm, create or resume the study, run the workers; the summary at the end."""
    cost = study_cost(spec)
    check_study_cap(spec, cost)
    if cost is not None and not confirm(cost):
        raise SweepCancelled(f"the study's estimated cost of ${cost.total_usd:,.2f} was not confirmed")
    # The workers' host warms up (imports, kernels) while this process opens the storage and creates the study.
    host = WorkerHost.start(options.n_workers, warm_sdk(spec.base)) if options.n_workers > 1 else None
    try:
        storage = open_storage(options.url, options.heartbeat)
        create_study(spec, storage)
    except BaseException:
        if host is not None:
            host.cancel()
        raise
    return run_workers(spec.study, options, on_progress=on_progress, host=host)


def stored_spec(study: str, options: SweepOptions) -> SweepSpec | None:
    """The spec an existing study was created with (what `--study NAME` alone resumes), None if there is none;
    a missing SQLite file is not created."""
    import optuna

    check_study_name(study)
    url = options.url
    if url.startswith("sqlite") and not sqlite_path(url).is_file():
        return None
    storage = open_storage(url, options.heartbeat, create=False)
    if study not in optuna.get_all_study_names(storage):
        return None
    return load_spec(load_study(study, storage))


def check_joinable(options: SweepOptions) -> None:
    """A study made elsewhere is only reachable through the storage it was made on, which a join never creates."""
    if options.storage_url is None:
        raise ConfigError("storage", "--join needs --storage URL (the study's shared storage)")
    url = options.storage_url
    if url.startswith("sqlite") and not sqlite_path(url).is_file():
        raise ConfigError("storage", f"{mask_url(url)}: no such database file (a join needs the study's existing "
                                     "storage)")


def join_sweep(study: str, options: SweepOptions, *, on_progress: Progress | None = None) -> SweepSummary:
    """Workers on this machine for a study created elsewhere (same storage)."""
    check_joinable(options)
    # Refuses an unknown study up front; creates no database (a mistyped SQLite path made folders and an empty file).
    handle = load_study(study, open_storage(options.url, options.heartbeat, create=False))
    return run_workers(study, options, on_progress=on_progress, sdk=warm_sdk(load_spec(handle).base))


def run_workers(study: str, options: SweepOptions, *, on_progress: Progress | None = None,
                host: WorkerHost | None = None, sdk: str | None = None) -> SweepSummary:
    """K workers until the study has nothing waiting or running; study.json kept current.

    One worker runs in this process (no second interpreter to start, every core for its trial); more are
    forked by one warm host process (host.py), started here unless the caller started it earlier (`host`)."""
    job = WorkerJob(study=study, storage_url=options.url, runs_dir=str(Path(options.runs_dir).resolve()),
                    heartbeat_interval_s=options.heartbeat.interval_s, heartbeat_grace_s=options.heartbeat.grace_s,
                    poll_s=options.poll_s, workers=options.n_workers)
    if options.n_workers > 1 and host is None:
        host = WorkerHost.start(options.n_workers, sdk)
    try:
        storage = open_storage(options.url, options.heartbeat)
        handle = load_study(study, storage)
    except BaseException:
        if host is not None:
            host.cancel()
        raise
    reporter = _Reporter(handle, options, on_progress)
    try:
        if host is None:
            reporter()
            with reporter.every(options.report_s):  # while a trial runs, too (as with a host)
                work(job, on_trial=lambda _: reporter())
            return _final(handle, options, on_progress, None)
        host.send(job)
        try:
            with host.stopped_with_this_process():
                while host.poll() is None:
                    reporter()
                    host.wait(timeout=options.report_s)  # returns as soon as the workers are done
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: passed on to the workers; wait for their checkpoints
            _interrupt_and_wait(host)
            raise
    except KeyboardInterrupt:  # study.json says where the sweep stopped (it said "running" for the trials cut off)
        reporter()
        raise
    return _final(handle, options, on_progress, host.returncode or None)


def _interrupt_and_wait(host: WorkerHost) -> None:
    """Pass the interrupt on to the host's process group and wait for it; each further one is passed on too."""
    host.interrupt()
    while True:
        try:
            host.wait()
            return
        except KeyboardInterrupt:  # a second Ctrl-C: the workers abandon the steps in flight
            host.interrupt()


def warm_sdk(base: TrainingConfig) -> str | None:
    """The SDK a trial's native-compile cross-check imports (the host imports it before forking)."""
    return base.quantum_sdk if base.use_native_gates else None


class _Reporter:
    """Writes study.json (and tells `on_progress`); importances are recomputed when a trial completes."""

    def __init__(self, handle: optuna.Study, options: SweepOptions, on_progress: Progress | None):
        self.handle, self.options, self.on_progress = handle, options, on_progress
        self._complete = -1
        self._importances: dict[str, float] = {}
        self._lock = threading.Lock()  # the worker's calls and the timer's
        self._error: Exception | None = None

    @contextmanager
    def every(self, period_s: float) -> Iterator[None]:
        """Report from a thread every `period_s` while the block runs (the in-process worker's trial); an error
        the thread met (a full disk) is raised when the block ends."""
        done = threading.Event()

        def loop() -> None:
            while not done.wait(period_s):
                try:
                    self()
                except Exception as exc:  # noqa: BLE001 - handed to the main thread below
                    self._error = exc
                    return

        thread = threading.Thread(target=loop, name="sweep-report", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
        if self._error is not None:
            raise self._error

    def __call__(self) -> None:
        with self._lock:
            self._report()

    def _report(self) -> None:
        summary = summarize(self.handle, self.options.url)
        complete = summary.counts.get("complete", 0)
        if complete != self._complete:
            self._complete = complete
            self._importances = importances(self.handle)
        summary.importances = self._importances
        write_summary(self.options.runs_dir, summary)
        if self.on_progress is not None:
            self.on_progress(summary)


def _final(handle: optuna.Study, options: SweepOptions, on_progress: Progress | None,
           bad: int | None) -> SweepSummary:
    summary = summarize(handle, options.url, with_importances=True)
    write_summary(options.runs_dir, summary)
    if on_progress is not None:
        on_progress(summary)
    if bad is not None and not summary.finished:
        raise RuntimeError(f"the sweep's workers exited with {bad}; resume with --study {handle.study_name}")
    return summary


def spawn_worker(job: WorkerJob, sdk: str | None = None) -> WorkerHost:
    """A worker host with its job sent (`job.workers` workers; with one, the host process is the worker)."""
    host = WorkerHost.start(job.workers, sdk)
    host.send(job)
    return host
