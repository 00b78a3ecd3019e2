"""Where a study lives: Optuna's RDB storage, SQLite in the runs directory by default, PostgreSQL to scale out.

The default is a SQLite file, `<runs_dir>/sweeps/optuna.sqlite3`: no server, and (unlike Optuna's
JournalStorage, which in Optuna 5 has no heartbeat) it supports the heartbeat that turns a killed worker's
trial into FAIL and the callback that retries it once. `postgresql://user:pass@host/db` puts the study on
a server that every machine running `qstore-tui sweep --join NAME --storage URL` shares.

A storage URL may hold a password: it is shown only through `mask_url`, never logged or written to a file.
A server that accepts the connection and never answers fails after `CONNECT_TIMEOUT_S` (libpq blocks in C, where
a Ctrl-C cannot reach it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..config import ConfigError
from ..fileio import write_error
from ..store.base import StoreError

if TYPE_CHECKING:
    from optuna.storages import RDBStorage

SWEEPS_DIR = "sweeps"
DEFAULT_DB = "optuna.sqlite3"
_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg2", "postgresql+psycopg", "mysql", "mysql+pymysql")
CONNECT_TIMEOUT_S = 10  # a database server's whole connection set-up, read when a storage is opened
_ENQUEUE_CHUNK = 5_000  # trials per INSERT batch (one transaction for all): bounded memory


class StorageError(StoreError):
    """The storage's server could not be reached or refused us (exit 3, a backend error; the URL masked)."""


@dataclass(frozen=True)
class Heartbeat:
    """Optuna's heartbeat: a running trial beats every `interval_s`; one silent for `grace_s` is stale
    (its worker died): it becomes FAIL and is retried once. The grace covers a worker's cold start: the
    first trial compiles the simulator's numba kernels (~25 s of CPU, holding the GIL, so no beat), and a
    shorter grace failed healthy trials on a loaded machine."""

    interval_s: int = 5
    grace_s: int = 60

    @classmethod
    def every(cls, interval_s: int) -> Heartbeat:
        """Beats every `interval_s`; stale after 4 silent beats, but never sooner than the default grace (60 s):
        the CLI's `--heartbeat 5` once meant a 20 s grace, which a cold compile could outlast."""
        return cls(interval_s, max(4 * interval_s, cls.grace_s))


def sweeps_dir(runs_dir: Path) -> Path:
    return Path(runs_dir) / SWEEPS_DIR


def default_storage_url(runs_dir: Path) -> str:
    return f"sqlite:///{(sweeps_dir(runs_dir) / DEFAULT_DB).resolve()}"


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL (urlsplit's path keeps one slash more)."""
    return Path(urlsplit(url).path[1:])


def _split(url: str) -> tuple[str, str | None, str]:
    """(scheme, user info or None, the rest from the host on). The user info runs to the last '@' (a password
    may hold '/', '?', '#' or '@', where urlsplit would end it early and show the rest as the host)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None, ""
    at = rest.rfind("@")
    return (scheme, None, rest) if at < 0 else (scheme, rest[:at], rest[at + 1:])


def _password(url: str) -> str | None:
    userinfo = _split(url)[1]
    return (userinfo.partition(":")[2] or None) if userinfo is not None else None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for screens, summaries and crash logs."""
    scheme, userinfo, rest = _split(url)
    if userinfo is None or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{rest}"


def check_url(url: str) -> str:
    """A URL of a known scheme whose host and port parse (ConfigError naming storage, the URL masked); a SQLite
    URL must name a file: an in-memory database would vanish with each connection, and no worker could share it."""
    scheme, _, rest = _split(url)
    if scheme not in _SCHEMES:
        raise ConfigError("storage", f"expected a sqlite:/// or postgresql:// URL, got {mask_url(url)!r}")
    if scheme == "sqlite":
        if str(sqlite_path(url)) in ("", ".", ":memory:") or "mode=memory" in url:
            raise ConfigError("storage", f"{mask_url(url)!r}: give a database file, e.g. sqlite:////path/to/x.db")
        return url
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    try:
        urlsplit(f"//{host}").port  # noqa: B018 - raises ValueError for a bad IPv6 host or port
    except ValueError as exc:
        raise ConfigError("storage", f"{mask_url(url)!r}: bad host or port: {exc}") from None
    return url


def driver_url(url: str) -> str:
    """`postgresql://` with the driver that is installed: SQLAlchemy 2.1 means psycopg 3 by it, we ship psycopg2."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


@lru_cache(maxsize=1)
def _beating_storage_class() -> type[RDBStorage]:
    """RDBStorage whose trials beat from the moment they turn RUNNING, in the process that turned them.

    Optuna's first beat comes from a thread the objective starts beside it, and a start that holds the GIL
    (numba compiling the simulator) can delay it past a SIGKILL. Optuna never counts a RUNNING trial that
    never beat as stale, so every other worker then waited for it forever (the study never finished).
    """
    from collections.abc import Sequence

    from optuna.storages import RDBStorage
    from optuna.trial import FrozenTrial, TrialState

    class BeatingRDBStorage(RDBStorage):
        def set_trial_state_values(self, trial_id: int, state: TrialState,
                                   values: Sequence[float] | None = None) -> bool:
            updated = super().set_trial_state_values(trial_id, state, values)
            if updated and state == TrialState.RUNNING:
                self.record_heartbeat(trial_id)
            return updated

        def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
            trial_id = super().create_new_trial(study_id, template_trial)
            if template_trial is None or template_trial.state == TrialState.RUNNING:
                self.record_heartbeat(trial_id)
            return trial_id

    return BeatingRDBStorage


def open_storage(url: str, heartbeat: Heartbeat = Heartbeat(), *, create: bool = True) -> RDBStorage:
    """Optuna's RDB storage with heartbeat (from a trial's first moment running) and retry-once of stale
    trials (imports optuna). `create=False` (a join) refuses a SQLite file that does not exist instead of
    making it and its folders."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    check_url(url)
    given, url = url, driver_url(url)
    engine_kwargs: dict[str, object] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if not create and not path.is_file():
            raise ConfigError("storage", f"{mask_url(given)}: no such database file (a join needs the study's "
                                         "existing storage)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError("storage", str(write_error(path.parent, exc, action="cannot create"))) from None
        # Several worker processes share one file: wait for the lock instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:  # psycopg2 and psycopg pass it to libpq, pymysql takes it too
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            storage = _beating_storage_class()(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat.interval_s,
                grace_period=heartbeat.grace_s,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
        except Exception as exc:  # sqlalchemy's OperationalError etc.: say where, without the password
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            line = f"storage: cannot open {mask_url(given)}: {_scrub(first, url)}"
            if url.startswith("sqlite"):  # a file we were given: input to fix
                raise ConfigError(None, line) from None
            raise StorageError(line) from None  # a server that refused or did not answer
    if url.startswith("sqlite"):
        _sqlite_wal(storage)
    return storage


def _sqlite_wal(storage: RDBStorage) -> None:
    """Make SQLite safe for several worker processes, and quick.

    Python's sqlite3 driver starts a transaction only at the first write, so two workers can both read a
    WAITING trial and both mark it RUNNING: one trial run twice. Every transaction here starts with
    BEGIN IMMEDIATE (the write lock, waited for up to the busy timeout), so Optuna's read-then-update of a
    trial's state is atomic across processes. WAL journal with synchronous=NORMAL: a commit does not wait
    for an fsync (an application crash loses nothing; a power cut can lose the last commits).
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")  # kept by the database file; outside any transaction
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def on_begin(connection: object) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]

    event.listen(storage.engine, "connect", on_connect)
    event.listen(storage.engine, "begin", on_begin)
    storage.engine.dispose()  # pooled connections made before the listeners reconnect with them


def _scrub(text: str, url: str) -> str:
    password = _password(url)
    return text.replace(password, "***") if password else text


def enqueue_waiting(storage: RDBStorage, study_id: int, trials: Sequence[tuple[dict[str, object], dict[str, object]]]
                    ) -> None:
    """WAITING trials, one per (fixed params, user attributes), as `Study.enqueue_trial` makes them, but all in
    one transaction: all of them or none (an interrupted enqueue left part of a plan), and quick (one
    transaction per trial took 20 s for 5,000)."""
    import json

    from optuna.storages._rdb import models
    from optuna.trial import TrialState
    from sqlalchemy import func, insert, select

    trial_t, user_t, system_t = (models.TrialModel.__table__, models.TrialUserAttributeModel.__table__,
                                 models.TrialSystemAttributeModel.__table__)
    session = storage.scoped_session()
    try:
        models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)  # trial numbers: ours alone
        first = session.scalar(select(func.count()).select_from(trial_t).where(trial_t.c.study_id == study_id))
        for start in range(0, len(trials), _ENQUEUE_CHUNK):
            chunk = trials[start:start + _ENQUEUE_CHUNK]
            numbers = range(first + start, first + start + len(chunk))
            session.execute(insert(trial_t), [{"study_id": study_id, "number": n, "state": TrialState.WAITING}
                                              for n in numbers])
            ids = dict(session.execute(select(trial_t.c.number, trial_t.c.trial_id).where(
                trial_t.c.study_id == study_id, trial_t.c.number >= numbers.start)).all())
            users = [{"trial_id": ids[n], "key": k, "value_json": json.dumps(v)}
                     for n, (_, attrs) in zip(numbers, chunk) for k, v in attrs.items()]
            systems = [{"trial_id": ids[n], "key": "fixed_params", "value_json": json.dumps(params)}
                       for n, (params, _) in zip(numbers, chunk)]
            if users:
                session.execute(insert(user_t), users)
            session.execute(insert(system_t), systems)
        session.commit()
    except BaseException:  # a Ctrl-C too: nothing of the batch stays
        session.rollback()
        raise
    finally:
        session.close()
