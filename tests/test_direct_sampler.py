"""engine.sim.direct_kernels: the slot table that samples rows of up to 256 outcomes, checked entry by entry
against the weights it must hold, its residual placing against numpy's searchsorted, and its shots by chi-square
where the blocks, the tail and the residual region meet."""

import numpy as np
import pytest
from scipy import stats

from engine.sim.direct_kernels import SLOTS, UNIT_BITS, _place, direct_table, sample_rows, table_scratch
from engine.sim.measure import sample_counts, shot_states
from helpers import kernel_row_total

TWO62 = 2**62
CROWDED = np.r_[np.full(200, 1e-6), np.full(56, (1 - 200e-6) / 56)]  # 200 remainders packed into a few slots
ROUNDED_DOWN = np.full(256, np.nextafter(1 / 256, 0))  # a hair under 16 slots each: nudged over, no remainders
NEAR_FULL = np.r_[np.full(255, (1 - 1e-6) / 256), 1 - 255 * (1 - 1e-6) / 256]  # 255 remainders of almost a slot


def _expected_weights(p: np.ndarray) -> list[int]:
    """The weights the table must hold, by the kernel's float operations in its order."""
    scale = 2.0**62 * (1.0 + 2.0**-40)
    weights = [int(max(float(v) * scale, 0.0)) for v in p]
    if abs(sum(weights) - TWO62) > 2**23 or max(p) > 1.0001:
        total = kernel_row_total(p)
        weights = [int(max(float(v) / total * scale, 0.0)) for v in p]
    excess = sum(weights) - TWO62
    if excess > 0:
        first = next(i for i, w in enumerate(weights) if w >= excess)
        weights[first] -= excess
    return weights


def _rows():
    rng = np.random.default_rng(21)
    rows = [rng.dirichlet(np.full(size, alpha)) for size in (2, 4, 64, 256) for alpha in (0.01, 0.3, 1.0, 50.0)]
    spiky = np.zeros(256)
    spiky[[0, 17, 255]] = [1e-300, 0.5, 0.5]
    return rows + [np.full(256, 1 / 256), np.eye(16)[9], spiky, CROWDED, ROUNDED_DOWN, NEAR_FULL,
                   np.array([1.0, 3.0, -1e-17, 4.0]), np.array([1e-300, 3e-300, 0.0, 4e-300])]


def _table(p: np.ndarray):
    w, ends, guide, slots = table_scratch(p.size)
    n1 = int(direct_table(np.ascontiguousarray(p, dtype=np.float64), w, ends, guide, slots))
    return n1, w, ends, guide, slots


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r.size}")
def test_the_slot_table_holds_each_rows_weights_exactly(row):
    n1, w, ends, guide, slots = _table(row)
    k = row.size
    weights = _expected_weights(row)
    assert w.tolist() == weights and sum(weights) <= TWO62
    whole = [x >> UNIT_BITS for x in weights]
    rest = [x & ((1 << UNIT_BITS) - 1) for x in weights]
    assert n1 == sum(whole) <= SLOTS
    starts = np.cumsum([0] + whole)
    for i in range(k):  # outcome i owns exactly its whole slots, in order
        assert (slots[starts[i]:starts[i + 1]] == i).all(), f"outcome {i}"
    assert (slots[n1:SLOTS] == 0).all()  # the residual region reads as outcome 0, which the shot loop takes back
    assert ends[:k].tolist() == np.cumsum(rest, dtype=object).tolist()
    assert (ends[k:k + 4] == np.iinfo(np.uint64).max).all()
    assert (SLOTS - n1) * 2**UNIT_BITS >= int(ends[k - 1])  # the remainders fit in the slots left
    ends = [int(v) >> UNIT_BITS for v in ends[:k]]
    for s in range(SLOTS - n1 + 1):  # the guide: how many remainders end before residual slot s
        assert guide[s] == sum(e < s for e in ends), f"slot {s}"
    target = np.maximum(row, 0) / kernel_row_total(row)
    assert np.max(np.abs(np.array(weights, dtype=np.float64) / TWO62 - target)) <= 2**-39


def test_a_weight_rounded_a_hair_under_a_slot_boundary_stays_in_its_whole_slots():
    # p = 1/256 - 1 ulp: unnudged, each outcome would own 15 slots and a remainder of almost one, and 1/16 of the
    # shots would take the slow residual path; nudged by 2**-40, the slots are whole but one (the nudge's own
    # excess comes off the first weight), so 1/4,096 of the shots do
    for row in (ROUNDED_DOWN, np.full(256, 1 / 256)):
        assert _table(row)[0] >= SLOTS - 1
    assert _table(NEAR_FULL)[0] == 255 * 15 + 16  # a real shortfall of a slot is a remainder, as it must be


@pytest.mark.parametrize("row", [CROWDED, NEAR_FULL, _rows()[10]], ids=["crowded", "near-full", "dirichlet"])
def test_a_residual_shot_lands_on_the_first_remainder_past_it_or_past_the_total(row):
    n1, w, ends, guide, slots = _table(row)
    k = row.size
    top = int(ends[k - 1])
    rng = np.random.default_rng(3)
    picks = [int(v) for v in rng.integers(0, (SLOTS - n1) << UNIT_BITS, 3000, dtype=np.uint64)]
    picks += [int(v) + d for v in ends[:k] for d in (-1, 0, 1) if 0 <= int(v) + d < (SLOTS - n1) << UNIT_BITS]
    for v in picks:
        j = np.uint64(n1 + (v >> UNIT_BITS))
        y = np.uint64((v & ((1 << UNIT_BITS) - 1)) << (64 - UNIT_BITS))
        got = int(_place(j, np.uint64(n1), y, ends, guide, k))
        want = int(np.searchsorted(ends[:k], np.uint64(v), side="right")) if v < top else k
        assert got == want, f"v = {v}"


def _chi_square_p(counts: np.ndarray, p: np.ndarray) -> float:
    expected = p / p.sum() * counts.sum()
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    if (~keep).any():
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


@pytest.mark.parametrize("shots", [1, 4, 5, 6, 5119, 5120, 5121, 5124, 5125, 15_362])
def test_every_shot_count_around_the_blocks_and_the_tail_is_drawn_and_seeded(shots):
    p = np.array([CROWDED, NEAR_FULL, ROUNDED_DOWN, _rows()[13]])
    a = sample_counts(p, shots, np.random.default_rng(shots))
    assert (a.sum(axis=1) == shots).all() and (a >= 0).all()
    assert np.array_equal(a, sample_counts(p, shots, np.random.default_rng(shots)))


@pytest.mark.parametrize("row", [CROWDED, NEAR_FULL, ROUNDED_DOWN, _rows()[5], _rows()[14]],
                         ids=["crowded", "near-full", "rounded-down", "dirichlet-4", "dirichlet-256"])
def test_shots_through_whole_slots_and_remainders_pass_chi_square(row):
    counts = sample_counts(np.array([row, row]), 300_007, np.random.default_rng(9))
    assert all(_chi_square_p(counts[r], row) > 1e-4 for r in range(2))
    if row is CROWDED:  # the 200 tiny outcomes live in the remainders only (1e-6 is under one slot's 2**-12)
        tiny = counts[:, :200].sum(axis=1)
        assert all(stats.binomtest(int(t), 300_007, 200e-6).pvalue > 1e-4 for t in tiny)


def test_a_row_is_drawn_from_its_own_state_only():
    p = np.random.default_rng(4).dirichlet(np.full(256, 0.5), size=3)
    states = shot_states(np.random.default_rng(5), 3)
    both = np.empty((3, 256), dtype=np.int64)
    assert sample_rows(p.copy(), 1000, states.copy(), both, False) == -1
    alone = np.empty((1, 256), dtype=np.int64)
    assert sample_rows(p[1:2].copy(), 1000, states[1:2].copy(), alone, False) == -1
    assert np.array_equal(both[1], alone[0])


def test_bad_rows_are_named_and_rows_before_them_are_drawn():
    p = np.full((3, 8), 1 / 8)
    p[1, 3] = np.nan
    counts = np.zeros((3, 8), dtype=np.int64)
    assert sample_rows(p, 50, shot_states(np.random.default_rng(0), 3), counts, False) == 1
    assert counts[0].sum() == 50
    for bad in ([0.0] * 8, [np.inf] + [0.0] * 7, [1e308] * 8, [-1.0] + [0.0] * 7):
        assert sample_rows(np.array([bad]), 5, shot_states(np.random.default_rng(0), 1),
                           np.zeros((1, 8), dtype=np.int64), False) == 0, bad
