"""Vector stores: the protocol, an embedded SQLite store, and a Pinecone store (SDK loaded lazily)."""

from __future__ import annotations

from pathlib import Path

from .base import (
    METRICS,
    BadFilterError,
    DimensionMismatchError,
    NotFoundError,
    QueryMatch,
    StoreError,
    StoreStats,
    VectorRecord,
    VectorStore,
)
from .sqlite_store import SQLiteVectorStore

STORE_KINDS = ("sqlite", "pinecone")


def open_store(
    kind: str,
    *,
    path: str | Path,
    dimension: int,
    metric: str,
    api_key: str | None = None,
    index_name: str | None = None,
    environment: str | None = None,
    host: str | None = None,
) -> VectorStore:
    """The store a run's config names: "sqlite" at `path`, or "pinecone" (which ignores `path`)."""
    if kind == "sqlite":
        return SQLiteVectorStore(path, dimension, metric)
    if kind == "pinecone":
        if not api_key:
            raise StoreError("pinecone store: no API key; set PINECONE_API_KEY")
        if not index_name:
            raise StoreError("pinecone store: index_name is required")
        from .pinecone_store import PineconeVectorStore

        return PineconeVectorStore(api_key, index_name, dimension, metric, environment=environment or "us-east-1",
                                   host=host)
    raise StoreError(f"store kind: must be one of {', '.join(STORE_KINDS)}, got {kind!r}")


__all__ = [
    "METRICS", "STORE_KINDS", "BadFilterError", "DimensionMismatchError", "NotFoundError", "QueryMatch",
    "SQLiteVectorStore", "StoreError", "StoreStats", "VectorRecord", "VectorStore", "open_store",
]
