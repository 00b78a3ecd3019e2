"""Data sets: seeded synthetic ones (moons, circles, xor, blobs), CSV files, a stratified split and a scaler.

Everything synthetic is generated with numpy from a seed, so a run is reproducible from its config.
Bad data raises `DataError` naming the file, the row (1-based as in a spreadsheet: the header is
row 1) and the column. The `Scaler` is fitted on the training split only and maps each feature to
[0, 1] for RY(pi * x) encoding; values outside the training range are clipped and counted.
"""

from __future__ import annotations

import csv
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .fileio import error_text
from .quoting import quoted

if TYPE_CHECKING:
    from engine.config import TrainingConfig

SYNTHETIC = ("moons", "circles", "xor", "blobs")
DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05, "xor": 0.05, "blobs": 0.15}


class DataError(ValueError):
    """Bad data. `path`, `row` (header = 1) and `column` (a name) say where, when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        row: int | None = None,
        column: str | None = None,
        column_index: int | None = None,
    ):
        self.path = None if path is None else Path(path)
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            letter = f" ({_column_letter(column_index)})" if column_index is not None else ""
            where.append(f"column {column!r}{letter}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


def _column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples `x` (N, D) float64 and labels `y` (N,): int64 class indices, or float64 for regression.

    `n_classes` is 0 for regression. `class_labels[k]` is the original label of class k. `source` is
    the file it was read from (None for synthetic sets), so later errors can name it.
    """

    x: np.ndarray
    y: np.ndarray
    n_classes: int
    name: str
    feature_names: tuple[str, ...]
    class_labels: tuple[str, ...] = ()
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.x.dtype != np.float64:
            raise DataError(f"{self.name}: x must be float64 (N, D), got {self.x.dtype} {self.x.shape}")
        if self.y.shape != (self.x.shape[0],):
            raise DataError(f"{self.name}: y must have shape ({self.x.shape[0]},), got {self.y.shape}")
        if len(self.feature_names) != self.x.shape[1]:
            raise DataError(f"{self.name}: {len(self.feature_names)} feature names for {self.x.shape[1]} features")
        expected = np.int64 if self.n_classes else np.float64
        if self.y.dtype != expected:
            raise DataError(f"{self.name}: y must be {np.dtype(expected)}, got {self.y.dtype}")

    @property
    def task(self) -> Literal["classification", "regression"]:
        return "classification" if self.n_classes else "regression"

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: np.ndarray) -> Dataset:
        """The samples at `index`, same metadata."""
        return Dataset(self.x[index], self.y[index], self.n_classes, self.name, self.feature_names, self.class_labels,
                       self.source)


# ----- synthetic data sets -----


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    """Balanced class sizes: they differ by at most one."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def make_dataset(
    name: str,
    n_samples: int,
    seed: int,
    *,
    noise: float | None = None,
    n_features: int | None = None,
    n_blobs: int | None = None,
) -> Dataset:
    """A balanced synthetic classification set, identical for the same arguments.

    moons / circles: 2 features, 2 classes. xor: label = parity of the number of negative
    coordinates among `n_features` (default 2). blobs: `n_blobs` (default 2) Gaussian clusters in
    `n_features` dimensions. `noise` defaults to DEFAULT_NOISE[name] (Gaussian std on the features).
    """
    if name not in SYNTHETIC:
        raise DataError(f"dataset: unknown synthetic data set {name!r}; valid: {', '.join(SYNTHETIC)}")
    noise = DEFAULT_NOISE[name] if noise is None else float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise DataError(f"noise: must be a finite number >= 0, got {noise}")
    dims = 2 if n_features is None else int(n_features)
    if name in ("moons", "circles") and dims != 2:
        raise DataError(f"n_features: {name} is 2-dimensional, got {dims}")
    if dims < (2 if name == "xor" else 1):
        raise DataError(f"n_features: {name} needs >= {2 if name == 'xor' else 1}, got {dims}")
    if n_blobs is not None and name != "blobs":
        raise DataError(f"n_blobs: only for blobs, got data set {name!r}")
    classes = (2 if n_blobs is None else int(n_blobs)) if name == "blobs" else 2
    if classes < 2:
        raise DataError(f"n_blobs: must be >= 2, got {classes}")
    if n_samples < 2 * classes:
        raise DataError(f"n_samples: must be >= {2 * classes} (2 per class), got {n_samples}")
    if seed < 0:
        raise DataError(f"seed: must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n_samples, classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), sizes)
    if name == "moons":
        t = rng.uniform(0.0, np.pi, n_samples)
        outer = np.stack([np.cos(t), np.sin(t)], axis=1)
        inner = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        x = np.where((y == 0)[:, None], outer, inner)
    elif name == "circles":
        t = rng.uniform(0.0, 2.0 * np.pi, n_samples)
        radius = np.where(y == 0, 1.0, 0.5)
        x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    elif name == "xor":
        magnitude = rng.uniform(0.05, 1.0, (n_samples, dims))
        negative = rng.integers(0, 2, (n_samples, dims))
        negative[:, -1] = (negative[:, :-1].sum(axis=1) + y) % 2
        x = np.where(negative == 1, -magnitude, magnitude)
    else:
        x = _blob_centers(rng, classes, dims)[y]
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(n_samples)
    return Dataset(
        x=np.ascontiguousarray(x[order], dtype=np.float64),
        y=y[order],
        n_classes=classes,
        name=name,
        feature_names=tuple(f"x{i + 1}" for i in range(dims)),
        class_labels=tuple(str(k) for k in range(classes)),
    )


def _blob_centers(rng: np.random.Generator, k: int, dims: int) -> np.ndarray:
    """k centers in [-1, 1]^dims, spread out by farthest-point selection among random candidates."""
    candidates = rng.uniform(-1.0, 1.0, (64 * k, dims))
    chosen = [0]
    distance = np.linalg.norm(candidates - candidates[0], axis=1)
    for _ in range(k - 1):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(candidates - candidates[nxt], axis=1))
    return candidates[chosen]


# ----- CSV -----


def _parse_number(text: str, *, path: Path, row: int, column: str, index: int) -> float:
    if text == "":
        raise DataError("empty value", path=path, row=row, column=column, column_index=index)
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{quoted(text)} is not a number", path=path, row=row, column=column,
                        column_index=index) from None
    if math.isnan(value):
        raise DataError(f"{quoted(text)} (NaN) is not allowed", path=path, row=row, column=column,
                        column_index=index)
    if math.isinf(value):
        raise DataError(f"{quoted(text)} (infinite) is not allowed", path=path, row=row, column=column,
                        column_index=index)
    return value


def load_csv(path: str | os.PathLike[str], label_column: str) -> Dataset:
    """A data set from a CSV with a header row; every column but `label_column` is a numeric feature.

    Integer-valued or text labels make a classification set (classes sorted, mapped to 0..k-1);
    other numeric labels make a regression set. Completely blank lines are skipped.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a folder, a device or a pipe: never opened (/dev/zero never ends)
            raise DataError("not a regular file", path=path)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except OSError as exc:  # the reason in words; DataError names the path once
        raise DataError(f"cannot read: {error_text(OSError(exc.errno, exc.strerror))}", path=path) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read: {exc}", path=path) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DataError("file is empty (expected a header row, then data rows)", path=path)
    header = [cell.strip() for cell in rows[0]]
    for i, name in enumerate(header):
        if not name:
            raise DataError("empty column name in the header", path=path, row=1, column="", column_index=i)
        if header.index(name) != i:
            raise DataError("duplicate column name in the header", path=path, row=1, column=name, column_index=i)
    if label_column not in header:
        other = next((sep for sep in (";", "\t", "|") if len(header) == 1 and sep in header[0]), None)
        hint = f" (the header is separated by {other!r}; columns here are separated by commas)" if other else ""
        raise DataError(
            f"no label column {label_column!r}; available columns: {', '.join(header)}{hint}", path=path, row=1
        )
    label_index = header.index(label_column)
    feature_index = [i for i in range(len(header)) if i != label_index]
    if not feature_index:
        raise DataError(f"no feature columns besides the label {label_column!r}", path=path, row=1)

    features: list[list[float]] = []
    labels: list[tuple[int, str]] = []
    for row_number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            missing = len(cells)
            raise DataError(
                f"has {len(cells)} values, the header has {len(header)} columns",
                path=path, row=row_number, column=header[missing], column_index=missing,
            )
        if len(cells) > len(header):
            raise DataError(
                f"has {len(cells)} values, the header has {len(header)} columns", path=path, row=row_number
            )
        features.append(
            [_parse_number(cells[i].strip(), path=path, row=row_number, column=header[i], index=i)
             for i in feature_index]
        )
        label = cells[label_index].strip()
        if label == "":
            raise DataError("empty label", path=path, row=row_number, column=label_column, column_index=label_index)
        labels.append((row_number, label))
    if not features:
        raise DataError("no data rows after the header", path=path)
    y, n_classes, class_labels = _labels(labels, path=path, column=label_column, index=label_index)
    return Dataset(
        x=np.array(features, dtype=np.float64),
        y=y,
        n_classes=n_classes,
        name=path.stem,
        feature_names=tuple(header[i] for i in feature_index),
        class_labels=class_labels,
        source=path,
    )


def _labels(
    labels: list[tuple[int, str]], *, path: Path, column: str, index: int
) -> tuple[np.ndarray, int, tuple[str, ...]]:
    """Class indices (numeric or text classes) or float targets; mixed or single-class labels are errors.

    Whole numbers are read as ints, so labels beyond float precision (1e20 and 1e20 + 1) stay apart.
    """
    numbers = [_label_number(text) for _, text in labels]
    numeric_rows = [row for (row, _), v in zip(labels, numbers) if v is not None]
    text_rows = [(row, text) for (row, text), v in zip(labels, numbers) if v is None]
    if numeric_rows and text_rows:
        row, text = text_rows[0]
        raise DataError(
            f"label {quoted(text)} is text but row {numeric_rows[0]} has a number; labels must be all numbers or "
            f"all text",
            path=path, row=row, column=column, column_index=index,
        )
    if text_rows:
        names = sorted({text for _, text in labels})
        lookup = {name: k for k, name in enumerate(names)}
        y = np.array([lookup[text] for _, text in labels], dtype=np.int64)
        return _check_classes(y, tuple(names), path=path, column=column, index=index)
    parsed = [v for v in numbers if v is not None]
    if all(isinstance(v, int) or v.is_integer() for v in parsed):
        keys = [int(v) for v in parsed]
        classes = sorted(set(keys))
        class_of = {c: k for k, c in enumerate(classes)}
        y = np.array([class_of[c] for c in keys], dtype=np.int64)
        return _check_classes(y, tuple(str(c) for c in classes), path=path, column=column, index=index)
    values = np.array([_as_float(v) for v in parsed], dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, text = labels[int(np.argmax(bad))]
        raise DataError(f"label {quoted(text)} is not finite", path=path, row=row, column=column, column_index=index)
    if np.all(values == values[0]):
        raise DataError("regression target is constant", path=path, column=column, column_index=index)
    return values, 0, ()


def _as_float(value: int | float) -> float:
    """A regression target as a float; an int beyond float range as infinity (refused as not finite)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _label_number(text: str) -> int | float | None:
    """An int when `text` is a whole number, else a float, else None (text)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _check_classes(
    y: np.ndarray, names: tuple[str, ...], *, path: Path, column: str, index: int
) -> tuple[np.ndarray, int, tuple[str, ...]]:
    if len(names) < 2:
        raise DataError(
            f"only one class ({names[0]!r}) in the label column; classification needs at least 2",
            path=path, column=column, column_index=index,
        )
    return y, len(names), names


# ----- split and scaling -----


def train_val_split(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Hold out `fraction` for validation; stratified for classification.

    Every class with at least 2 samples appears in both splits. Same seed, same split.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"validation fraction: must be in (0, 1), got {fraction}")
    groups = [np.flatnonzero(ds.y == k) for k in range(ds.n_classes)] if ds.n_classes else [np.arange(len(ds))]
    if all(len(members) < 2 for members in groups):
        raise _too_few_to_split(ds, groups, fraction)
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for members in groups:
        members = rng.permutation(members)
        n_val = min(max(round(fraction * len(members)), 1), len(members) - 1) if len(members) >= 2 else 0
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    train_index = rng.permutation(np.concatenate(train_parts))
    val_index = rng.permutation(np.concatenate(val_parts))
    return ds.subset(train_index), ds.subset(val_index)


def _too_few_to_split(ds: Dataset, groups: list[np.ndarray], fraction: float) -> DataError:
    """Name the file, the row count per class and the rule, instead of an empty split failing later."""
    rows = "data row" if len(ds) == 1 else "data rows"
    if ds.n_classes:
        counts = ", ".join(f"class {ds.class_labels[k] if k < len(ds.class_labels) else k!r}: {len(m)}"
                           for k, m in enumerate(groups))
        detail = (f"{len(ds)} {rows} ({counts}) are too few for validation_split {fraction:g}: a class needs "
                  f"at least 2 rows so that both the training and the validation split get one")
    else:
        detail = f"{len(ds)} {rows} are too few for validation_split {fraction:g}: the split needs at least 2"
    if ds.source is None:
        return DataError(f"{ds.name}: {detail}")
    return DataError(detail, path=ds.source)


@dataclass
class Scaler:
    """Per-feature min-max map to [0, 1], fitted on training data only.

    `transform` clips values outside the fitted range and counts them in `last_clipped` and
    `total_clipped`, so callers can report it. A feature constant in training maps to 0.5.
    """

    minimum: np.ndarray
    maximum: np.ndarray
    last_clipped: int = 0
    total_clipped: int = 0

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise DataError(f"scaler: fit needs a non-empty (N, D) array, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise DataError("scaler: fit data contains NaN or infinite values")
        return cls(minimum=x.min(axis=0), maximum=x.max(axis=0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.minimum.shape[0]:
            raise DataError(f"scaler: expected (N, {self.minimum.shape[0]}) features, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise DataError("scaler: data contains NaN or infinite values")
        with np.errstate(over="ignore"):  # a value far outside the fitted range overflows to inf: clipped below
            # a range wider than the largest float (-1e308 to 1e308) is scaled in halves, which cannot overflow
            half = np.where(np.isfinite(self.maximum - self.minimum), 1.0, 0.5)
            low, span = half * self.minimum, half * self.maximum - half * self.minimum
            constant = span == 0
            scaled = (half * x - low) / np.where(constant, 1.0, span)
        scaled = np.where(constant, np.where(scaled == 0, 0.5, np.sign(scaled) * 2.0), scaled)
        outside = (scaled < 0.0) | (scaled > 1.0)
        self.last_clipped = int(outside.sum())
        self.total_clipped += self.last_clipped
        return np.clip(scaled, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "minimum": self.minimum.tolist(),
            "maximum": self.maximum.tolist(),
            "total_clipped": self.total_clipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        try:
            minimum = np.array(data["minimum"], dtype=np.float64)
            maximum = np.array(data["maximum"], dtype=np.float64)
            total = int(data.get("total_clipped", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"scaler: bad checkpoint data: {exc!r}") from None
        if minimum.ndim != 1 or minimum.shape != maximum.shape or np.any(maximum < minimum):
            raise DataError("scaler: checkpoint minimum/maximum must be equal-length lists with minimum <= maximum")
        return cls(minimum=minimum, maximum=maximum, total_clipped=total)


def load_dataset(config: TrainingConfig) -> Dataset:
    """The data set a config names: a CSV (dataset_path, label_column) or a seeded synthetic one."""
    if config.dataset == "csv":
        assert config.dataset_path is not None, "TrainingConfig requires dataset_path for csv"
        return load_csv(config.dataset_path, config.label_column)
    return make_dataset(
        config.dataset,
        config.n_samples,
        config.seed,
        noise=config.data_noise,
        n_features=config.n_features,
        n_blobs=config.n_blobs,
    )
