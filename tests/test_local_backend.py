"""The local simulator backend: exact and shot results, seeded, in input order."""

import numpy as np
import pytest

from engine.backends import Backend, LocalSimulatorBackend
from engine.circuits import CircuitBatch
from engine.sim import probabilities
from helpers import model_template


def _batch(rows=5):
    t = model_template(4, 2)
    rng = np.random.default_rng(0)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.random((rows, 4)))


async def test_exact_results_equal_the_simulator_in_input_order():
    b = _batch()
    backend = LocalSimulatorBackend()
    assert isinstance(backend, Backend)
    r = await backend.run(b)
    assert r.counts is None and r.shots == 0
    assert np.array_equal(r.probabilities, probabilities(b.template, b.angles()))
    assert r.timings["execute"] > 0


async def test_shots_are_seeded_and_sum_to_shots():
    b = _batch()
    backend = LocalSimulatorBackend()
    r1 = await backend.run(b, shots=1000, seed=9)
    r2 = await backend.run(b, shots=1000, seed=9)
    assert np.array_equal(r1.counts, r2.counts)
    assert r1.counts.sum(axis=1).tolist() == [1000] * 5
    assert np.allclose(r1.probabilities, r1.counts / 1000)
    z = r1.expectations_z()
    assert z.shape == (5, 4) and np.all(np.abs(z) <= 1)


async def test_too_many_qubits_is_refused_with_a_clear_error():
    backend = LocalSimulatorBackend(max_qubits=3)
    with pytest.raises(ValueError, match="4 qubits exceeds the local simulator's 3"):
        await backend.run(_batch())


async def test_ideal_shots_are_sampled_as_the_probabilities_would_be_and_noisy_ones_after_the_noise():
    from engine.sim import sample_frequencies
    from engine.sim.noise import noise_model

    b = _batch(rows=9)
    want = sample_frequencies(probabilities(b.template, b.angles()), 500, np.random.default_rng(4))
    for r in (await LocalSimulatorBackend().run(b, shots=500, seed=4),
              LocalSimulatorBackend().run_sync(b, shots=500, seed=4)):
        assert np.array_equal(r.counts, want[1]) and np.array_equal(r.probabilities, want[0])
    noisy = LocalSimulatorBackend(noise=noise_model("aria-1"))
    r = await noisy.run(b, shots=500, seed=4)
    assert r.counts.sum(axis=1).tolist() == [500] * 9 and not np.array_equal(r.counts, want[1])
    assert np.array_equal(r.probabilities, r.counts / 500.0)
