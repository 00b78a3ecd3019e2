"""Embeddings into the vector store at an epoch's end: every sample's <Z> vector, and a kNN accuracy of the
validation split against the training split (a figure of how well the circuit separates the classes)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from .data import Dataset
from .events import EventBus, StoreUpdate, emit_to

if TYPE_CHECKING:  # the store package loads when a run stores embeddings
    from .store.base import VectorRecord, VectorStore


def epoch_records(run_id: str, epoch: int, split: str, data: Dataset, z: np.ndarray) -> list[VectorRecord]:
    """One record per sample: id e<epoch>-<split>-<i>, its <Z> vector, and what it is (run, epoch, split, label)."""
    from .store.base import VectorRecord

    out = []
    for i in range(len(data)):
        label = int(data.y[i]) if data.n_classes else float(data.y[i])
        meta: dict[str, str | int | float | bool] = {"run_id": run_id, "epoch": epoch, "split": split,
                                                     "label": label, "sample_id": i}
        out.append(VectorRecord(f"e{epoch}-{split}-{i}", z[i], meta))
    return out


async def store_embeddings(store: VectorStore, bus: EventBus | None, run_id: str, epoch: int, train: Dataset,
                           train_z: np.ndarray, val: Dataset | None, val_z: np.ndarray | None) -> float | None:
    """Upsert the epoch's embeddings (namespace = run id), emit StoreUpdate; the kNN accuracy of val on train."""
    from .store.knn import knn_accuracy

    def records() -> tuple[list[VectorRecord], list[VectorRecord]]:  # 560,000 rows took 2.3 s: not on the loop
        val_records = [] if val is None or val_z is None else epoch_records(run_id, epoch, "val", val, val_z)
        return epoch_records(run_id, epoch, "train", train, train_z), val_records

    train_records, val_records = await asyncio.to_thread(records)
    upserted = await asyncio.to_thread(store.upsert, run_id, train_records + val_records)
    knn = None
    if val_records and train.n_classes:
        knn = await asyncio.to_thread(knn_accuracy, store, run_id, {"epoch": epoch, "split": "train"}, val_records)
    emit_to(bus, StoreUpdate(epoch=epoch, upserted=upserted, namespace=run_id, store=type(store).__name__,
                             knn_accuracy=knn))
    return knn
