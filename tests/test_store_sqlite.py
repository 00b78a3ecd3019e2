"""SQLiteVectorStore: exact search against brute-force numpy, filters, namespaces, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest

from engine.store import (
    BadFilterError,
    DimensionMismatchError,
    NotFoundError,
    SQLiteVectorStore,
    StoreError,
    VectorRecord,
    open_store,
)
from engine.store.knn import knn_accuracy

DIM = 16


def brute_force(x: np.ndarray, q: np.ndarray, metric: str, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and scores of the top_k rows, in float64, the way Pinecone scores them."""
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    if metric == "cosine":
        s = (x64 / np.linalg.norm(x64, axis=1, keepdims=True)) @ (q64 / np.linalg.norm(q64))
        order = np.argsort(-s, kind="stable")
    elif metric == "dotproduct":
        s = x64 @ q64
        order = np.argsort(-s, kind="stable")
    else:
        s = ((x64 - q64) ** 2).sum(axis=1)
        order = np.argsort(s, kind="stable")
    return order[:top_k], s[order[:top_k]]


def make_records(n: int, seed: int = 0) -> tuple[np.ndarray, list[VectorRecord]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    records = []
    for i in range(n):
        meta = {"label": i % 3, "split": "test" if i % 5 == 0 else "train", "flag": i % 2 == 0, "x": float(i) / 10}
        if i % 7 == 0:
            meta["opt"] = "here"
        records.append(VectorRecord(f"id{i}", x[i], meta))
    return x, records


@pytest.fixture
def store(tmp_path):
    s = SQLiteVectorStore(tmp_path / "store.sqlite", DIM, "cosine")
    yield s
    s.close()


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_query_equals_brute_force(tmp_path, metric):
    x, records = make_records(2000)
    s = SQLiteVectorStore(tmp_path / "s.sqlite", DIM, metric)
    assert s.upsert("ns", records) == 2000
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = rng.normal(size=DIM).astype(np.float32)
        rows, scores = brute_force(x, q, metric, 10)
        got = s.query("ns", q, top_k=10)
        assert [m.id for m in got] == [f"id{r}" for r in rows]
        np.testing.assert_allclose([m.score for m in got], scores, rtol=1e-5, atol=1e-5)
        assert got[0].metadata == records[rows[0]].metadata
        assert got[0].values is None


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_filtered_query_ranks_only_matching_rows(tmp_path, metric):
    x, records = make_records(1500)
    s = SQLiteVectorStore(tmp_path / "s.sqlite", DIM, metric)
    s.upsert("ns", records)
    keep = np.array([r.metadata["label"] == 1 and r.metadata["split"] == "train" for r in records])
    q = np.random.default_rng(2).normal(size=DIM).astype(np.float32)
    rows, scores = brute_force(x[keep], q, metric, 7)
    got = s.query("ns", q, 7, filter={"label": 1, "split": {"$eq": "train"}})
    assert [m.id for m in got] == [records[i].id for i in np.flatnonzero(keep)[rows]]
    np.testing.assert_allclose([m.score for m in got], scores, rtol=1e-5, atol=1e-5)


def test_include_values_returns_the_stored_vector_not_the_normalized_one(store):
    v = np.arange(1, DIM + 1, dtype=np.float32)
    store.upsert("ns", [VectorRecord("a", v, {})])
    (m,) = store.query("ns", v, 1, include_values=True)
    assert m.values.dtype == np.float32
    np.testing.assert_array_equal(m.values, v)
    assert m.score == pytest.approx(1.0, abs=1e-6)


def test_top_k_larger_than_namespace_returns_everything_and_empty_namespace_returns_nothing(store):
    _, records = make_records(5)
    store.upsert("ns", records)
    assert len(store.query("ns", records[0].values, 50)) == 5
    assert store.query("elsewhere", records[0].values, 5) == []


FILTER_CASES = [
    ({"label": 2}, lambda m: m["label"] == 2),
    ({"split": {"$eq": "test"}}, lambda m: m["split"] == "test"),
    ({"label": {"$ne": 0}}, lambda m: m["label"] != 0),
    ({"opt": {"$ne": "here"}}, lambda m: m.get("opt") != "here"),  # $ne matches records without the field
    ({"x": {"$gt": 10.0}}, lambda m: m["x"] > 10.0),
    ({"x": {"$gte": 10.0}}, lambda m: m["x"] >= 10.0),
    ({"x": {"$lt": 5}}, lambda m: m["x"] < 5),
    ({"x": {"$lte": 5}}, lambda m: m["x"] <= 5),
    ({"x": {"$gt": 2, "$lt": 4}}, lambda m: 2 < m["x"] < 4),
    ({"label": {"$in": [0, 2]}}, lambda m: m["label"] in (0, 2)),
    ({"label": {"$nin": [0, 2]}}, lambda m: m["label"] not in (0, 2)),
    ({"opt": {"$in": ["here"]}}, lambda m: m.get("opt") == "here"),
    ({"$and": [{"label": 1}, {"flag": True}]}, lambda m: m["label"] == 1 and m["flag"] is True),
    ({"$or": [{"label": 1}, {"split": "test"}]}, lambda m: m["label"] == 1 or m["split"] == "test"),
    ({"$or": [{"$and": [{"label": 0}, {"x": {"$lt": 3}}]}, {"opt": "here"}]},
     lambda m: (m["label"] == 0 and m["x"] < 3) or m.get("opt") == "here"),
    ({"flag": 1}, lambda m: False),  # typed: a bool is not the number 1
    ({"label": "1"}, lambda m: False),  # typed: a string is not a number
    ({"label": 1.0}, lambda m: m["label"] == 1),  # 1 and 1.0 are the same number
    ({}, lambda m: True),
]


@pytest.mark.parametrize("flt,expect", FILTER_CASES, ids=[str(f) for f, _ in FILTER_CASES])
def test_filter_operator_selects_exactly_the_matching_records(tmp_path, flt, expect):
    _, records = make_records(200)
    s = SQLiteVectorStore(tmp_path / "s.sqlite", DIM, "euclidean")
    s.upsert("ns", records)
    got = {m.id for m in s.query("ns", np.zeros(DIM, np.float32), 10_000, filter=flt)}
    assert got == {r.id for r in records if expect(r.metadata)}


@pytest.mark.parametrize(
    "flt,operator",
    [
        ({"x": {"$regex": "a"}}, "$regex"),
        ({"$not": {"x": 1}}, "$not"),
        ({"x": {"$gt": "a"}}, "$gt"),
        ({"x": {"$in": 3}}, "$in"),
        ({"$and": {"x": 1}}, "$and"),
        ({"$or": []}, "$or"),
        ({"x": [1, 2]}, "$eq"),
        ({"x": {}}, "x"),
    ],
)
def test_bad_filter_raises_naming_the_operator(store, flt, operator):
    store.upsert("ns", [VectorRecord("a", np.ones(DIM), {"x": 1})])
    with pytest.raises(BadFilterError) as err:
        store.query("ns", np.ones(DIM), 1, filter=flt)
    assert err.value.operator == operator
    assert operator in str(err.value)


def test_namespaces_are_isolated(store):
    store.upsert("a", [VectorRecord("same-id", np.ones(DIM), {"ns": "a"})])
    store.upsert("b", [VectorRecord("same-id", -np.ones(DIM), {"ns": "b"}), VectorRecord("only-b", np.ones(DIM))])
    assert [m.id for m in store.query("a", np.ones(DIM), 10)] == ["same-id"]
    assert store.fetch("a", ["same-id", "only-b"])["same-id"].metadata == {"ns": "a"}
    assert "only-b" not in store.fetch("a", ["only-b"])
    store.delete("b", delete_all=True)
    assert store.fetch("a", ["same-id"])["same-id"].metadata == {"ns": "a"}
    assert store.describe().namespaces == {"a": 1}


@pytest.mark.parametrize("mirror_loaded", [False, True])
def test_upsert_overwrites_by_id(store, mirror_loaded):
    store.upsert("ns", [VectorRecord("a", np.ones(DIM), {"v": 1}), VectorRecord("b", -np.ones(DIM), {"v": 2})])
    if mirror_loaded:
        store.query("ns", np.ones(DIM), 1)
    new = np.linspace(-1, 1, DIM).astype(np.float32)
    assert store.upsert("ns", [VectorRecord("a", new, {"v": 3})]) == 1
    assert store.describe().total_count == 2
    got = store.fetch("ns", ["a"])["a"]
    np.testing.assert_array_equal(got.values, new)
    assert got.metadata == {"v": 3}
    assert store.query("ns", new, 1)[0].id == "a"


def test_delete_by_ids_and_all(store):
    _, records = make_records(20)
    store.upsert("ns", records)
    store.query("ns", records[0].values, 1)  # load the mirror so delete must keep it in step
    store.delete("ns", ids=["id0", "id1", "not-there"])
    assert store.describe().namespaces == {"ns": 18}
    assert {m.id for m in store.query("ns", records[0].values, 100)} == {f"id{i}" for i in range(2, 20)}
    store.delete("ns", delete_all=True)
    assert store.describe().namespaces == {}
    assert store.query("ns", records[0].values, 5) == []


def test_delete_needs_an_existing_namespace_and_exactly_one_selector(store):
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.delete("ghost", delete_all=True)
    store.upsert("ns", [VectorRecord("a", np.ones(DIM))])
    with pytest.raises(StoreError, match="either ids or delete_all"):
        store.delete("ns")
    with pytest.raises(StoreError, match="either ids or delete_all"):
        store.delete("ns", ids=["a"], delete_all=True)
    assert store.describe().total_count == 1


def test_describe_counts_by_namespace(store):
    _, records = make_records(30)
    store.upsert("", records[:10])
    store.upsert("train", records[10:])
    stats = store.describe()
    assert (stats.dimension, stats.metric, stats.total_count) == (DIM, "cosine", 30)
    assert stats.namespaces == {"": 10, "train": 20}


def test_mirror_stays_in_step_with_the_file(tmp_path):
    """Random upserts and deletes against a loaded mirror answer like a fresh load of the same file."""
    rng = np.random.default_rng(3)
    path = tmp_path / "s.sqlite"
    live = SQLiteVectorStore(path, DIM, "dotproduct")
    live.upsert("ns", [VectorRecord("seed", np.ones(DIM))])
    live.query("ns", np.ones(DIM), 1)
    for step in range(30):
        ids = [f"id{i}" for i in rng.integers(0, 60, size=8)]
        if step % 3 == 2:
            live.delete("ns", ids=ids)
        else:
            live.upsert("ns", [VectorRecord(i, rng.normal(size=DIM), {"step": step}) for i in ids])
    fresh = SQLiteVectorStore(path, DIM, "dotproduct")
    for _ in range(5):
        q = rng.normal(size=DIM)
        a, b = live.query("ns", q, 100, include_values=True), fresh.query("ns", q, 100, include_values=True)
        assert [(m.id, m.score, m.metadata) for m in a] == [(m.id, m.score, m.metadata) for m in b]
    assert live.describe() == fresh.describe()


def test_reopening_the_file_gives_the_same_data(tmp_path):
    path = tmp_path / "store.sqlite"
    _, records = make_records(300)
    s = SQLiteVectorStore(path, DIM, "euclidean")
    s.upsert("ns", records)
    q = np.random.default_rng(4).normal(size=DIM)
    before = [(m.id, m.score, m.metadata) for m in s.query("ns", q, 10, filter={"split": "train"})]
    stats = s.describe()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.describe()
    reopened = SQLiteVectorStore(path, DIM, "euclidean")
    assert reopened.describe() == stats
    assert [(m.id, m.score, m.metadata) for m in reopened.query("ns", q, 10, filter={"split": "train"})] == before
    got = reopened.fetch("ns", ["id7"])["id7"]
    np.testing.assert_array_equal(got.values, records[7].values)
    assert got.metadata == records[7].metadata


def test_reopening_with_another_dimension_or_metric_fails(tmp_path):
    path = tmp_path / "store.sqlite"
    SQLiteVectorStore(path, DIM, "cosine").close()
    with pytest.raises(DimensionMismatchError) as err:
        SQLiteVectorStore(path, 8, "cosine")
    assert (err.value.expected, err.value.got) == (DIM, 8)
    with pytest.raises(StoreError, match="metric 'cosine'"):
        SQLiteVectorStore(path, DIM, "dotproduct")


def test_dimension_mismatch_names_expected_and_got(store):
    with pytest.raises(DimensionMismatchError) as err:
        store.upsert("ns", [VectorRecord("ok", np.ones(DIM)), VectorRecord("short", np.ones(3))])
    assert (err.value.expected, err.value.got) == (DIM, 3)
    assert "records[1]" in str(err.value) and "'short'" in str(err.value)
    assert store.describe().total_count == 0  # nothing of a rejected batch is written
    with pytest.raises(DimensionMismatchError, match="query vector"):
        store.query("ns", np.ones(DIM + 1), 1)


@pytest.mark.parametrize(
    "record,message",
    [
        (VectorRecord("nan", np.full(DIM, np.nan)), r"values\[0\] is not finite"),
        (VectorRecord("big", np.full(DIM, 1e39)), "not finite"),
        (VectorRecord("zero", np.zeros(DIM)), "all-zero"),
        (VectorRecord("", np.ones(DIM)), "id must be"),
        (VectorRecord("meta", np.ones(DIM), {"k": [1, 2]}), r"metadata\['k'\]"),
        (VectorRecord("meta", np.ones(DIM), {"k": float("inf")}), r"metadata\['k'\] is not finite"),
    ],
)
def test_bad_records_are_rejected_with_a_clear_error(store, record, message):
    with pytest.raises(StoreError, match=message):
        store.upsert("ns", [record])
    assert store.describe().total_count == 0


def test_bad_query_arguments(store):
    with pytest.raises(StoreError, match="top_k"):
        store.query("ns", np.ones(DIM), 0)
    with pytest.raises(StoreError, match="not finite"):
        store.query("ns", np.full(DIM, np.inf), 1)
    with pytest.raises(StoreError, match="reserved"):
        store.query("__default__", np.ones(DIM), 1)


def test_knn_accuracy_on_separated_and_on_mixed_clusters(store):
    rng = np.random.default_rng(5)
    centers = {0: np.eye(DIM)[0] * 10, 1: np.eye(DIM)[1] * 10}
    records = [
        VectorRecord(f"{split}{label}-{i}", centers[label] + rng.normal(size=DIM), {"label": label, "split": split})
        for split in ("train", "test") for label in (0, 1) for i in range(20)
    ]
    store.upsert("emb", records)
    test = [r for r in records if r.metadata["split"] == "test"]
    assert knn_accuracy(store, "emb", {"split": "train"}, test, k=5) == 1.0
    # flip the labels of the test records: every vote now disagrees
    flipped = [VectorRecord(r.id, r.values, {"label": 1 - r.metadata["label"]}) for r in test]
    assert knn_accuracy(store, "emb", {"split": "train"}, flipped, k=5) == 0.0
    with pytest.raises(StoreError, match="no 'label'"):
        knn_accuracy(store, "emb", {"split": "train"}, [VectorRecord("x", np.ones(DIM))])
    with pytest.raises(StoreError, match="no training records"):
        knn_accuracy(store, "emb", {"split": "none"}, test)


def test_knn_tie_goes_to_the_label_of_the_nearest_neighbour(store):
    store.upsert(
        "emb",
        [
            VectorRecord("near", np.eye(DIM)[0], {"label": "a"}),
            VectorRecord("mid", np.eye(DIM)[0] + 0.5 * np.eye(DIM)[1], {"label": "b"}),
        ],
    )
    assert knn_accuracy(store, "emb", None, [VectorRecord("t", np.eye(DIM)[0], {"label": "a"})], k=2) == 1.0


def test_open_store_kinds(tmp_path):
    s = open_store("sqlite", path=tmp_path / "s.sqlite", dimension=4, metric="dotproduct")
    assert isinstance(s, SQLiteVectorStore) and (s.dimension, s.metric) == (4, "dotproduct")
    s.close()
    with pytest.raises(StoreError, match="PINECONE_API_KEY"):
        open_store("pinecone", path=tmp_path / "x", dimension=4, metric="cosine", index_name="idx")
    with pytest.raises(StoreError, match="'faiss'"):
        open_store("faiss", path=tmp_path / "x", dimension=4, metric="cosine")
    with pytest.raises(StoreError, match="metric"):
        open_store("sqlite", path=tmp_path / "y.sqlite", dimension=4, metric="manhattan")
    with pytest.raises(StoreError, match="does not exist"):
        open_store("sqlite", path=tmp_path / "missing-dir" / "s.sqlite", dimension=4, metric="cosine")


async def test_concurrent_calls_from_worker_threads_are_safe(store):
    """Callers run the sync methods with asyncio.to_thread; the store's lock keeps them consistent."""
    import asyncio

    from engine.store import VectorStore

    assert isinstance(store, VectorStore)
    rng = np.random.default_rng(6)
    batches = [[VectorRecord(f"b{b}-{i}", rng.normal(size=DIM)) for i in range(50)] for b in range(8)]
    await asyncio.gather(
        *(asyncio.to_thread(store.upsert, "ns", batch) for batch in batches),
        *(asyncio.to_thread(store.query, "ns", np.ones(DIM), 5) for _ in range(8)),
    )
    assert store.describe().total_count == 400
    assert len(store.query("ns", np.ones(DIM), 1000)) == 400


def test_integers_past_64_bits_are_refused_in_metadata_and_filtered_without_sql(store):
    """2**70 was stored, then a filter on it raised a bare OverflowError from SQLite."""
    vec = np.ones(DIM, dtype=np.float32)
    with pytest.raises(StoreError, match=r"metadata\['k'\] is outside the 64-bit integer range"):
        store.upsert("ns", [VectorRecord("a", vec, {"k": 2**70})])
    store.upsert("ns", [VectorRecord("b", vec, {"k": 2**63 - 1})])
    assert [m.id for m in store.query("ns", vec, 5, filter={"k": 2**70})] == []
    assert [m.id for m in store.query("ns", vec, 5, filter={"k": {"$eq": 2**63 - 1}})] == ["b"]
