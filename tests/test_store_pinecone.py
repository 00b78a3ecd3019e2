"""PineconeVectorStore through the REAL pinecone SDK against the loopback Pinecone server."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.store import (
    BadFilterError,
    DimensionMismatchError,
    NotFoundError,
    SQLiteVectorStore,
    StoreError,
    VectorRecord,
    VectorStore,
    open_store,
)
from pinecone_server import PineconeLoopbackServer
from engine.store.pinecone_store import PineconeVectorStore, cloud_region

KEY = "pc-test-key-7f3a9c"
DIM = 16


_opened: list[PineconeVectorStore] = []


@pytest.fixture
def server():
    with PineconeLoopbackServer(KEY) as srv:
        yield srv
        while _opened:
            _opened.pop().close()


def make_store(server, name="qstore-test", metric="cosine", **kw) -> PineconeVectorStore:
    """A store on the loopback server, closed when the test ends."""
    kw.setdefault("backoff_s", 0.01)
    store = PineconeVectorStore(KEY, name, DIM, metric, host=server.url, **kw)
    _opened.append(store)
    return store


def records(n: int, seed: int = 0) -> list[VectorRecord]:
    rng = np.random.default_rng(seed)
    return [
        VectorRecord(f"id{i}", rng.normal(size=DIM), {"label": i % 3, "split": "test" if i % 4 == 0 else "train"})
        for i in range(n)
    ]


def test_index_is_created_when_missing_and_reused_after(server):
    store = make_store(server, "fresh-index", metric="dotproduct")
    assert server.request_count("/indexes") == 1  # one create
    backing = server.store("fresh-index")
    assert (backing.dimension, backing.metric) == (DIM, "dotproduct")
    assert store.host.startswith("http://127.0.0.1:") and store.host != server.url
    make_store(server, "fresh-index", metric="dotproduct")
    assert server.request_count("/indexes") == 1  # found by describe, not created twice


def test_create_uses_the_cloud_and_region_of_the_environment_and_list_shows_it(server):
    from pinecone import Pinecone

    make_store(server, "gcp-index", environment="us-central1")
    make_store(server, "aws-index")
    with Pinecone(api_key=KEY, host=server.url) as pc:
        deployment = pc.indexes.describe("gcp-index").deployment
        listed = {index.name: index.deployment.cloud for index in pc.indexes.list()}
    assert (deployment.cloud, deployment.region) == ("gcp", "us-central1")
    assert listed == {"gcp-index": "gcp", "aws-index": "aws"}


def test_existing_index_of_another_dimension_or_metric_is_refused(server):
    make_store(server, "shaped")
    with pytest.raises(DimensionMismatchError) as err:
        PineconeVectorStore(KEY, "shaped", 8, "cosine", host=server.url)
    assert (err.value.expected, err.value.got) == (DIM, 8)
    with pytest.raises(StoreError, match="metric 'cosine'"):
        PineconeVectorStore(KEY, "shaped", DIM, "euclidean", host=server.url)


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_upsert_is_batched_and_query_equals_the_sqlite_store(server, tmp_path, metric):
    store = make_store(server, metric=metric)
    recs = records(250)
    assert store.upsert("emb", recs) == 250
    assert server.request_count("/vectors/upsert") == 3  # 100 + 100 + 50
    local = SQLiteVectorStore(tmp_path / "local.sqlite", DIM, metric)
    local.upsert("emb", recs)
    rng = np.random.default_rng(9)
    for flt in (None, {"split": "train"}, {"$or": [{"label": 0}, {"label": {"$gte": 2}}]}):
        q = rng.normal(size=DIM)
        remote = store.query("emb", q, 12, filter=flt, include_values=True)
        mine = local.query("emb", q, 12, filter=flt, include_values=True)
        assert [(m.id, m.score, m.metadata) for m in remote] == [(m.id, m.score, m.metadata) for m in mine]
        for a, b in zip(remote, mine):
            np.testing.assert_array_equal(a.values, b.values)
    local.close()


def test_fetch_delete_and_describe(server):
    store = make_store(server)
    recs = records(30)
    store.upsert("", recs[:10])
    store.upsert("train", recs[10:])
    stats = store.describe()
    assert (stats.dimension, stats.metric, stats.total_count) == (DIM, "cosine", 30)
    assert stats.namespaces == {"": 10, "train": 20}  # Pinecone's "__default__" reads back as ""

    got = store.fetch("train", ["id10", "id11", "absent"])
    assert set(got) == {"id10", "id11"}
    np.testing.assert_array_equal(got["id10"].values, recs[10].values)
    assert got["id10"].metadata == recs[10].metadata

    store.delete("train", ids=["id10", "id11"])
    assert store.fetch("train", ["id10"]) == {}
    assert store.describe().namespaces == {"": 10, "train": 18}
    store.delete("", delete_all=True)
    assert store.describe().namespaces == {"train": 18}
    with pytest.raises(NotFoundError, match="ghost"):
        store.delete("ghost", delete_all=True)


def test_upsert_overwrites_by_id(server):
    store = make_store(server)
    store.upsert("ns", [VectorRecord("a", np.ones(DIM), {"v": 1})])
    store.upsert("ns", [VectorRecord("a", -np.ones(DIM), {"v": 2})])
    got = store.fetch("ns", ["a"])["a"]
    np.testing.assert_array_equal(got.values, -np.ones(DIM, np.float32))
    assert got.metadata == {"v": 2}
    assert store.describe().total_count == 1


def test_bad_input_is_refused_before_any_request(server):
    store = make_store(server)
    store.upsert("ns", records(3))
    sent = server.request_count("/query")
    with pytest.raises(BadFilterError, match=r"\$regex"):
        store.query("ns", np.ones(DIM), 3, filter={"split": {"$regex": "tr.*"}})
    with pytest.raises(DimensionMismatchError):
        store.query("ns", np.ones(3), 3)
    with pytest.raises(DimensionMismatchError):
        store.upsert("ns", [VectorRecord("short", np.ones(3))])
    assert server.request_count("/query") == sent


def test_wrong_key_is_a_store_error_that_never_shows_the_key(server, caplog):
    make_store(server, "keyed")
    wrong = "pc-wrong-key-55e1d0"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreError) as err:
        PineconeVectorStore(wrong, "keyed", DIM, "cosine", host=server.url)
    assert "401" in str(err.value) and "PINECONE_API_KEY" in str(err.value)
    assert wrong not in str(err.value) and wrong not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert wrong not in caplog.text
    store = make_store(server, "keyed")
    assert KEY not in repr(store)


def test_transient_503_is_retried_and_succeeds(server, caplog):
    store = make_store(server, max_attempts=8)
    store.upsert("ns", records(20))
    q = np.ones(DIM)
    expected = [m.id for m in server.store("qstore-test").query("ns", q, 5)]
    before = server.request_count("/query")
    server.fail_next("/query", count=5)  # more than the SDK's own transport retries, so ours must act too
    caplog.set_level(logging.WARNING, logger="engine.store.pinecone_store")
    assert [m.id for m in store.query("ns", q, 5)] == expected
    assert server.request_count("/query") == before + 6
    assert "503" in caplog.text and KEY not in caplog.text

    server.fail_next("/vectors/upsert", count=1)
    assert store.upsert("ns", records(40, seed=1)[20:]) == 20
    assert store.describe().total_count == 40


def test_persistent_503_raises_after_bounded_attempts(server):
    store = make_store(server, max_attempts=2)
    server.fail_next("/describe_index_stats", count=1000)
    with pytest.raises(StoreError, match="503") as err:
        store.describe()
    assert "after 2 attempt(s)" in str(err.value)
    assert 2 <= server.request_count("/describe_index_stats") <= 8  # ours x the SDK's, never unbounded


def test_controller_host_from_the_environment_and_open_store(server, monkeypatch):
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", server.url)
    store = open_store(
        "pinecone", path="unused", dimension=DIM, metric="euclidean", api_key=KEY, index_name="env-index"
    )
    assert isinstance(store, PineconeVectorStore) and isinstance(store, VectorStore)
    store.upsert("ns", records(5))
    assert store.describe().total_count == 5
    assert server.store("env-index").metric == "euclidean"
    store.close()


def test_the_server_demands_the_key_on_the_data_plane(server):
    import httpx

    store = make_store(server)
    r = httpx.post(f"{store.host}/query", json={"vector": [1.0] * DIM, "topK": 1})
    assert r.status_code == 401
    r = httpx.post(f"{store.host}/query", json={"vector": [1.0] * DIM, "topK": 1}, headers={"Api-Key": KEY})
    assert r.status_code == 200 and r.json()["matches"] == []


@pytest.mark.parametrize(
    "environment,expected",
    [
        ("us-east-1", ("aws", "us-east-1")),
        ("eu-west-1", ("aws", "eu-west-1")),
        ("us-central1", ("gcp", "us-central1")),
        ("europe-west4", ("gcp", "europe-west4")),
        ("eastus2", ("azure", "eastus2")),
        ("gcp/us-east1", ("gcp", "us-east1")),
        ("us-west1-gcp", ("gcp", "us-west1")),
    ],
)
def test_cloud_region_from_environment(environment, expected):
    assert cloud_region(environment) == expected


@pytest.mark.parametrize("environment", ["", "us east 1", "mars/olympus-1"])
def test_unknown_environment_names_the_field(environment):
    with pytest.raises(StoreError, match="environment"):
        cloud_region(environment)
