"""Comparison maths: curves on one axis, TensorBoard's EMA smoothing, groups with mean and band, config diffs.

Everything here is pure data in, data out: the Compare view, `qstore-tui compare` and the plots draw what
these functions return and compute nothing of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

from ..config import TrainingConfig, format_field
from ..quoting import quoted
from .index import RunRecord, cached_record, signature
from .metrics import MetricRow, run_metrics_and_epoch_length

Axis = Literal["step", "epoch"]
Band = Literal["minmax", "std"]
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm")
_SECRET_FIELDS = ("quantum_api_key", "pinecone_api_key")


@dataclass(frozen=True)
class Curve:
    """One metric of one run: x on the chosen axis (steps done, or epochs done) and y, same length."""

    run_id: str
    metric: str
    axis: Axis
    x: tuple[float, ...]
    y: tuple[float, ...]


def ema_smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's scalar smoothing (classicSmoothing): a debiased exponential moving average.

    last = last * w + (1 - w) * y;  smoothed = last / (1 - w ** n), n the finite values seen so far.
    As in TensorBoard: w is clamped to [0, 1] (a non-finite w counts as 0), a constant series is returned
    unchanged, a non-finite y passes through without entering the average, and w == 1 skips the debiasing.
    """
    w = weight if math.isfinite(weight) else 0.0
    w = max(0.0, min(w, 1.0))
    ys = list(values)
    if not ys or all(v == ys[0] for v in ys):
        return ys
    last, n, out = 0.0, 0, []
    for y in ys:
        if not math.isfinite(y):
            out.append(y)
            continue
        last = last * w + (1 - w) * y
        n += 1
        debias = 1.0 if w == 1 else 1 - w ** n
        out.append(last / debias)
    return out


def smooth(curve: Curve, weight: float) -> Curve:
    return Curve(curve.run_id, curve.metric, curve.axis, curve.x, tuple(ema_smooth(curve.y, weight)))


def curves_from_rows(run_id: str, rows: Sequence[MetricRow], metric: str, *, axis: Axis = "step",
                     steps_per_epoch: float | None = None) -> Curve:
    """A metric as a curve. Step axis: x = steps done (step + 1). Epoch axis: x = epochs done, fractional
    for per-step metrics (steps done / steps per epoch), whole for the validation metrics."""
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
    if axis not in ("step", "epoch"):
        raise ValueError(f"axis {axis!r}: expected step or epoch")
    xs: list[float] = []
    ys: list[float] = []
    for row in rows:
        value = getattr(row, metric)
        if value is None:
            continue
        if axis == "step":
            x = float(row.step + 1)
        elif metric.startswith("val_") or not steps_per_epoch:
            x = float(row.epoch + 1)
        else:
            x = (row.step + 1) / steps_per_epoch
        xs.append(x)
        ys.append(float(value))
    return Curve(run_id, metric, axis, tuple(xs), tuple(ys))


def run_curves(run_dir: Path, metrics: Iterable[str] = METRICS, *, axis: Axis = "step") -> dict[str, Curve]:
    """Every requested metric of a run directory as a curve (from its events, via the metrics rows)."""
    run_dir = Path(run_dir)
    rows, steps_per_epoch = run_metrics_and_epoch_length(run_dir)  # without it, per-step metrics sit at whole epochs
    spe = float(steps_per_epoch) if steps_per_epoch else None
    return {m: curves_from_rows(run_dir.name, rows, m, axis=axis, steps_per_epoch=spe) for m in metrics}


# ----------------------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupCurve:
    """The runs of one group (same value of the group field) on a common x: mean and a band.

    At each x, only the runs that have a point there count (`n`); `std` is the population standard
    deviation (ddof=0) of those points; `lo`/`hi` are min/max or mean -/+ std, by `band`.
    """

    field: str
    value: str
    run_ids: tuple[str, ...]
    metric: str
    band: Band
    x: tuple[float, ...]
    mean: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    std: tuple[float, ...]
    n: tuple[int, ...]


def group_curve(curves: Sequence[Curve], *, field_name: str = "", value: str = "", band: Band = "minmax") -> GroupCurve:
    """Mean and band over curves of one metric on one axis, at the union of their x values."""
    if band not in ("minmax", "std"):
        raise ValueError(f"band {band!r}: expected minmax or std")
    if not curves:
        raise ValueError("a group needs at least one curve")
    metric, axis = curves[0].metric, curves[0].axis
    if any(c.metric != metric or c.axis != axis for c in curves):
        raise ValueError("curves of one group must share the metric and the axis")
    points: dict[float, list[float]] = {}
    for c in curves:
        for x, y in zip(c.x, c.y):
            if math.isfinite(y):
                points.setdefault(x, []).append(y)
    xs = sorted(points)
    mean, lo, hi, std, n = [], [], [], [], []
    for x in xs:
        ys = points[x]
        m, s = _mean_std(ys)
        mean.append(m)
        std.append(s)
        n.append(len(ys))
        if band == "minmax":
            lo.append(min(ys))
            hi.append(max(ys))
        else:
            lo.append(m - s)
            hi.append(m + s)
    return GroupCurve(field_name, value, tuple(c.run_id for c in curves), metric, band, tuple(xs), tuple(mean),
                      tuple(lo), tuple(hi), tuple(std), tuple(n))


def _mean_std(ys: Sequence[float]) -> tuple[float, float]:
    """Mean and population std of finite values, never overflowing: a diverging run's 1e200 losses squared are
    past float range (Python's ** raised OverflowError), so such values are scaled by the largest first (the std
    is at most that largest value, so it is always finite)."""
    n = len(ys)
    m = sum(ys) / n
    if not math.isfinite(m):  # the sum overflowed: each term at most max|y| / n cannot
        m = sum(y / n for y in ys)
    top = max(abs(y) for y in ys)
    if top < 1e150:
        return m, math.sqrt(sum((y - m) ** 2 for y in ys) / n)
    zs = [y / top for y in ys]
    mz = sum(zs) / n
    return m, top * math.sqrt(sum((z - mz) ** 2 for z in zs) / n)


def config_value(config: TrainingConfig | None, name: str) -> str:
    """A config field as text (the same rendering the Config screen uses); "?" without a config."""
    if config is None:
        return "?"
    if name not in TrainingConfig.model_fields:
        raise ValueError(f"field {quoted(name)}: not a TrainingConfig field")
    return format_field(config, name)


def group_runs(records: Sequence[RunRecord], field_name: str) -> dict[str, list[RunRecord]]:
    """Runs by the value of one config field, in first-seen order (e.g. every seed of one learning rate)."""
    if field_name not in TrainingConfig.model_fields:
        raise ValueError(f"--group-by {quoted(field_name)}: not a TrainingConfig field")
    if field_name in _SECRET_FIELDS:
        raise ValueError(f"--group-by {field_name!r}: a secret cannot be a group")
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(config_value(r.config, field_name), []).append(r)
    return groups


# ---------------------------------------------------------------------------------- differences


@dataclass(frozen=True)
class FieldDiff:
    field: str
    values: dict[str, str]  # run id -> value as text


def differing_fields(configs: Mapping[str, TrainingConfig | None]) -> list[FieldDiff]:
    """The config fields whose values are not all equal across the runs, in TrainingConfig's order.

    Secrets are never compared or shown; `runs_dir` and `checkpoint_directory` are where, not what, and
    are left out."""
    skip = set(_SECRET_FIELDS) | {"runs_dir", "checkpoint_directory"}
    diffs = []
    for name in TrainingConfig.model_fields:
        if name in skip:
            continue
        values = {run_id: config_value(cfg, name) for run_id, cfg in configs.items()}
        if len(set(values.values())) > 1:
            diffs.append(FieldDiff(name, values))
    return diffs


# ---------------------------------------------------------------------------------- comparison


@dataclass
class Comparison:
    """What `qstore-tui compare` prints and the Compare view draws."""

    records: list[RunRecord]
    axis: Axis
    smoothing: float
    curves: dict[str, list[Curve]]  # metric -> one (smoothed) curve per run, in the records' order
    diffs: list[FieldDiff]
    group_by: str | None = None
    groups: dict[str, list[GroupCurve]] = field(default_factory=dict)  # metric -> one per group value


@lru_cache(maxsize=16)  # a 40,000-step run's two curves are ~5 MB as tuples of floats
def _kept_curves(run_dir: Path, stamp: tuple[object, ...], metrics: tuple[str, ...], axis: Axis) -> dict[str, Curve]:
    """run_curves while the run's files are unchanged (`stamp`): the Compare screen asks again for every key (a
    smoothing step, the axis, a grouping), and re-reading two 40,000-step runs took ~3 s each time."""
    return run_curves(run_dir, metrics, axis=axis)


def compare_runs(run_dirs: Sequence[Path], *, axis: Axis = "step", smoothing: float = 0.0,
                 group_by: str | None = None, band: Band = "minmax",
                 metrics: Sequence[str] = ("loss", "val_accuracy")) -> Comparison:
    """Read the runs, align their curves on `axis`, smooth them (TensorBoard EMA, 0 = raw), diff configs,
    and with `group_by` add each group's mean and band (computed on the smoothed curves)."""
    if not run_dirs:
        raise ValueError("compare needs at least one run")
    records = [cached_record(Path(d)) for d in run_dirs]
    seen: dict[str, Path] = {}
    for r in records:
        if r.run_id in seen:  # curves, diffs and the json are keyed by the run's name
            if seen[r.run_id].resolve() == r.path.resolve():
                raise ValueError(f"run {r.run_id!r} is given twice")
            raise ValueError(f"two runs are named {r.run_id!r} ({seen[r.run_id]} and {r.path}): compare runs with "
                             "different names (copy or rename one)")
        seen[r.run_id] = r.path
    per_run = [_kept_curves(Path(d), signature(Path(d)), tuple(metrics), axis) for d in run_dirs]
    curves = {m: [smooth(c[m], smoothing) for c in per_run] for m in metrics}
    diffs = differing_fields({r.run_id: r.config for r in records})
    groups: dict[str, list[GroupCurve]] = {}
    if group_by is not None:
        by_value = group_runs(records, group_by)
        index = {r.run_id: i for i, r in enumerate(records)}
        for m in metrics:
            groups[m] = [group_curve([curves[m][index[r.run_id]] for r in members], field_name=group_by,
                                     value=value, band=band)
                         for value, members in by_value.items()]
    return Comparison(records, axis, smoothing, curves, diffs, group_by, groups)
