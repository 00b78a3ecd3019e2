"""Data sets: seeded synthetic sets, CSV loading and its error messages, the split and the scaler."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import TrainingConfig
from engine.data import (
    SYNTHETIC,
    DataError,
    Dataset,
    Scaler,
    load_csv,
    load_dataset,
    make_dataset,
    train_val_split,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("IONQ_API_KEY", "PINECONE_API_KEY", "IONQ_API_URL"):
        monkeypatch.delenv(var, raising=False)


def linear_accuracy(ds: Dataset) -> float:
    """Training accuracy of the least-squares linear classifier (with bias): what a line can do."""
    design = np.c_[ds.x, np.ones(len(ds))]
    weights = np.linalg.lstsq(design, 2.0 * ds.y - 1.0, rcond=None)[0]
    return float(((design @ weights > 0) == (ds.y == 1)).mean())


def knn_accuracy(ds: Dataset, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy: what a non-linear model can do."""
    distance = ((ds.x[:, None, :] - ds.x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distance, np.inf)
    neighbours = np.argsort(distance, axis=1)[:, :k]
    votes = np.apply_along_axis(np.bincount, 1, ds.y[neighbours], minlength=ds.n_classes)
    return float((votes.argmax(axis=1) == ds.y).mean())


# ----- synthetic data sets -----


@pytest.mark.parametrize("name", SYNTHETIC)
def test_same_seed_same_data_different_seed_different(name):
    a, b, c = make_dataset(name, 101, 5), make_dataset(name, 101, 5), make_dataset(name, 101, 6)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_shapes_dtypes_and_balanced_classes(name):
    ds = make_dataset(name, 101, 0)
    assert ds.x.shape == (101, 2) and ds.x.dtype == np.float64
    assert ds.y.shape == (101,) and ds.y.dtype == np.int64
    assert ds.n_classes == 2 and ds.task == "classification"
    assert ds.feature_names == ("x1", "x2") and ds.name == name
    assert sorted(np.bincount(ds.y).tolist()) == [50, 51]
    assert np.isfinite(ds.x).all()


def test_blobs_have_k_balanced_separable_classes_in_d_dimensions():
    ds = make_dataset("blobs", 302, 3, n_blobs=4, n_features=3)
    assert ds.x.shape == (302, 3) and ds.n_classes == 4
    assert sorted(np.bincount(ds.y).tolist()) == [75, 75, 76, 76]
    assert knn_accuracy(ds) > 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moons_are_not_linearly_trivial(seed):
    ds = make_dataset("moons", 400, seed)
    assert linear_accuracy(ds) < 0.92
    assert knn_accuracy(ds) > 0.97


def test_circles_and_xor_defeat_a_line():
    for name in ("circles", "xor"):
        ds = make_dataset(name, 400, 0)
        assert linear_accuracy(ds) < 0.65, name
        assert knn_accuracy(ds) > 0.95, name


@pytest.mark.parametrize("dims", [2, 3, 5])
def test_xor_label_is_the_parity_of_negative_coordinates(dims):
    ds = make_dataset("xor", 200, 1, n_features=dims, noise=0.0)
    assert ds.x.shape == (200, dims)
    np.testing.assert_array_equal((ds.x < 0).sum(axis=1) % 2, ds.y)
    assert sorted(np.bincount(ds.y).tolist()) == [100, 100]


def test_noise_changes_the_spread():
    clean = make_dataset("circles", 200, 0, noise=0.0)
    radius = np.linalg.norm(clean.x, axis=1)
    np.testing.assert_allclose(np.sort(np.unique(np.round(radius, 12))), [0.5, 1.0])
    noisy = make_dataset("circles", 200, 0, noise=0.2)
    assert np.unique(np.round(np.linalg.norm(noisy.x, axis=1), 12)).size > 100


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("iris", 100, 0), {}, "dataset: unknown synthetic data set 'iris'; valid: moons, circles, xor, blobs"),
        (("moons", 100, 0), {"n_features": 3}, "n_features: moons is 2-dimensional, got 3"),
        (("xor", 100, 0), {"n_features": 1}, "n_features: xor needs >= 2, got 1"),
        (("moons", 100, 0), {"n_blobs": 3}, "n_blobs: only for blobs, got data set 'moons'"),
        (("blobs", 9, 0), {"n_blobs": 5}, "n_samples: must be >= 10 (2 per class), got 9"),
        (("moons", 100, 0), {"noise": -1.0}, "noise: must be a finite number >= 0, got -1.0"),
        (("moons", 100, -1), {}, "seed: must be >= 0, got -1"),
    ],
)
def test_make_dataset_rejects_bad_arguments(args, kwargs, message):
    with pytest.raises(DataError) as info:
        make_dataset(*args, **kwargs)
    assert str(info.value) == message


# ----- CSV -----


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_integer_labels(tmp_path):
    path = write(tmp_path, "a, label ,b\n0.5,2,1\n1.5,1,-2\n\n2.5,2,3e-1\n")
    ds = load_csv(path, "label")
    np.testing.assert_array_equal(ds.x, [[0.5, 1.0], [1.5, -2.0], [2.5, 0.3]])
    np.testing.assert_array_equal(ds.y, [1, 0, 1])
    assert ds.feature_names == ("a", "b") and ds.class_labels == ("1", "2")
    assert ds.n_classes == 2 and ds.name == "data"


def test_csv_with_text_labels_and_bom(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_bytes("\ufeffx,species\n1,setosa\n2,virginica\n3,setosa\n4,versicolor\n".encode())
    ds = load_csv(path, "species")
    assert ds.class_labels == ("setosa", "versicolor", "virginica")
    np.testing.assert_array_equal(ds.y, [0, 2, 0, 1])


def test_csv_with_real_valued_labels_is_regression(tmp_path):
    ds = load_csv(write(tmp_path, "x,y\n1,0.5\n2,1.25\n3,2\n"), "y")
    assert ds.task == "regression" and ds.n_classes == 0
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, [0.5, 1.25, 2.0])


CSV_ERRORS = [
    ("a,b,label\n1,2,0\n3,x,1\n", "row 3, column 'b' (B): 'x' is not a number"),
    ("a,b,label\n1,2,0\n3," + "x" * 5000 + ",1\n",  # a long cell is quoted cut, with its length
     f"row 3, column 'b' (B): {'x' * 40!r}... (5,000 characters) is not a number"),
    ("a,b,label\n1,nan,0\n3,4,1\n", "row 2, column 'b' (B): 'nan' (NaN) is not allowed"),
    ("a,b,label\n1,2,0\n3,4,1\n5,-inf,1\n", "row 4, column 'b' (B): '-inf' (infinite) is not allowed"),
    ("a,b,label\n1,,0\n", "row 2, column 'b' (B): empty value"),
    ("a,b,label\n1,2,0\n3,4\n", "row 3, column 'label' (C): has 2 values, the header has 3 columns"),
    ("a,b,label\n1,2,0\n3,4,1,9\n", "row 3: has 4 values, the header has 3 columns"),
    ("a,b,label\n1,2,0\n3,4,\n", "row 3, column 'label' (C): empty label"),
    ("a,b,label\n1,2,0\n3,4,0\n", "column 'label' (C): only one class ('0') in the label column; "
                                  "classification needs at least 2"),
    ("a,b,label\n1,2,0\n3,4,cat\n", "row 3, column 'label' (C): label 'cat' is text but row 2 has a number; "
                                    "labels must be all numbers or all text"),
    ("a,b,target\n1,2,0\n", "row 1: no label column 'label'; available columns: a, b, target"),
    ("a;b;label\n1;2;0\n", "row 1: no label column 'label'; available columns: a;b;label (the header is separated "
                           "by ';'; columns here are separated by commas)"),
    ("a,a,label\n1,2,0\n", "row 1, column 'a' (B): duplicate column name in the header"),
    ("a,,label\n1,2,0\n", "row 1, column '' (B): empty column name in the header"),
    ("label\n0\n1\n", "row 1: no feature columns besides the label 'label'"),
    ("", "file is empty (expected a header row, then data rows)"),
    ("\n\n", "file is empty (expected a header row, then data rows)"),
    ("a,b,label\n", "no data rows after the header"),
    ("x,label\n1,0.5\n2,0.5\n", "column 'label' (B): regression target is constant"),
    ("x,label\n1,a\n2,a\n", "column 'label' (B): only one class ('a') in the label column; "
                            "classification needs at least 2"),
]


@pytest.mark.parametrize(("text", "message"), CSV_ERRORS, ids=[m[:40] for _, m in CSV_ERRORS])
def test_csv_errors_name_file_row_and_column(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_csv(path, "label")
    separator = ", " if message.startswith(("row", "column")) else ": "
    assert str(info.value) == f"{path}{separator}{message}"


def test_csv_error_attributes_locate_the_cell(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError) as info:
        load_csv(path, "label")
    assert (info.value.path, info.value.row, info.value.column) == (path, 3, "b")
    assert isinstance(info.value, ValueError)


def test_missing_csv_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_csv(tmp_path / "nope.csv", "label")


# ----- split -----


def test_split_is_stratified_disjoint_and_seeded():
    ds = make_dataset("blobs", 300, 0, n_blobs=3)
    ds = Dataset(np.c_[ds.x, np.arange(300.0)], ds.y, 3, ds.name, ds.feature_names + ("id",), ds.class_labels)
    train, val = train_val_split(ds, 0.2, seed=4)
    assert (len(train), len(val)) == (240, 60)
    assert np.bincount(val.y).tolist() == [20, 20, 20]
    ids_train, ids_val = set(train.x[:, -1]), set(val.x[:, -1])
    assert not ids_train & ids_val and len(ids_train | ids_val) == 300
    for row in range(len(val)):  # labels travel with their samples
        assert val.y[row] == ds.y[int(val.x[row, -1])]
    again, _ = train_val_split(ds, 0.2, seed=4)
    other, _ = train_val_split(ds, 0.2, seed=5)
    np.testing.assert_array_equal(again.x, train.x)
    assert not np.array_equal(other.x, train.x)


def test_every_class_reaches_both_splits_even_when_small():
    x = np.arange(13.0)[:, None]
    y = np.array([0] * 10 + [1] * 3, dtype=np.int64)
    train, val = train_val_split(Dataset(x, y, 2, "tiny", ("x",)), 0.1, seed=0)
    assert sorted(set(val.y.tolist())) == [0, 1] and sorted(set(train.y.tolist())) == [0, 1]


def test_regression_split_and_bad_fraction():
    x = np.arange(10.0)[:, None]
    train, val = train_val_split(Dataset(x, x[:, 0] * 0.5, 0, "r", ("x",)), 0.3, seed=1)
    assert (len(train), len(val)) == (7, 3)
    with pytest.raises(DataError, match=r"validation fraction: must be in \(0, 1\), got 1.0"):
        train_val_split(Dataset(x, x[:, 0], 0, "r", ("x",)), 1.0, seed=1)


# ----- scaler -----


def test_scaler_is_fitted_on_train_only_and_counts_clipping():
    ds = make_dataset("moons", 400, 2)
    train, val = train_val_split(ds, 0.25, seed=2)
    scaler = Scaler.fit(train.x)
    np.testing.assert_array_equal(scaler.minimum, train.x.min(axis=0))
    np.testing.assert_array_equal(scaler.maximum, train.x.max(axis=0))
    scaled_train = scaler.transform(train.x)
    assert scaled_train.min() == 0.0 and scaled_train.max() == 1.0
    assert scaler.last_clipped == 0
    outside = int(((val.x < train.x.min(axis=0)) | (val.x > train.x.max(axis=0))).sum())
    scaled_val = scaler.transform(val.x)
    assert scaler.last_clipped == outside and scaler.total_clipped == outside
    assert scaled_val.min() >= 0.0 and scaled_val.max() <= 1.0
    scaler.transform(np.array([[1e6, -1e6]]))
    assert (scaler.last_clipped, scaler.total_clipped) == (2, outside + 2)


def test_scaler_values_and_constant_features():
    scaler = Scaler.fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    out = scaler.transform(np.array([[1.0, 5.0], [3.0, 4.0], [-1.0, 6.0]]))
    np.testing.assert_array_equal(out, [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    assert scaler.last_clipped == 4


def test_a_value_far_outside_the_fitted_range_is_clipped_quietly():
    """(1e308 - 0.3) / 0.4 overflows to inf: clipped to 1 and counted, without numpy's RuntimeWarning on the
    terminal (it printed through a headless run's progress)."""
    import warnings

    scaler = Scaler.fit(np.array([[0.3], [0.7]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scaler.transform(np.array([[1e308], [-1e308], [0.5]]))
    np.testing.assert_allclose(out, [[1.0], [0.0], [0.5]])
    assert scaler.last_clipped == 2


def test_scaler_round_trips_through_a_checkpoint_dict():
    rng = np.random.default_rng(0)
    scaler = Scaler.fit(rng.normal(size=(50, 3)))
    scaler.transform(rng.normal(size=(10, 3)) * 5)
    restored = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    probe = rng.normal(size=(20, 3)) * 3
    np.testing.assert_array_equal(restored.transform(probe), scaler.transform(probe))
    assert restored.total_clipped == scaler.total_clipped - scaler.last_clipped + restored.last_clipped


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Scaler.fit(np.array([[1.0], [np.nan]])), "scaler: fit data contains NaN or infinite values"),
        (lambda: Scaler.fit(np.zeros((0, 2))), "scaler: fit needs a non-empty (N, D) array, got shape (0, 2)"),
        (lambda: Scaler.fit(np.zeros((3, 2))).transform(np.zeros((3, 3))),
         "scaler: expected (N, 2) features, got shape (3, 3)"),
        (lambda: Scaler.from_dict({"minimum": [0.0, 1.0], "maximum": [1.0]}),
         "scaler: checkpoint minimum/maximum must be equal-length lists with minimum <= maximum"),
        (lambda: Scaler.from_dict({"maximum": [1.0]}), "scaler: bad checkpoint data: KeyError('minimum')"),
    ],
)
def test_scaler_rejects_bad_input(call, message):
    with pytest.raises(DataError) as info:
        call()
    assert str(info.value) == message


# ----- from a config -----


def test_load_dataset_follows_the_config(tmp_path):
    config = TrainingConfig(dataset="xor", n_samples=64, seed=3, n_features=3, data_noise=0.0)
    ds = load_dataset(config)
    expected = make_dataset("xor", 64, 3, noise=0.0, n_features=3)
    np.testing.assert_array_equal(ds.x, expected.x)
    assert not np.array_equal(load_dataset(config.with_overrides({"seed": "4"})).x, ds.x)
    blobs = load_dataset(TrainingConfig(dataset="blobs", n_blobs=3, n_samples=30))
    assert blobs.n_classes == 3
    path = write(tmp_path, "f1,f2,cls\n1,2,a\n3,4,b\n")
    csv_ds = load_dataset(TrainingConfig(dataset="csv", dataset_path=path, label_column="cls"))
    assert csv_ds.feature_names == ("f1", "f2") and csv_ds.class_labels == ("a", "b")
