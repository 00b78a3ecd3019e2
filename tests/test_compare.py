"""Comparison maths on fixed data: TensorBoard's EMA, curves on step and epoch axes, groups, config diffs."""

import math

import pytest

from engine.runs import run_record
from engine.runs.compare import (
    Curve, compare_runs, differing_fields, ema_smooth, group_curve, group_runs, run_curves,
)
from runs_fixtures import fake_run


def test_ema_matches_tensorboards_debiased_formula_by_hand():
    # w = 0.5: last = 0.5*last + 0.5*y; smoothed = last / (1 - 0.5**n)
    # y=1: last=0.5,   /0.5   = 1
    # y=3: last=1.75,  /0.75  = 2.3333...
    # y=2: last=1.875, /0.875 = 2.142857...
    assert ema_smooth([1.0, 3.0, 2.0], 0.5) == pytest.approx([1.0, 7 / 3, 1.875 / 0.875], abs=1e-15)


def test_ema_weight_zero_is_the_raw_series_and_weight_one_is_flat_at_zero():
    ys = [0.3, 0.1, 0.7]
    assert ema_smooth(ys, 0.0) == ys
    assert ema_smooth(ys, 1.0) == [0.0, 0.0, 0.0]  # TensorBoard: no debiasing at w == 1, last stays 0


def test_ema_keeps_constant_series_and_passes_non_finite_values_through():
    assert ema_smooth([2.0, 2.0, 2.0], 0.9) == [2.0, 2.0, 2.0]
    out = ema_smooth([1.0, math.nan, 3.0], 0.5)
    # the NaN does not count: the 3.0 is the second accumulated value
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx((0.5 * 0.5 + 0.5 * 3.0) / 0.75)
    assert ema_smooth([1.0, 3.0], 7.0) == ema_smooth([1.0, 3.0], 1.0)  # clamped
    assert ema_smooth([1.0, 3.0], math.nan) == [1.0, 3.0]  # non-finite weight counts as 0


def test_ema_against_a_reference_loop_on_longer_data():
    ys = [math.sin(i) + 0.1 * i for i in range(50)]
    w, last, ref = 0.6, 0.0, []
    for n, y in enumerate(ys, start=1):
        last = last * w + (1 - w) * y
        ref.append(last / (1 - w ** n))
    assert ema_smooth(ys, w) == pytest.approx(ref, rel=1e-14)


def test_curves_on_step_and_epoch_axes(tmp_path):
    run = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    step = run_curves(run, ("loss", "val_accuracy"))
    assert step["loss"].x == (1.0, 2.0, 3.0, 4.0) and step["loss"].y == (1.0, 0.8, 0.6, 0.5)
    assert step["val_accuracy"].x == (2.0, 4.0) and step["val_accuracy"].y == (0.6, 0.7)
    epoch = run_curves(run, ("loss", "val_accuracy"), axis="epoch")
    assert epoch["loss"].x == (0.5, 1.0, 1.5, 2.0) and epoch["val_accuracy"].x == (1.0, 2.0)


def test_epoch_axis_divides_by_the_steps_of_an_epoch_not_by_its_reported_rows(tmp_path):
    # 8 steps a epoch, reported every 4th step (log_interval): an epoch has 2 or 3 rows, not 8
    run = fake_run(tmp_path, "a", losses=[1.0 - 0.05 * i for i in range(16)], steps_per_epoch=8, report_every=4,
                   val_accuracy=[0.6, 0.7])
    epoch = run_curves(run, ("loss", "val_accuracy"), axis="epoch")
    assert epoch["loss"].x == (1 / 8, 5 / 8, 9 / 8, 13 / 8, 2.0)  # steps 0, 4, 8, 12 and the last, 15
    assert epoch["val_accuracy"].x == (1.0, 2.0)


def test_group_mean_minmax_and_std_band_on_fixed_curves():
    a = Curve("a", "loss", "step", (1.0, 2.0, 3.0), (1.0, 2.0, 3.0))
    b = Curve("b", "loss", "step", (1.0, 2.0), (3.0, 6.0))
    g = group_curve([a, b], field_name="learning_rate", value="0.1")
    assert g.x == (1.0, 2.0, 3.0) and g.n == (2, 2, 1)
    assert g.mean == (2.0, 4.0, 3.0) and g.lo == (1.0, 2.0, 3.0) and g.hi == (3.0, 6.0, 3.0)
    s = group_curve([a, b], band="std")
    assert s.std == (1.0, 2.0, 0.0) and s.lo == (1.0, 2.0, 3.0) and s.hi == (3.0, 6.0, 3.0)
    with pytest.raises(ValueError, match="band 'iqr'"):
        group_curve([a], band="iqr")


def test_groups_by_a_config_field_and_the_fields_that_differ(tmp_path):
    dirs = [fake_run(tmp_path, f"r{i}", losses=[1.0, 0.5 + i / 10], val_accuracy=[0.5 + i / 10], learning_rate=lr,
                     seed=seed)
            for i, (lr, seed) in enumerate([(0.1, 0), (0.1, 1), (0.01, 0)])]
    groups = group_runs([run_record(d) for d in dirs], "learning_rate")
    assert {k: [r.run_id for r in v] for k, v in groups.items()} == {"0.1": ["r0", "r1"], "0.01": ["r2"]}
    with pytest.raises(ValueError, match="'lr'"):
        group_runs([], "lr")
    diffs = differing_fields({r.run_id: r.config for r in map(run_record, dirs)})
    assert [d.field for d in diffs] == ["learning_rate", "seed"]
    assert diffs[1].values == {"r0": "0", "r1": "1", "r2": "0"}

    cmp = compare_runs(dirs, group_by="learning_rate", smoothing=0.0)
    loss_groups = cmp.groups["loss"]
    assert [g.value for g in loss_groups] == ["0.1", "0.01"]
    assert loss_groups[0].mean == pytest.approx((1.0, 0.55)) and loss_groups[0].run_ids == ("r0", "r1")
    assert [c.run_id for c in cmp.curves["val_accuracy"]] == ["r0", "r1", "r2"]
    with pytest.raises(ValueError, match="given twice"):
        compare_runs([dirs[0], dirs[0]])
    other = fake_run(tmp_path / "elsewhere", "r0", losses=[1.0, 0.5])  # another run, the same folder name
    with pytest.raises(ValueError, match=r"two runs are named 'r0' \(.*/r0 and .*elsewhere/r0\)"):
        compare_runs([dirs[0], other])


def test_differing_fields_never_show_secrets(tmp_path, monkeypatch):
    a = fake_run(tmp_path, "a", losses=[1.0, 0.9])
    monkeypatch.setenv("IONQ_API_KEY", "sk-secret-123456")
    b = fake_run(tmp_path, "b", losses=[1.0, 0.9], backend="emulator", shots_per_circuit=100)
    diffs = differing_fields({"a": run_record(a).config, "b": run_record(b).config})
    assert "quantum_api_key" not in [d.field for d in diffs]
    assert "sk-secret" not in repr(diffs)


def test_comparing_again_rereads_only_the_runs_that_changed(tmp_path, monkeypatch):
    """The Compare screen recomputes on every key (smoothing, grouping): two 40,000-step runs were re-read ~3 s
    each time."""
    import engine.runs.compare as compare

    a = fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.4], val_accuracy=[0.5, 0.7])
    b = fake_run(tmp_path, "b", losses=[1.0, 0.9, 0.7, 0.5], val_accuracy=[0.6, 0.6])
    read: list[str] = []
    real = compare.run_curves
    monkeypatch.setattr(compare, "run_curves", lambda d, *a, **k: (read.append(d.name), real(d, *a, **k))[1])
    first = compare_runs([a, b], smoothing=0.0)
    again = compare_runs([a, b], smoothing=0.6)
    assert read.count("a") == 1 and read.count("b") == 1  # the second comparison re-read neither
    assert again.curves["loss"][0].y != first.curves["loss"][0].y  # but did smooth anew
    with open(b / "events.jsonl", "ab") as f:
        f.write(b"\n")
    compare_runs([a, b], smoothing=0.6)
    assert read.count("a") == 1 and read.count("b") == 2


def test_groups_of_huge_values_have_a_finite_std_never_an_overflow_error():
    a = Curve("a", "loss", "step", (1.0, 2.0), (1e200, 1.7e308))
    b = Curve("b", "loss", "step", (1.0, 2.0), (-1e200, -1.7e308))
    g = group_curve([a, b], band="std")  # (y - m) ** 2 raised OverflowError
    assert g.mean == (0.0, 0.0) and g.std[0] == pytest.approx(1e200) and g.std[1] == pytest.approx(1.7e308)
    big = group_curve([Curve("a", "loss", "step", (1.0,), (1.7e308,)), Curve("b", "loss", "step", (1.0,), (1.7e308,)),
                       Curve("c", "loss", "step", (1.0,), (-1.7e308,))])
    assert math.isfinite(big.mean[0]) and big.std[0] == pytest.approx(1.6027e308, rel=1e-3)
