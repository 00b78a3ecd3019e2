"""Data, store, optimizer and batch edges: a float-range feature, labels beyond float precision, kNN's cost, a
diverged optimizer, huge losses in print, shots past the limit, a dataset_path that is no regular file."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.batch import CircuitBatchManager
from engine.data import DataError, Scaler, load_csv
from engine.optim import SGD, Adam, clip_by_norm, make_optimizer
from engine.report import render
from engine.store import SQLiteVectorStore, VectorRecord
from engine.store import knn
from qstore_tui.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from runs_fixtures import fake_run  # noqa: E402
from test_batch import Recording, config, ghz  # noqa: E402

TINY = ["--set", "n_qubits=2", "--set", "circuit_depth=1", "--set", "epochs=1", "--set", "batch_size=4",
        "--set", "shots_per_circuit=0", "--set", "log_interval=1"]


def _csv(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


# ----- 1. a feature from -1e308 to 1e308 -----

def test_a_feature_spanning_the_float_range_scales_to_the_unit_interval():
    scaler = Scaler.fit(np.array([[-1e308, 0.0], [1e308, 2.0]]))
    out = scaler.transform(np.array([[0.0, 1.0], [1e308, 2.0], [-1e308, 0.0], [5e307, 0.5]]))
    np.testing.assert_allclose(out, [[0.5, 0.5], [1.0, 1.0], [0.0, 0.0], [0.75, 0.25]])
    assert scaler.last_clipped == 0


def test_ordinary_features_scale_exactly_as_before():
    rng = np.random.default_rng(4)
    x = rng.normal(scale=[1.0, 1e-3, 1e6], size=(50, 3))
    scaler = Scaler.fit(x[:40])
    span = scaler.maximum - scaler.minimum
    assert np.array_equal(scaler.transform(x), np.clip((x - scaler.minimum) / span, 0.0, 1.0))


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_run_on_a_float_range_column_trains_without_numpy_warnings(tmp_path, capsys):
    values = [1e308, -1e308, 0.0, 5e307]
    path = _csv(tmp_path, "wide.csv", ["a,b,label"] + [f"{values[i % 4]!r},{i / 20},{i % 2}" for i in range(20)])
    code = main(["run", "--headless", "--runs-dir", str(tmp_path / "runs"), "--set", "dataset=csv",
                 "--set", f"dataset_path={path}", "--set", "label_column=label", *TINY])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "run completed" in out and "not finite" not in out + err and "Warning" not in err


# ----- 2. whole-number labels beyond float precision -----

def test_integer_labels_beyond_float_precision_are_two_classes(tmp_path):
    rows = ["x,label"] + [f"{i},{100000000000000000000 + i % 2}" for i in range(6)]
    ds = load_csv(_csv(tmp_path, "big.csv", rows), "label")
    assert ds.n_classes == 2 and ds.class_labels == ("100000000000000000000", "100000000000000000001")
    assert ds.y.tolist() == [0, 1, 0, 1, 0, 1]


def test_a_whole_float_label_is_the_same_class_as_its_integer(tmp_path):
    rows = ["x,label", "1,1e20", "2,100000000000000000000", "3,2.0", "4,2"]
    ds = load_csv(_csv(tmp_path, "same.csv", rows), "label")
    assert ds.class_labels == ("2", "100000000000000000000") and ds.y.tolist() == [1, 1, 0, 0]


def test_an_integer_label_beyond_float_range_in_a_regression_column_is_named(tmp_path):
    path = _csv(tmp_path, "reg.csv", ["x,label", "1,2.5", f"2,{10 ** 400}"])
    with pytest.raises(DataError, match=r"row 3, column 'label' \(B\): label .* is not finite"):
        load_csv(path, "label")


# ----- 3. kNN accuracy: bounded work, the same figure on small data -----

def _reference_knn(store, namespace, train_filter, test_records, k=5):
    """The accuracy as knn_accuracy computed it before the sample: one query per test record."""
    correct = 0
    for rec in test_records:
        labels = [m.metadata["label"] for m in store.query(namespace, rec.values, top_k=k, filter=train_filter)]
        counts = Counter(labels)
        correct += next(lab for lab in labels if counts[lab] == max(counts.values())) == rec.metadata["label"]
    return correct / len(test_records)


class _Counting(SQLiteVectorStore):
    queries = 0

    def query(self, *args, **kwargs):
        self.queries += 1
        return super().query(*args, **kwargs)


def _mixed_store(tmp_path, n_test: int) -> tuple[_Counting, list[VectorRecord]]:
    rng = np.random.default_rng(7)
    store = _Counting(tmp_path / "s.sqlite", 4, "cosine")
    centers = rng.normal(size=(3, 4))
    records = [VectorRecord(f"{split}-{i}", centers[i % 3] + rng.normal(size=4), {"label": i % 3, "split": split})
               for split, n in (("train", 300), ("val", n_test)) for i in range(n)]
    store.upsert("ns", records)
    return store, [r for r in records if r.metadata["split"] == "val"]


def test_knn_on_small_data_is_the_figure_of_one_query_per_record(tmp_path):
    store, test = _mixed_store(tmp_path, 120)
    got = knn.knn_accuracy(store, "ns", {"split": "train"}, test)
    assert store.queries == 120
    assert got == _reference_knn(store, "ns", {"split": "train"}, test) and 0.3 < got < 1.0


def test_knn_beyond_the_sample_size_classifies_a_seeded_sample(tmp_path):
    store, test = _mixed_store(tmp_path, 400)
    first = knn.knn_accuracy(store, "ns", {"split": "train"}, test, sample=50)
    assert store.queries == 50
    chosen = np.sort(np.random.default_rng(0).choice(400, 50, replace=False))
    assert first == _reference_knn(store, "ns", {"split": "train"}, [test[i] for i in chosen])
    assert knn.knn_accuracy(store, "ns", {"split": "train"}, test, sample=50) == first
    assert knn.SAMPLE == 1000
    unlabelled = test + [VectorRecord("bare", np.ones(4))]
    with pytest.raises(knn.StoreError, match="test record 'bare' has no 'label'"):
        knn.knn_accuracy(store, "ns", {"split": "train"}, unlabelled, sample=50)  # checked, sampled or not
    with pytest.raises(knn.StoreError, match="sample must be a positive integer"):
        knn.knn_accuracy(store, "ns", None, test, sample=0)


# ----- 4. a diverged optimizer -----

@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_an_overflowing_update_is_refused_naming_the_step_and_the_state_is_kept(name):
    opt = make_optimizer(name, 2, 0.9)
    params = opt.step(np.zeros(2), np.array([0.1, -0.2]), 0.01)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state_dict().items()}
    with pytest.raises(ValueError, match=r"^optimizer: the update is not finite at step 2 \(diverged: lower "
                                         r"learning_rate or weight_decay\)$"):
        opt.step(params, np.array([1e300, 1.0]), 1e10)
    after = opt.state_dict()
    assert all(np.array_equal(after[k], v) for k, v in before.items())


def test_sgd_counts_its_steps_through_a_checkpoint_and_loads_one_without_them():
    a = SGD(2)
    for _ in range(3):
        a.step(np.zeros(2), np.ones(2), 0.1)
    b = SGD(2)
    b.load_state_dict(a.state_dict())
    assert b.t == 3
    b.load_state_dict({"kind": "sgd", "velocity": np.zeros(2)})
    with pytest.raises(ValueError, match="gradient is not finite at step 1"):
        b.step(np.zeros(2), np.array([np.inf, 0.0]), 0.1)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_clipping_a_gradient_whose_squares_overflow_keeps_its_direction():
    clipped = clip_by_norm(np.array([3e300, 4e300]), 1.0)
    np.testing.assert_allclose(clipped, [0.6, 0.8])
    assert np.array_equal(clip_by_norm(np.array([3.0, 4.0]), 1.0), np.array([3.0, 4.0]) * (1.0 / 5.0))
    assert Adam(2).step(np.zeros(2), clipped, 0.1).tolist() == pytest.approx([-0.1, -0.1])


def test_a_run_with_a_diverging_weight_decay_fails_naming_the_step(tmp_path, capsys):
    code = main(["run", "--headless", "--runs-dir", str(tmp_path), "--set", "n_samples=20",
                 "--set", "weight_decay=1e300", *TINY])
    out, err = capsys.readouterr()
    assert code == 2
    assert "error: trainer: optimizer: the update is not finite at step 1 (diverged: lower learning_rate or " \
           "weight_decay)" in err
    assert "checkpoint state" not in out + err


# ----- 5. huge losses in print -----

def test_number_text_keeps_ordinary_values_and_shortens_extreme_ones():
    assert [render.number_text(x) for x in (0.0, 0.5, 1.23456, 999999.0, -2.5)] == \
           ["0.0000", "0.5000", "1.2346", "999999.0000", "-2.5000"]
    assert [render.number_text(x) for x in (1e300, -1234567.0, 5e-5, float("inf"), float("nan"))] == \
           ["1e+300", "-1.235e+06", "5e-05", "inf", "nan"]


def test_runs_attach_and_report_print_a_huge_loss_in_scientific_notation(tmp_path, capsys):
    run_dir = fake_run(tmp_path, "huge", losses=[2.5e300, 1.25e300])
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "1.25e+300" in listing
    assert main(["attach", "huge", "--headless", "--runs-dir", str(tmp_path)]) == 0
    progress = capsys.readouterr().out
    assert "step loss 1.25e+300" in progress and "epoch loss 1.25e+300" in progress
    assert main(["report", str(run_dir)]) == 0
    report = capsys.readouterr().out
    assert "Loss: 2.5e+300 -> 1.25e+300" in report and "loss 1.25e+300, acc" in report
    assert max(len(line) for line in listing.splitlines() + progress.splitlines() + report.splitlines()) < 200


# ----- 6. shots past the limit -----

async def test_shots_past_the_limit_are_refused_before_anything_runs():
    backend = Recording()
    async with CircuitBatchManager(config(), backend) as m:
        with pytest.raises(ValueError, match=r"^shots: must be an integer in 0\.\.1,099,511,627,776, got "
                                             r"2199023255552$"):
            await m.execute_batch([ghz(2, 0.1)], shots=2 ** 41)
    assert backend.calls == []


# ----- 7. a dataset_path that is no regular file, or unreadable -----

def test_a_folder_or_a_device_is_not_a_regular_file(tmp_path):
    for path in (tmp_path, Path("/dev/zero")):
        with pytest.raises(DataError) as caught:
            load_csv(path, "label")
        assert str(caught.value) == f"{path}: not a regular file"


def test_an_unreadable_csv_names_its_path_once_with_the_reason_in_words(tmp_path, monkeypatch):
    path = _csv(tmp_path, "locked.csv", ["x,label", "1,0", "2,1"])

    def denied(self, *args, **kwargs):  # what open raises for a file another user keeps (root reads them all)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(DataError) as caught:
        load_csv(path, "label")
    assert str(caught.value) == f"{path}: cannot read: permission denied"


def test_a_bad_data_row_is_said_as_the_datas_error_not_the_configs(tmp_path, capsys):
    """It read `error: config: <file>, row 3, ...`, which sent people looking in their config."""
    from qstore_tui.cli import main

    data = tmp_path / "bad.csv"
    data.write_text("a,label\n1,0\nx,1\n")
    assert main(["run", "--headless", "--runs-dir", str(tmp_path / "runs"), "--set", "dataset=csv",
                 "--set", f"dataset_path={data}", "--set", "epochs=1"]) == 2
    err = capsys.readouterr().err
    assert f"error: data: {data}, row 3, column 'a' (A): 'x' is not a number" in err and "config:" not in err
