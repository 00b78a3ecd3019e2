"""The VectorStore protocol, the records it carries, and its errors.

Methods are synchronous: a store does blocking I/O (SQLite, HTTP), so async callers run them with
`asyncio.to_thread`. Scores follow Pinecone: cosine similarity and dot product rank high first;
euclidean is the squared distance and ranks low first.

Errors: every failure is a `StoreError`; callers that care catch a subclass.
    StoreError
      DimensionMismatchError   a vector's length is not the store's dimension
      BadFilterError           a metadata filter uses an unknown operator or a bad operand
      NotFoundError            a namespace (or remote index) that does not exist
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Metric = Literal["cosine", "dotproduct", "euclidean"]
METRICS: tuple[str, ...] = ("cosine", "dotproduct", "euclidean")

MetadataValue = str | int | float | bool


class StoreError(Exception):
    """A vector store operation failed; the message says which operation and why."""


class DimensionMismatchError(StoreError):
    """A vector has the wrong length for the store."""

    def __init__(self, *, expected: int, got: int, where: str):
        self.expected = expected
        self.got = got
        self.where = where
        super().__init__(f"{where}: dimension mismatch, expected {expected}, got {got}")


class BadFilterError(StoreError):
    """A metadata filter is malformed; `operator` is the offending operator or field."""

    def __init__(self, message: str, *, operator: str):
        self.operator = operator
        super().__init__(f"bad filter at '{operator}': {message}")


class NotFoundError(StoreError):
    """The namespace or index does not exist."""


# A Pinecone-style metadata filter ({"epoch": {"$eq": 1}, "$and": [...]}): a JSON document, checked by filters.py.
MetadataFilter = dict[str, Any]


@dataclass(frozen=True, eq=False)
class VectorRecord:
    """One stored vector. `values` is coerced to a 1-D float32 array (the storage type)."""

    id: str
    values: np.ndarray
    metadata: dict[str, MetadataValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with np.errstate(over="ignore"):  # an overflow becomes inf, which the stores reject by name
            object.__setattr__(self, "values", np.asarray(self.values, dtype=np.float32))


@dataclass(frozen=True, eq=False)
class QueryMatch:
    """One query result; `values` is set only when the query asked for them."""

    id: str
    score: float
    metadata: dict[str, MetadataValue]
    values: np.ndarray | None = None


@dataclass(frozen=True)
class StoreStats:
    dimension: int
    metric: str
    total_count: int
    namespaces: dict[str, int]  # vector count by namespace; empty namespaces are absent


@runtime_checkable
class VectorStore(Protocol):
    dimension: int
    metric: str

    def upsert(self, namespace: str, records: list[VectorRecord]) -> int:
        """Write records, overwriting any with the same id; returns how many were written."""
        ...

    def query(
        self,
        namespace: str,
        vector: np.ndarray,
        top_k: int,
        filter: MetadataFilter | None = None,
        include_values: bool = False,
    ) -> list[QueryMatch]:
        """The top_k nearest records that pass `filter`, best first."""
        ...

    def fetch(self, namespace: str, ids: list[str]) -> dict[str, VectorRecord]:
        """Records by id; ids that are absent are absent from the result."""
        ...

    def delete(self, namespace: str, ids: list[str] | None = None, delete_all: bool = False) -> None:
        """Delete the given ids, or every record of the namespace; NotFoundError if it does not exist."""
        ...

    def describe(self) -> StoreStats: ...

    def close(self) -> None: ...
