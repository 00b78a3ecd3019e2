"""The embedded vector store: one SQLite file (a run's `store.sqlite`), exact numpy search.

SQLite is the record of truth: vectors as little-endian float32 BLOBs, metadata as JSON, the
namespace as a column, dimension and metric fixed in a `store_info` table when the file is made.
Queries run on an in-memory mirror of each namespace, loaded on first use and kept in step by
upsert and delete, so a query is one matrix-vector product and an argpartition: exact, not
approximate. Metadata filters select rows in Python before ranking; the mask is cached per filter
until the namespace changes, because kNN evaluation asks the same filter many times.

Queries run on in-memory *views*: the rows of one namespace that pass one filter (None: all of them),
loaded on first use (equality filters are pushed into SQL) and kept in step by upsert and delete; at
most `_MAX_VIEWS` are kept. A training run queries each epoch's training split, so memory holds the
last few epochs' rows, not every embedding ever stored (that unbounded mirror grew the RSS by about
half a kilobyte per step and slowed every query as the run went on). SQLite's own page cache is capped at
`PAGE_CACHE_KIB` for the same reason.

A file that is not a healthy store (not SQLite, failing SQLite's quick check, or without our
`store_info`) is renamed aside to `<name>.damaged` and a warning names both paths; a fresh store
takes its place. SQLite failures while writing (a full disk) become `StoreError`s naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .base import (
    DimensionMismatchError, MetadataFilter, NotFoundError, QueryMatch, StoreError, StoreStats, VectorRecord,
)
from ..fileio import damaged_name
from .filters import Predicate, compile_filter
from .validate import (
    check_delete_selector,
    check_dimension,
    check_ids,
    check_metric,
    check_namespace,
    check_records,
    check_top_k,
    check_vector,
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vectors (namespace TEXT NOT NULL, id TEXT NOT NULL, vec BLOB NOT NULL,"
    " metadata TEXT NOT NULL, PRIMARY KEY (namespace, id))",
)
_UPSERT = (
    "INSERT INTO vectors (namespace, id, vec, metadata) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, id) DO UPDATE SET vec = excluded.vec, metadata = excluded.metadata"
)
_MASK_CACHE_SIZE = 16
_MAX_VIEWS = 8  # filtered in-memory views kept at once (least recently used dropped): memory stays bounded
# SQLite's page cache, per connection. Queries run on the in-memory views, so SQLite reads a namespace only
# when a view is (re)loaded, once per epoch in a run; its default 2 MiB cache filled with the growing file over
# the first ~140 epochs (about 0.25 KB per training step of a long run, looking like a leak). 256 KiB holds
# an epoch's writes and the index path; the file's other pages stay in the OS's cache.
PAGE_CACHE_KIB = 256
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SQLITE_HEADER = b"SQLite format 3\x00"
log = logging.getLogger("engine.store")


def _health_problem(path: Path) -> str | None:
    """Why the file at `path` is not a usable store, or None (a missing or empty file is fine: it is made)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not head:
        return None
    if head != _SQLITE_HEADER:
        return "not an SQLite file"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                return f"SQLite quick check failed: {verdict[0] if verdict else 'no answer'}"
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not {"store_info", "vectors"} <= tables:
                return f"an SQLite file of something else (tables: {', '.join(sorted(tables))})"
            if "store_info" in tables:
                info = dict(conn.execute("SELECT key, value FROM store_info").fetchall())
                if info and (not str(info.get("dimension", "")).isdigit() or "metric" not in info):
                    return "its store_info table lacks a valid dimension and metric"
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"SQLite cannot read it ({exc})"
    return None


def _set_aside(path: Path) -> Path:
    """Rename a damaged store (and its WAL / shared-memory files) to `<name>.damaged[-N]`."""
    target = damaged_name(path)
    try:
        os.replace(path, target)
        for extra in ("-wal", "-shm"):
            side = path.with_name(path.name + extra)
            if side.exists():
                os.replace(side, target.with_name(target.name + extra))
    except OSError as exc:
        raise StoreError(f"store {path}: damaged and cannot be set aside: {exc.strerror}") from None
    return target


def _sqlite_reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "disk is full" in text:
        return "no space left on device"
    if "readonly" in text or "read-only" in text:
        return "the file or its folder is read-only"
    return text


def _pushdown(filter: MetadataFilter | None) -> list[tuple[str, list[str | int]]]:
    """SQL clauses for the filter's top-level equalities on strings and integers.

    Each selects a superset of what the filter matches (SQL's 1 also equals true and 1.0); the
    filter's own predicate then decides, so the clauses only spare loading rows that cannot match.
    """
    clauses: list[tuple[str, list[str | int]]] = []
    for key, value in (filter or {}).items():
        if not _KEY.fullmatch(key):
            continue
        if isinstance(value, dict) and set(value) == {"$eq"}:
            value = value["$eq"]
        sql_int = isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63  # SQLite's
        if isinstance(value, str) or sql_int:
            clauses.append(("json_extract(metadata, ?) = ?", [f"$.{key}", value]))
    return clauses


def _unit_rows(values: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, normalized in float64 so the float32 result is as exact as it can be."""
    v = values.astype(np.float64)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class _Mirror:
    """One namespace in memory: ids, metadata and matrices with spare capacity for appends."""

    def __init__(self, metric: str, ids: list[str], values: np.ndarray, metadata: list[dict[str, Any]]):
        self.metric = metric
        self.ids = ids
        self.metadata = metadata
        self.row = {record_id: i for i, record_id in enumerate(ids)}
        capacity = max(16, len(ids))
        self._values = np.empty((capacity, values.shape[1]), dtype=np.float32)
        self._values[: len(ids)] = values
        if metric == "cosine":
            self._unit = np.empty_like(self._values)
            self._unit[: len(ids)] = _unit_rows(values) if len(ids) else values
        self._masks: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def n(self) -> int:
        return len(self.ids)

    def values(self, i: int) -> np.ndarray:
        return self._values[i].copy()

    def put(self, record: VectorRecord) -> None:
        i = self.row.get(record.id)
        if i is None:
            i = self.n
            if i == self._values.shape[0]:
                self._grow()
            self.ids.append(record.id)
            self.metadata.append(record.metadata)
            self.row[record.id] = i
        else:
            self.metadata[i] = record.metadata
        self._values[i] = record.values
        if self.metric == "cosine":
            self._unit[i] = _unit_rows(record.values[None, :])[0]
        self._masks.clear()

    def _grow(self) -> None:
        self._values = np.concatenate([self._values, np.empty_like(self._values)])
        if self.metric == "cosine":
            self._unit = np.concatenate([self._unit, np.empty_like(self._unit)])

    def remove(self, ids: list[str]) -> None:
        drop = [self.row[i] for i in ids if i in self.row]
        if not drop:
            return
        keep = np.ones(self.n, dtype=bool)
        keep[drop] = False
        rows = np.flatnonzero(keep)
        self._values[: rows.size] = self._values[rows]
        if self.metric == "cosine":
            self._unit[: rows.size] = self._unit[rows]
        self.ids = [self.ids[r] for r in rows]
        self.metadata = [self.metadata[r] for r in rows]
        self.row = {record_id: i for i, record_id in enumerate(self.ids)}
        self._masks.clear()

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Pinecone's score for every row: cosine and dot product (higher is nearer), squared L2 (lower)."""
        n = self.n
        if self.metric == "cosine":
            return self._unit[:n] @ _unit_rows(q[None, :])[0]
        if self.metric == "dotproduct":
            return self._values[:n] @ q
        diff = self._values[:n] - q
        return np.einsum("ij,ij->i", diff, diff)

    def mask(self, key: str, predicate: Predicate) -> np.ndarray:
        cached = self._masks.get(key)
        if cached is None:
            cached = np.fromiter((predicate(m) for m in self.metadata), dtype=bool, count=self.n)
            self._masks[key] = cached
            if len(self._masks) > _MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(key)
        return cached


class SQLiteVectorStore:
    """A VectorStore in one SQLite file; safe to call from several threads (one lock)."""

    def __init__(self, path: str | Path, dimension: int, metric: str = "cosine"):
        self.dimension = check_dimension(dimension)
        self.metric = check_metric(metric)
        self.path = str(path)
        if self.path != ":memory:" and not Path(self.path).parent.is_dir():
            raise StoreError(f"store path {self.path}: directory {Path(self.path).parent} does not exist")
        self._lock = threading.RLock()
        self._views: OrderedDict[tuple[str, str], tuple[_Mirror, Predicate | None]] = OrderedDict()
        self.set_aside: Path | None = None  # where a damaged file found at `path` was moved
        if self.path != ":memory:":
            problem = _health_problem(Path(self.path))
            if problem is not None:
                self.set_aside = _set_aside(Path(self.path))
                log.warning("store %s is damaged (%s): set aside as %s; starting an empty store",
                            self.path, problem, self.set_aside)
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(self.path, check_same_thread=False)
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
            with self._conn:
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                self._check_or_record_info()
        except sqlite3.Error as exc:
            reason = _sqlite_reason(exc)
            if reason != str(exc):  # a full disk or a read-only file: the file may well be a good store
                raise StoreError(f"store path {self.path}: cannot open: {reason}") from None
            raise StoreError(f"store path {self.path}: not a usable SQLite store ({reason})") from None

    @contextmanager
    def _sqlite(self, action: str) -> Iterator[None]:
        """SQLite errors (a full disk, a read-only file) as StoreError naming the file and the action."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {action} failed: {_sqlite_reason(exc)}") from None

    def _check_or_record_info(self) -> None:
        conn = self._db()
        info = dict(conn.execute("SELECT key, value FROM store_info").fetchall())
        if not info:
            conn.executemany(
                "INSERT INTO store_info (key, value) VALUES (?, ?)",
                [("dimension", str(self.dimension)), ("metric", self.metric)],
            )
            return
        if int(info["dimension"]) != self.dimension:
            raise DimensionMismatchError(
                expected=int(info["dimension"]), got=self.dimension, where=f"store {self.path} (opened with dimension)"
            )
        if info["metric"] != self.metric:
            raise StoreError(
                f"store {self.path}: was created with metric {info['metric']!r}, opened with {self.metric!r}"
            )

    def __repr__(self) -> str:
        return f"SQLiteVectorStore(path={self.path!r}, dimension={self.dimension}, metric={self.metric!r})"

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed")
        return self._conn

    def _view(self, namespace: str, filter: MetadataFilter | None, predicate: Predicate | None) -> _Mirror:
        """The rows of `namespace` passing `filter`, in memory (loaded once, kept in step by writes)."""
        key = (namespace, json.dumps(filter, sort_keys=True) if predicate is not None else "")
        cached = self._views.get(key)
        if cached is not None:
            self._views.move_to_end(key)
            return cached[0]
        sql = "SELECT id, vec, metadata FROM vectors WHERE namespace = ?"
        params: list[str | int] = [namespace]
        for clause, args in _pushdown(filter) if predicate is not None else []:
            sql += f" AND {clause}"
            params += args
        rows = self._db().execute(sql + " ORDER BY rowid", params).fetchall()
        metadata = [json.loads(r[2]) for r in rows]
        if predicate is not None:
            keep = [i for i, m in enumerate(metadata) if predicate(m)]
            rows, metadata = [rows[i] for i in keep], [metadata[i] for i in keep]
        raw = b"".join(r[1] for r in rows)
        if len(raw) != 4 * self.dimension * len(rows):
            raise StoreError(f"store {self.path}: namespace {namespace!r} holds vectors of the wrong size")
        values = np.frombuffer(raw, dtype="<f4").reshape(len(rows), self.dimension).astype(np.float32)
        view = _Mirror(self.metric, [r[0] for r in rows], values, metadata)
        self._views[key] = (view, predicate)
        while len(self._views) > _MAX_VIEWS:
            self._views.popitem(last=False)
        return view

    def _views_of(self, namespace: str) -> list[tuple[tuple[str, str], _Mirror, Predicate | None]]:
        return [(key, view, pred) for key, (view, pred) in self._views.items() if key[0] == namespace]

    def upsert(self, namespace: str, records: list[VectorRecord]) -> int:
        check_namespace(namespace)
        records = check_records(records, dimension=self.dimension, metric=self.metric)
        rows = [
            (namespace, r.id, r.values.astype("<f4").tobytes(), json.dumps(r.metadata, separators=(",", ":")))
            for r in records
        ]
        with self._lock, self._sqlite("upsert"):
            db = self._db()
            with db:
                db.executemany(_UPSERT, rows)
            for _, view, predicate in self._views_of(namespace):
                leaving = []
                for r in records:
                    if predicate is None or predicate(r.metadata):
                        view.put(r)
                    elif r.id in view.row:
                        leaving.append(r.id)  # its new metadata no longer passes this view's filter
                view.remove(leaving)
        return len(records)

    def query(
        self,
        namespace: str,
        vector: np.ndarray,
        top_k: int,
        filter: MetadataFilter | None = None,
        include_values: bool = False,
    ) -> list[QueryMatch]:
        check_namespace(namespace)
        q = check_vector(vector, dimension=self.dimension, metric=self.metric, where="query vector")
        check_top_k(top_k)
        predicate = compile_filter(filter)
        with self._lock, self._sqlite("query"):
            mirror = self._view(namespace, filter, predicate)
            if mirror.n == 0:
                return []
            scores = mirror.scores(q)
            rows = None
            # rank by key ascending, ties by row (insertion order) so results are deterministic
            key = scores if self.metric == "euclidean" else -scores
            k = min(top_k, key.size)
            part = np.argpartition(key, k - 1)[:k] if k < key.size else np.arange(key.size)
            best = part[np.lexsort((part, key[part]))]
            out = []
            for i in best:
                row = int(i if rows is None else rows[i])
                out.append(
                    QueryMatch(
                        id=mirror.ids[row],
                        score=float(scores[i]),
                        metadata=dict(mirror.metadata[row]),
                        values=mirror.values(row) if include_values else None,
                    )
                )
            return out

    def fetch(self, namespace: str, ids: list[str]) -> dict[str, VectorRecord]:
        check_namespace(namespace)
        ids = check_ids(ids, "fetch")
        with self._lock, self._sqlite("fetch"):
            by_id: dict[str, VectorRecord] = {}
            for start in range(0, len(ids), 500):  # SQLite's limit on parameters, with room to spare
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for record_id, vec, meta in self._db().execute(
                        f"SELECT id, vec, metadata FROM vectors WHERE namespace = ? AND id IN ({marks})",
                        [namespace, *chunk]):
                    values = np.frombuffer(vec, dtype="<f4").astype(np.float32)
                    by_id[record_id] = VectorRecord(record_id, values, json.loads(meta))
            return {record_id: by_id[record_id] for record_id in ids if record_id in by_id}

    def delete(self, namespace: str, ids: list[str] | None = None, delete_all: bool = False) -> None:
        check_namespace(namespace)
        ids = check_delete_selector(ids, delete_all)
        if ids == []:
            return
        with self._lock, self._sqlite("delete"):
            db = self._db()
            if db.execute("SELECT 1 FROM vectors WHERE namespace = ? LIMIT 1", (namespace,)).fetchone() is None:
                raise NotFoundError(f"namespace {namespace!r} does not exist")
            with db:
                if ids is None:
                    db.execute("DELETE FROM vectors WHERE namespace = ?", (namespace,))
                else:
                    db.executemany("DELETE FROM vectors WHERE namespace = ? AND id = ?", [(namespace, i) for i in ids])
            for key, view, _ in self._views_of(namespace):
                if ids is None:
                    del self._views[key]
                else:
                    view.remove(ids)

    def describe(self) -> StoreStats:
        with self._lock, self._sqlite("describe"):
            counts = dict(
                self._db().execute("SELECT namespace, COUNT(*) FROM vectors GROUP BY namespace ORDER BY namespace")
            )
        return StoreStats(self.dimension, self.metric, sum(counts.values()), counts)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._views.clear()
