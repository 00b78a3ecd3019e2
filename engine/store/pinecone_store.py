"""The Pinecone-backed VectorStore, through the real `pinecone` SDK (imported only when one is built).

On construction it describes the index, creates it (serverless, in the cloud and region taken from
the config's `environment`) when missing, checks its dimension and metric, and opens the index's
data-plane host. Every SDK call goes through `_call`: transient failures (connection, timeout, 408,
429, 5xx) are retried with exponential backoff a bounded number of times (on top of the SDK's own
transport retries), anything else at once becomes a StoreError. Nothing is dropped in silence: an
upsert whose count comes back short raises. The API key appears in no repr, error or log line.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from .base import (
    DimensionMismatchError, MetadataFilter, NotFoundError, QueryMatch, StoreError, StoreStats, VectorRecord,
)
from .filters import compile_filter
from .validate import (
    DEFAULT_NAMESPACE_ALIAS,
    check_delete_selector,
    check_dimension,
    check_ids,
    check_metric,
    check_namespace,
    check_records,
    check_top_k,
    check_vector,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

UPSERT_BATCH = 100  # Pinecone's recommended upsert batch
FETCH_BATCH = 100  # ids travel in the query string; keep URLs short
DELETE_BATCH = 1000  # Pinecone's limit of ids per delete
_DENSE_FIELD = "_values"  # the schema field a 2026-07 vector index keeps its dense values in
_AWS = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")  # us-east-1, ap-southeast-1
_GCP = re.compile(r"^[a-z]+-[a-z]+\d+$")  # us-central1, europe-west4
_AZURE = re.compile(r"^[a-z]+\d*$")  # eastus2, westeurope


def cloud_region(environment: str) -> tuple[str, str]:
    """(cloud, region) for a config environment: "us-east-1" -> ("aws", "us-east-1").

    Also accepts an explicit "gcp/us-central1" and Pinecone's legacy "us-west1-gcp" spelling.
    """
    env = environment.strip().lower() if isinstance(environment, str) else ""
    for sep in ("/", ":"):
        if sep in env:
            cloud, _, region = env.partition(sep)
            if cloud in ("aws", "gcp", "azure") and region:
                return cloud, region
    for cloud in ("aws", "gcp", "azure"):
        if env.endswith(f"-{cloud}"):
            return cloud, env[: -len(cloud) - 1]
    for cloud, pattern in (("aws", _AWS), ("gcp", _GCP), ("azure", _AZURE)):
        if pattern.match(env):
            return cloud, env
    raise StoreError(f"environment: cannot tell the cloud of {environment!r}; write it as 'aws/us-east-1'")


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class PineconeVectorStore:
    """A VectorStore on one Pinecone index; namespaces map to Pinecone namespaces."""

    def __init__(
        self,
        api_key: str,
        index_name: str,
        dimension: int,
        metric: str = "cosine",
        environment: str = "us-east-1",
        host: str | None = None,
        *,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        create_timeout_s: int = 300,
    ):
        self.dimension = check_dimension(dimension)
        self.metric = check_metric(metric)
        if not isinstance(index_name, str) or not index_name:
            raise StoreError("index_name: must be a non-empty string")
        if not api_key:
            raise StoreError("api_key: empty; set PINECONE_API_KEY")
        if max_attempts < 1:
            raise StoreError(f"max_attempts: must be at least 1, got {max_attempts}")
        self.index_name = index_name
        self.cloud, self.region = cloud_region(environment)
        self._api_key = api_key
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._create_timeout_s = create_timeout_s

        import pinecone
        from pinecone.errors import exceptions as sdk_errors

        self._errors = sdk_errors
        self._pc = self._call("connect", lambda: pinecone.Pinecone(api_key=api_key, host=host or None))
        try:
            model = self._describe_or_create(pinecone.ServerlessSpec(cloud=self.cloud, region=self.region))
            self._check_shape(model)
            self.host: str = model.host
            self._index = self._call("open index", lambda: self._pc.index(host=self.host))
        except BaseException:
            self._pc.close()  # a store that failed to open holds no connections
            raise

    def __repr__(self) -> str:
        return (
            f"PineconeVectorStore(index_name={self.index_name!r}, host={getattr(self, 'host', None)!r}, "
            f"dimension={self.dimension}, metric={self.metric!r})"
        )

    # -- the retry wrapper ---------------------------------------------------------------------

    def _call(self, op: str, fn: Callable[[], T]) -> T:
        """Run one SDK call: retry transient failures with backoff, turn every failure into a StoreError."""
        delay = self._backoff_s
        for attempt in range(1, self._max_attempts + 1):
            try:
                return fn()
            except self._errors.PineconeError as exc:
                if not self._transient(exc) or attempt == self._max_attempts:
                    raise self._store_error(op, exc, attempt) from None
                wait = getattr(exc, "retry_after", None)
                wait = min(wait, 60.0) if wait is not None else delay * random.uniform(0.5, 1.0)
                log.warning(
                    "pinecone %s failed (attempt %d of %d): %s; retrying in %.2f s",
                    op, attempt, self._max_attempts, self._describe(exc), wait,
                )
                time.sleep(wait)
                delay *= 2
        raise AssertionError("unreachable: the loop returns or raises")

    def _transient(self, exc: Exception) -> bool:
        if isinstance(exc, (self._errors.PineconeConnectionError, self._errors.PineconeTimeoutError)):
            return True
        status = getattr(exc, "status_code", None)
        return isinstance(exc, self._errors.ApiError) and isinstance(status, int) and (status in (408, 429)
                                                                                        or status >= 500)

    def _describe(self, exc: Exception) -> str:
        """The exception as text with the API key masked, in case a server ever echoes it."""
        return f"{type(exc).__name__}: {exc}".replace(self._api_key, "***")

    def _store_error(self, op: str, exc: Exception, attempts: int) -> StoreError:
        message = f"pinecone {op} failed after {attempts} attempt(s): {self._describe(exc)}"
        if isinstance(exc, self._errors.NotFoundError):
            return NotFoundError(message)
        if isinstance(exc, self._errors.UnauthorizedError):
            return StoreError(message + " (check PINECONE_API_KEY)")
        return StoreError(message)

    # -- opening the index ---------------------------------------------------------------------

    def _describe_or_create(self, spec: Any) -> Any:
        name = self.index_name
        try:
            return self._call(f"describe index {name!r}", lambda: self._pc.indexes.describe(name))
        except NotFoundError:
            pass
        log.info(
            "creating pinecone index %r (%s/%s, dimension %d, %s)", name, self.cloud, self.region, self.dimension,
            self.metric,
        )

        def create() -> Any:
            try:
                return self._pc.indexes.create(
                    name=name, dimension=self.dimension, metric=self.metric, spec=spec, timeout=self._create_timeout_s
                )
            except self._errors.ConflictError:  # made meanwhile, by our own lost-response retry or another run
                return self._pc.indexes.describe(name)

        model = self._call(f"create index {name!r}", create)
        deadline = time.monotonic() + self._create_timeout_s
        while not (model.status.ready and model.host):
            if time.monotonic() > deadline:
                raise StoreError(f"pinecone index {name!r} not ready after {self._create_timeout_s} s")
            time.sleep(2.0)
            model = self._call(f"describe index {name!r}", lambda: self._pc.indexes.describe(name))
        return model

    def _check_shape(self, model: Any) -> None:
        field = model.schema.fields.get(_DENSE_FIELD)
        dimension, metric = getattr(field, "dimension", None), getattr(field, "metric", None)
        if dimension is None:
            raise StoreError(f"pinecone index {self.index_name!r} is not a dense vector index")
        if dimension != self.dimension:
            raise DimensionMismatchError(
                expected=dimension,
                got=self.dimension,
                where=f"pinecone index {self.index_name!r} (opened with dimension)",
            )
        if metric != self.metric:
            raise StoreError(f"pinecone index {self.index_name!r} has metric {metric!r}, opened with {self.metric!r}")

    # -- VectorStore -----------------------------------------------------------------------------

    def upsert(self, namespace: str, records: list[VectorRecord]) -> int:
        check_namespace(namespace)
        records = check_records(records, dimension=self.dimension, metric=self.metric)
        for start in range(0, len(records), UPSERT_BATCH):
            batch: list[dict[str, Any]] = []
            for r in records[start : start + UPSERT_BATCH]:
                item: dict[str, Any] = {"id": r.id, "values": r.values.tolist()}
                if r.metadata:
                    item["metadata"] = r.metadata
                batch.append(item)
            resp = self._call("upsert", lambda: self._index.upsert(vectors=batch, namespace=namespace))
            if resp.upserted_count != len(batch):
                raise StoreError(
                    f"pinecone upsert wrote {resp.upserted_count} of {len(batch)} records (batch at records[{start}])"
                )
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
        # validated here so both stores reject the same filters with the same error
        send_filter = filter if compile_filter(filter) is not None else None
        resp = self._call(
            "query",
            lambda: self._index.query(
                vector=q.tolist(),
                top_k=top_k,
                namespace=namespace,
                filter=send_filter,
                include_values=include_values,
                include_metadata=True,
            ),
        )
        return [
            QueryMatch(
                id=m.id,
                score=float(m.score),
                metadata=dict(m.metadata or {}),
                values=np.asarray(m.values, dtype=np.float32) if include_values else None,
            )
            for m in resp.matches
        ]

    def fetch(self, namespace: str, ids: list[str]) -> dict[str, VectorRecord]:
        check_namespace(namespace)
        found: dict[str, VectorRecord] = {}
        for chunk in _chunks(check_ids(ids, "fetch"), FETCH_BATCH):
            resp = self._call("fetch", lambda: self._index.fetch(ids=chunk, namespace=namespace))
            for record_id, v in resp.vectors.items():
                values = np.asarray(v.values, dtype=np.float32)
                found[record_id] = VectorRecord(record_id, values, dict(v.metadata or {}))
        return found

    def delete(self, namespace: str, ids: list[str] | None = None, delete_all: bool = False) -> None:
        check_namespace(namespace)
        ids = check_delete_selector(ids, delete_all)
        if ids is None:
            self._call("delete", lambda: self._index.delete(delete_all=True, namespace=namespace))
            return
        for chunk in _chunks(ids, DELETE_BATCH):
            self._call("delete", lambda: self._index.delete(ids=chunk, namespace=namespace))

    def describe(self) -> StoreStats:
        stats = self._call("describe_index_stats", lambda: self._index.describe_index_stats())
        namespaces = {
            "" if ns == DEFAULT_NAMESPACE_ALIAS else ns: summary.vector_count
            for ns, summary in stats.namespaces.items()
        }
        return StoreStats(self.dimension, self.metric, stats.total_vector_count, namespaces)

    def close(self) -> None:
        self._index.close()
        self._pc.close()
