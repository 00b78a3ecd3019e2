"""Input checks shared by every store, so both backends accept and reject exactly the same things.

Ids follow Pinecone's rule (1-512 ASCII characters, no NUL); metadata values are str, int, float
(finite) or bool; vectors are finite, of the store's dimension, and non-zero under cosine.
"""

from __future__ import annotations

import math

import numpy as np

from .base import METRICS, DimensionMismatchError, MetadataValue, StoreError, VectorRecord

MAX_ID_LENGTH = 512
MAX_TOP_K = 10_000  # Pinecone's limit; the SQLite store keeps it so code moves between them


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise StoreError(f"metric: must be one of {', '.join(METRICS)}, got {metric!r}")
    return metric


def check_dimension(dimension: int) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise StoreError(f"dimension: must be a positive integer, got {dimension!r}")
    return dimension


DEFAULT_NAMESPACE_ALIAS = "__default__"  # Pinecone's name for the "" namespace in its stats


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str):
        raise StoreError(f"namespace: must be a string, got {type(namespace).__name__}")
    if namespace == DEFAULT_NAMESPACE_ALIAS:
        raise StoreError(f"namespace: {DEFAULT_NAMESPACE_ALIAS!r} is reserved for the default namespace; use ''")
    return namespace


def check_id(record_id: str, where: str) -> str:
    if not isinstance(record_id, str) or not record_id:
        raise StoreError(f"{where}: id must be a non-empty string, got {record_id!r}")
    if len(record_id) > MAX_ID_LENGTH or not record_id.isascii() or "\x00" in record_id:
        raise StoreError(f"{where}: id must be 1-{MAX_ID_LENGTH} ASCII characters without NUL")
    return record_id


def check_vector(values: object, *, dimension: int, metric: str, where: str) -> np.ndarray:
    """A 1-D float32 copy of `values`, or a StoreError that says what is wrong and where."""
    try:
        with np.errstate(over="ignore"):  # reported below as "not finite"
            vec = np.array(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{where}: values are not numbers ({exc})") from None
    if vec.ndim != 1:
        raise StoreError(f"{where}: values must be 1-D, got shape {vec.shape}")
    if vec.shape[0] != dimension:
        raise DimensionMismatchError(expected=dimension, got=vec.shape[0], where=where)
    bad = np.flatnonzero(~np.isfinite(vec))
    if bad.size:
        raise StoreError(f"{where}: values[{bad[0]}] is not finite (as float32)")
    if metric == "cosine" and not vec.any():
        raise StoreError(f"{where}: an all-zero vector has no cosine similarity")
    return vec


def check_metadata(metadata: object, where: str) -> dict[str, MetadataValue]:
    if not isinstance(metadata, dict):
        raise StoreError(f"{where}: metadata must be a dict, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise StoreError(f"{where}: metadata keys must be non-empty strings, got {key!r}")
        if type(value) not in (str, int, float, bool):
            raise StoreError(
                f"{where}: metadata['{key}'] must be str, int, float or bool, got {type(value).__name__}"
            )
        if type(value) is float and not math.isfinite(value):
            raise StoreError(f"{where}: metadata['{key}'] is not finite")
        if type(value) is int and not -2**63 <= value < 2**63:  # what SQLite and Pinecone hold as an integer
            raise StoreError(f"{where}: metadata['{key}'] is outside the 64-bit integer range")
    return dict(metadata)


def check_records(records: list[VectorRecord], *, dimension: int, metric: str) -> list[VectorRecord]:
    """Validated copies of `records`: all are checked before any is written."""
    if not isinstance(records, list):
        raise StoreError(f"records: must be a list of VectorRecord, got {type(records).__name__}")
    out = []
    for i, rec in enumerate(records):
        if not isinstance(rec, VectorRecord):
            raise StoreError(f"records[{i}]: must be a VectorRecord, got {type(rec).__name__}")
        where = f"records[{i}] (id {rec.id!r})"
        check_id(rec.id, where)
        vec = check_vector(rec.values, dimension=dimension, metric=metric, where=where)
        out.append(VectorRecord(rec.id, vec, check_metadata(rec.metadata, where)))
    return out


def check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise StoreError(f"top_k: must be an integer in 1..{MAX_TOP_K}, got {top_k!r}")
    return top_k


def check_ids(ids: list[str], where: str) -> list[str]:
    if not isinstance(ids, list):
        raise StoreError(f"{where}: ids must be a list of strings, got {type(ids).__name__}")
    return [check_id(i, f"{where} ids[{n}]") for n, i in enumerate(ids)]


def check_delete_selector(ids: list[str] | None, delete_all: bool) -> list[str] | None:
    """Exactly one of `ids` or `delete_all`, so a forgotten argument never deletes everything."""
    if (ids is None) == (not delete_all):
        raise StoreError("delete: give either ids or delete_all=True, not both and not neither")
    return None if ids is None else check_ids(ids, "delete")
