"""engine.sim.measure.sample_counts and the simulator's fused shots: exact multinomial draws (the direct table up to
256 outcomes, the alias method beyond; test_direct_sampler.py checks the direct table itself), seeded, checked by
chi-square."""

import numpy as np
import pytest
from scipy import stats

from engine.sim import probabilities, sample_counts, sample_frequencies, shot_frequencies, shot_frequencies_async
from engine.sim.alias_kernels import alias_table
from helpers import kernel_row_total, model_template

NEAR_UNIFORM_32 = [float.fromhex(h) for h in (  # the remainder pulls the largest weight below one bucket
    "0x1.0000000000001p-5 0x1.0000000000000p-5 0x1.ffffffffffffcp-6 0x1.ffffffffffffep-6 0x1.ffffffffffffap-6 "
    "0x1.ffffffffffffap-6 0x1.ffffffffffffap-6 0x1.ffffffffffffcp-6 0x1.0000000000002p-5 0x1.0000000000001p-5 "
    "0x1.0000000000003p-5 0x1.0000000000000p-5 0x1.0000000000001p-5 0x1.0000000000003p-5 0x1.0000000000002p-5 "
    "0x1.0000000000001p-5 0x1.0000000000000p-5 0x1.0000000000000p-5 0x1.0000000000003p-5 0x1.ffffffffffffcp-6 "
    "0x1.0000000000002p-5 0x1.0000000000001p-5 0x1.ffffffffffffap-6 0x1.ffffffffffffep-6 0x1.0000000000003p-5 "
    "0x1.0000000000000p-5 0x1.ffffffffffffap-6 0x1.0000000000002p-5 0x1.0000000000002p-5 0x1.0000000000002p-5 "
    "0x1.ffffffffffffcp-6 0x1.ffffffffffffap-6").split()]
EQUAL_4 = [float.fromhex("0x1.2af3f6f582aebp-1")] * 4  # every weight rounds below a bucket; the remainder lifts one


def _table_mass(p: np.ndarray) -> list[int]:
    """Each outcome's mass in the alias table the kernel builds for row p, in units of 2**-63, exactly."""
    size = p.size
    n = size.bit_length() - 1
    scratch = [np.zeros(size + 1, dtype=np.uint64) for _ in range(4)]
    assert alias_table(np.ascontiguousarray(p, dtype=np.float64), n, *scratch)
    cap, mass = 2 ** (63 - n), [0] * size
    for i, entry in enumerate(int(e) for e in scratch[3][:size]):
        own, alias = entry >> (n + 1), entry & (size - 1)
        assert own <= cap and (own < cap or alias == i), f"bucket {i}: threshold {own}, alias {alias}"
        mass[i] += own
        mass[alias] += cap - own
    return mass


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


@pytest.mark.parametrize("width", [512, 4096])
def test_a_row_of_tiny_total_is_normalized_by_the_alias_sampler_too(width):
    # TWO63 / total was inf below ~1e-290: 0 * inf made every zero entry a NaN, then a full weight
    spike = np.zeros((1, width))
    spike[0, 7] = 1e-300
    assert sample_counts(spike, 1000, np.random.default_rng(0))[0, 7] == 1000
    p = np.random.default_rng(1).dirichlet(np.ones(width))[None] * 1e-295
    counts = sample_counts(p, 200_000, np.random.default_rng(2))[0]
    assert stats.chisquare(counts, p[0] / p[0].sum() * 200_000).pvalue > 1e-4


def test_sampling_is_seeded_and_rows_are_normalized():
    p = np.array([[1.0, 3.0, -1e-17, 4.0]])  # unnormalized, with round-off below zero
    a = sample_counts(p, 1000, np.random.default_rng(7))
    assert np.array_equal(a, sample_counts(p, 1000, np.random.default_rng(7)))
    assert not np.array_equal(a, sample_counts(p, 1000, np.random.default_rng(8)))
    assert a[0, 2] == 0


def test_a_huge_shot_count_is_one_multinomial_a_row_fast_seeded_and_of_the_rows_distribution():
    """2**40 shots took ~14 minutes a circuit drawn shot by shot (and Ctrl-C waited for it)."""
    import time

    rng = np.random.default_rng(7)
    p = rng.random((3, 64)) ** 4  # skewed
    p[:, 5] = 0.0
    t0 = time.perf_counter()
    counts = sample_counts(p, 2**40, np.random.default_rng(1))
    assert time.perf_counter() - t0 < 2.0
    assert (counts.sum(axis=1) == 2**40).all() and (counts[:, 5] == 0).all()
    np.testing.assert_array_equal(counts, sample_counts(p, 2**40, np.random.default_rng(1)))
    few = sample_counts(p, 2**23, np.random.default_rng(2))  # past the threshold: chi-square at a testable size
    for r in range(3):
        assert _chi_square_p(few[r], p[r]) > 1e-4
    with pytest.raises(ValueError, match="row 1 is not finite"):
        sample_counts(np.array([[0.5, 0.5], [np.nan, 1.0]]), 2**30, np.random.default_rng(0))


def test_bad_rows_are_refused_by_index():
    p = np.full((3, 4), 0.25)
    p[2] = [0.5, np.nan, 0.25, 0.25]
    with pytest.raises(ValueError, match="probabilities row 2 is not finite"):
        sample_counts(p, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="probabilities row 0"):
        sample_counts(np.zeros((1, 4)), 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shots must be between 1 and"):
        sample_counts(p[:1], 0, np.random.default_rng(0))
    for shots in (2.7, True, "10"):  # 2.7 was truncated to 2, True drew 1 shot, "10" raised a bare TypeError
        with pytest.raises(TypeError, match=f"shots must be a whole number, got {shots!r}"):
            sample_counts(p[:1], shots, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shots must be between 1 and 1,099,511,627,776, got 9223372036854775808"):
        sample_counts(p[:1], 2**63, np.random.default_rng(0))


def test_a_batch_of_no_rows_gives_no_rows():
    # ZeroDivisionError in the chunking, and range()'s "arg 3 must not be zero" in the sampler
    t = model_template(3, 1)
    empty = np.zeros((0, t.n_angles))
    assert probabilities(t, empty).shape == (0, 8)
    assert sample_counts(np.zeros((0, 4)), 10, np.random.default_rng(0)).shape == (0, 4)
    assert [a.shape for a in shot_frequencies(t, empty, 10, np.random.default_rng(0))] == [(0, 8), (0, 8)]
    with pytest.raises(ValueError, match=r"angles must be \(rows, angles\) or one row, got shape \(2, 2, 9\)"):
        probabilities(t, np.zeros((2, 2, t.n_angles)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_row_of_non_finite_angles_is_named_not_simulated_into_nans(bad):
    t = model_template(3, 1)
    angles = np.zeros((3, t.n_angles))
    angles[2, 4] = bad
    for run in (lambda: probabilities(t, angles), lambda: shot_frequencies(t, angles, 10, np.random.default_rng(0))):
        with pytest.raises(ValueError, match=f"angles row 2, angle 4 is {bad}: angles must be finite"):
            run()


def test_crowded_tiny_and_zero_probabilities_pass_chi_square_through_the_exact_path():
    # 64 outcomes, the first 40 crowded into 1% of the mass, every other one zero: their alias buckets
    # are nearly all borrowed mass, so a wrong threshold or alias would show here
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


def _integer_weights(p: np.ndarray) -> list[int]:
    """The weights the kernel should give row p, by the same float operations in the same order:
    four partial sums, floor(p_i 2**63 / total), the remainder to the first largest."""
    scale = 2.0**63 / kernel_row_total(p)
    weights = [int(min(max(float(v), 0.0) * scale, 9.2e18)) for v in p]
    weights[weights.index(max(weights))] += 2**63 - sum(weights)
    return weights


def _rows_for_the_table():
    rng = np.random.default_rng(11)
    rows = [rng.dirichlet(np.full(size, alpha)) for size in (2, 4, 256, 4096) for alpha in (0.01, 0.3, 1.0, 50.0)]
    spiky = np.zeros(256)
    spiky[[0, 17, 255]] = [1e-300, 0.5, 0.5]
    return rows + [np.full(64, 1 / 64), np.eye(16)[9], spiky, np.array(NEAR_UNIFORM_32), np.array(EQUAL_4),
                   np.array([1.0, 3.0, -1e-17, 4.0])]


@pytest.mark.parametrize("row", _rows_for_the_table(), ids=lambda r: f"{r.size}")
def test_the_alias_table_holds_each_rows_distribution_to_float_rounding(row):
    mass = _table_mass(row)
    assert mass == _integer_weights(row)  # the table holds the integer weights exactly; they sum to 2**63
    target = np.maximum(row, 0) / np.maximum(row, 0).sum()
    got = np.array(mass, dtype=np.float64) / 2**63
    assert np.max(np.abs(got - target)) <= 2**-50  # the row's own float rounding, which the largest outcome absorbs
    assert all(m == 0 for m, t in zip(mass, target) if t * 2**63 < 1)  # zero and sub-resolution stay zero


def test_near_uniform_rows_whose_largest_weight_crosses_a_bucket_are_sampled_exactly():
    counts = sample_counts(np.array([NEAR_UNIFORM_32, NEAR_UNIFORM_32]), 64_000, np.random.default_rng(5))
    assert all(_chi_square_p(counts[r], np.full(32, 1 / 32)) > 1e-4 for r in range(2))
    four = sample_counts(np.array([EQUAL_4]), 40_000, np.random.default_rng(6))[0]
    assert _chi_square_p(four, np.full(4, 0.25)) > 1e-4


def test_sample_frequencies_are_the_same_draws_over_shots_and_leave_the_input_alone():
    p = np.random.default_rng(12).dirichlet(np.full(32, 0.5), size=7)
    before = p.copy()
    freqs, counts = sample_frequencies(p, 999, np.random.default_rng(13))
    assert np.array_equal(counts, sample_counts(p, 999, np.random.default_rng(13)))
    assert np.array_equal(freqs, counts / 999.0)  # bit for bit: the kernel divides as numpy does
    assert np.array_equal(p, before)
    freqs, counts = sample_frequencies(np.full((2, 1), 0.5), 3, np.random.default_rng(0))
    assert freqs.tolist() == [[1.0], [1.0]] and counts.tolist() == [[3], [3]]
    mine = before.copy()  # the caller's own array, no longer needed: it becomes the frequencies, not copied
    freqs, counts = sample_frequencies(mine, 999, np.random.default_rng(13), overwrite=True)
    assert freqs is mine and np.array_equal(counts, sample_counts(before, 999, np.random.default_rng(13)))
    assert np.array_equal(mine, counts / 999.0)


@pytest.mark.parametrize("rows, outcomes, shots", [(50, 64, 37), (50, 64, 1), (3, 4, 10_000), (40, 4096, 70_000)])
def test_frequencies_are_counts_over_shots_bit_for_bit_by_table_or_by_division(rows, outcomes, shots):
    """Fewer shots than a call's outcomes read count / shots from a table divided once; otherwise each is divided."""
    p = np.random.default_rng(rows + shots).dirichlet(np.full(outcomes, 0.3), size=rows)
    freqs, counts = sample_frequencies(p, shots, np.random.default_rng(4))
    assert np.array_equal(counts, sample_counts(p, shots, np.random.default_rng(4)))
    assert np.array_equal(freqs, counts / float(shots)) and (counts.sum(axis=1) == shots).all()


FAULTS_PER_BATCH = """
import resource, sys
import numpy as np
sys.path.insert(0, "tests")
from engine.sim import shot_frequencies
from helpers import model_template
t = model_template(8, 2)
a = t.bind_angles(np.random.default_rng(0).normal(size=(200, t.n_trainable)), np.zeros((200, 8)))
rng = np.random.default_rng(1)
for _ in range(3):
    shot_frequencies(t, a, 1000, rng)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    shot_frequencies(t, a, 1000, rng)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def test_repeated_shots_batches_reuse_their_memory_instead_of_faulting_it_back_in():
    """Each shots batch frees its frequencies and counts (400 KB each here); in a fresh process glibc's adaptive
    thresholds gave the pair back to the OS every batch (218 page faults a batch, ~5 us a row) until heap.py
    fixed them. A process of its own: the thresholds adapt to what it freed before."""
    import os
    import subprocess
    import sys

    if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
        pytest.skip("the thresholds are glibc's")
    out = subprocess.run([sys.executable, "-c", FAULTS_PER_BATCH], capture_output=True, text=True, check=True,
                         timeout=120)
    assert float(out.stdout) < 40


def test_a_bad_row_is_named_by_its_index_in_the_batch_when_rows_are_split_across_threads():
    p = np.full((400, 4), 0.25)  # 400 x (200 + 4) draws: above PARALLEL_MIN_DRAWS, so split when cores allow
    p[371, 1] = np.inf
    with pytest.raises(ValueError, match="probabilities row 371 is not finite"):
        sample_counts(p, 200, np.random.default_rng(0))
    with pytest.raises(ValueError, match="probabilities row 371 is not finite"):
        sample_frequencies(p, 200, np.random.default_rng(0))


@pytest.mark.parametrize("n_qubits, rows, chunk_bytes", [(8, 200, 8 * 2**20), (5, 37, 16 * 32 * 4), (1, 3, 8 * 2**20),
                                                         (10, 1, 8 * 2**20)])
async def test_shots_sampled_by_the_simulating_jobs_equal_sampling_the_probabilities_bit_for_bit(n_qubits, rows,
                                                                                                 chunk_bytes):
    t = model_template(n_qubits, 2)
    rng = np.random.default_rng(n_qubits)
    a = t.bind_angles(rng.normal(size=(rows, t.n_trainable)), rng.random((rows, n_qubits)))
    want = sample_frequencies(probabilities(t, a), 1000, np.random.default_rng(21))
    for got in (shot_frequencies(t, a, 1000, np.random.default_rng(21), chunk_bytes),
                await shot_frequencies_async(t, a, 1000, np.random.default_rng(21), chunk_bytes)):
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_fused_shots_refuse_bad_arguments_before_drawing_from_the_generator():
    t = model_template(3, 1)
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match="shots must be between 1 and 1,099,511,627,776, got 0"):
        shot_frequencies(t, np.zeros((2, t.n_angles)), 0, rng)
    with pytest.raises(ValueError, match="angles has 2 columns"):
        shot_frequencies(t, np.zeros((2, 2)), 10, rng)
    assert rng.bit_generator.state == state


def test_a_small_circuits_batch_is_split_between_threads_for_its_shots_not_for_its_probabilities(monkeypatch):
    """4 qubits x 500 rows: 8,000 amplitudes stay in one chunk, but 1,000 shots a row (508,000 draws, over
    PARALLEL_MIN_SHOTS) are worth a chunk per thread; the draws are the same either way."""
    from engine.sim import statevector

    monkeypatch.setenv(statevector.THREADS_ENV, "2")
    statevector._workers.cache_clear()
    try:
        t = model_template(4, 2)
        rng = np.random.default_rng(9)
        a = t.bind_angles(rng.normal(size=(500, t.n_trainable)), rng.random((500, 4)))
        chunk_bytes = statevector.DEFAULT_CHUNK_BYTES
        assert len(statevector._probability_job(t, a, chunk_bytes)[2]) == 1
        sampled = (1000, np.zeros((500, 4), dtype=np.uint64), np.empty((500, 16), dtype=np.int64))
        assert len(statevector._probability_job(t, a, chunk_bytes, sampled)[2]) == 2
        freqs, counts = shot_frequencies(t, a, 1000, np.random.default_rng(3))
        expected_freqs, expected_counts = sample_frequencies(probabilities(t, a), 1000, np.random.default_rng(3))
        assert np.array_equal(counts, expected_counts) and np.array_equal(freqs, expected_freqs)
    finally:
        statevector._workers.cache_clear()
