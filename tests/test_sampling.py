"""engine.sim.measure.sample_counts: exact multinomial draws (alias method), seeded, checked by chi-square."""

import numpy as np
import pytest
from scipy import stats

from engine.sim import probabilities, sample_counts
from helpers import model_template


def _chi_square_p(counts: np.ndarray, p: np.ndarray) -> float:
    """Pearson's test of one row's counts against p, outcomes expected < 5 times lumped together."""
    shots = counts.sum()
    expected = p * shots
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    if (~keep).any() and expected[~keep].sum() > 0:
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def test_samples_follow_the_circuit_distribution_by_chi_square():
    t = model_template(5, 2)
    rng = np.random.default_rng(0)
    p = probabilities(t, t.bind_angles(rng.normal(size=(40, t.n_trainable)), rng.random((40, 5))))
    counts = sample_counts(p, 5000, np.random.default_rng(1))
    p_values = [_chi_square_p(counts[r], p[r]) for r in range(40)]
    # each row's p-value is uniform under the null: none tiny, and together uniform (Kolmogorov-Smirnov)
    assert min(p_values) > 1e-4
    assert stats.kstest(p_values, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("n_outcomes", [2, 16, 1024])
def test_skewed_distributions_and_every_size_pass_chi_square(n_outcomes):
    p = np.random.default_rng(n_outcomes).dirichlet(np.full(n_outcomes, 0.3), size=3)
    counts = sample_counts(p, 200_000, np.random.default_rng(2))
    assert all(_chi_square_p(counts[r], p[r]) > 1e-4 for r in range(3))


def test_zero_probability_outcomes_are_never_drawn_and_rows_sum_to_shots():
    p = np.zeros((2, 8))
    p[0, [1, 6]] = [0.25, 0.75]
    p[1, 7] = 1.0
    counts = sample_counts(p, 10_001, np.random.default_rng(3))
    assert counts.sum(axis=1).tolist() == [10_001, 10_001]
    assert set(np.flatnonzero(counts[0])) == {1, 6} and counts[1, 7] == 10_001
    one = sample_counts(np.ones((1, 1)), 7, np.random.default_rng(0))
    assert one.tolist() == [[7]]


def test_sampling_is_seeded_and_rows_are_normalized():
    p = np.array([[1.0, 3.0, -1e-17, 4.0]])  # unnormalized, with round-off below zero
    a = sample_counts(p, 1000, np.random.default_rng(7))
    assert np.array_equal(a, sample_counts(p, 1000, np.random.default_rng(7)))
    assert not np.array_equal(a, sample_counts(p, 1000, np.random.default_rng(8)))
    assert a[0, 2] == 0


def test_bad_rows_are_refused_by_index():
    p = np.full((3, 4), 0.25)
    p[2] = [0.5, np.nan, 0.25, 0.25]
    with pytest.raises(ValueError, match="probabilities row 2 is not finite"):
        sample_counts(p, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="probabilities row 0"):
        sample_counts(np.zeros((1, 4)), 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shots must be at least 1"):
        sample_counts(p[:1], 0, np.random.default_rng(0))


def test_crowded_tiny_and_zero_probabilities_pass_chi_square_through_the_exact_path():
    # 64 outcomes, the first 40 crowded into 1% of the mass, every other one zero: many share one
    # guide bucket, so most of their shots are decided by the 63-bit scan rather than the fast path
    p = np.zeros((2, 64))
    p[:, 0:40:2] = 0.01 / 20
    p[:, 40:] = 0.99 / 24
    p[1, 50] = 1e-300  # positive but far below any shot's resolution
    counts = sample_counts(p, 400_000, np.random.default_rng(4))
    assert counts.sum(axis=1).tolist() == [400_000, 400_000]
    assert not counts[:, 1:40:2].any()
    crowded = counts[:, :40]
    assert all(_chi_square_p(crowded[r], p[r, :40] / p[r, :40].sum()) > 1e-4 for r in range(2))
    assert all(_chi_square_p(counts[r], p[r]) > 1e-4 for r in range(2))
