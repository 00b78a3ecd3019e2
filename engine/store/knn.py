"""k-nearest-neighbour accuracy in embedding space: how well the stored embeddings separate labels.

Each test record is classified by a majority vote over the `label` metadata of its k nearest
training records (those passing `train_filter`); a tie goes to the label whose best neighbour
ranks first. Works on any VectorStore, so the report reads the same for SQLite and Pinecone.

Every query scans all training records, so classifying every test record costs N_test x N_train: an epoch of
a 560,000-row data set spent minutes here. Beyond `SAMPLE` test records a seeded sample of `SAMPLE` is
classified (the same records for the same list, so epochs compare): within about 1.6 points of the full
figure (one standard error), at a cost that grows with N_train only.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .base import MetadataFilter, MetadataValue, QueryMatch, StoreError, VectorRecord, VectorStore

LABEL = "label"
SAMPLE = 1000  # test records classified at most
_SAMPLE_SEED = 0


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
    store: VectorStore, namespace: str, train_filter: MetadataFilter | None, test_records: list[VectorRecord],
    k: int = 5, sample: int = SAMPLE,
) -> float:
    """Fraction of `test_records` (a seeded sample of `sample` when there are more) whose label the k nearest
    training records vote for."""
    for name, value in (("k", k), ("sample", sample)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise StoreError(f"knn: {name} must be a positive integer, got {value!r}")
    if not test_records:
        raise StoreError("knn: test_records is empty; accuracy is undefined")
    unlabelled = next((rec for rec in test_records if LABEL not in rec.metadata), None)
    if unlabelled is not None:
        raise StoreError(f"knn: test record {unlabelled.id!r} has no '{LABEL}' metadata")
    if len(test_records) > sample:
        chosen = np.random.default_rng(_SAMPLE_SEED).choice(len(test_records), sample, replace=False)
        test_records = [test_records[i] for i in np.sort(chosen)]
    correct = 0
    for rec in test_records:
        matches = store.query(namespace, rec.values, top_k=k, filter=train_filter)
        if not matches:
            raise StoreError(f"knn: no training records in namespace {namespace!r} pass filter {train_filter!r}")
        correct += _vote(matches) == rec.metadata[LABEL]
    return correct / len(test_records)
