"""k-nearest-neighbour accuracy in embedding space: how well the stored embeddings separate labels.

Each test record is classified by a majority vote over the `label` metadata of its k nearest
training records (those passing `train_filter`); a tie goes to the label whose best neighbour
ranks first. Works on any VectorStore, so the report reads the same for SQLite and Pinecone.
"""

from __future__ import annotations

from collections import Counter

from .base import MetadataFilter, MetadataValue, QueryMatch, StoreError, VectorRecord, VectorStore

LABEL = "label"


def _vote(matches: list[QueryMatch]) -> MetadataValue:
    labels = []
    for m in matches:
        if LABEL not in m.metadata:
            raise StoreError(f"knn: training record {m.id!r} has no '{LABEL}' metadata")
        labels.append(m.metadata[LABEL])
    counts = Counter(labels)
    top = max(counts.values())
    return next(label for label in labels if counts[label] == top)


def knn_accuracy(
    store: VectorStore, namespace: str, train_filter: MetadataFilter | None, test_records: list[VectorRecord], k: int = 5
) -> float:
    """Fraction of `test_records` whose label the k nearest training records vote for."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise StoreError(f"knn: k must be a positive integer, got {k!r}")
    if not test_records:
        raise StoreError("knn: test_records is empty; accuracy is undefined")
    correct = 0
    for rec in test_records:
        if LABEL not in rec.metadata:
            raise StoreError(f"knn: test record {rec.id!r} has no '{LABEL}' metadata")
        matches = store.query(namespace, rec.values, top_k=k, filter=train_filter)
        if not matches:
            raise StoreError(f"knn: no training records in namespace {namespace!r} pass filter {train_filter!r}")
        correct += _vote(matches) == rec.metadata[LABEL]
    return correct / len(test_records)
