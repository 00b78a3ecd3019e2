"""Readout-error mitigation: the tensored inverse undoes independent readout flips exactly, the result is
projected back to the closest probability vector, and on the emulator's noisy aria-1 model (over loopback
HTTP) mitigation measurably reduces the error of <Z> against the exact value."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_client import IonQClient
from engine.circuits import CircuitBatch, TemplateBuilder
from engine.mitigation import (
    MitigationError, ReadoutCalibration, ReadoutMitigatedBackend, calibrate, calibration_batch, from_spam_fidelity,
    mitigate, project_to_simplex,
)
from engine.sim import probabilities
from engine.sim.measure import expectations_z


def confuse(exact: np.ndarray, cal: ReadoutCalibration) -> np.ndarray:
    """Apply each qubit's confusion matrix by enumerating outcomes (a direct, slow reference)."""
    n = cal.n_qubits
    out = np.zeros_like(exact)
    for prepared in range(2 ** n):
        for read in range(2 ** n):
            p = 1.0
            for q in range(n):
                a, b = (prepared >> q) & 1, (read >> q) & 1
                e = cal.p01[q] if a == 0 else cal.p10[q]
                p *= e if a != b else 1.0 - e
            out[:, read] += p * exact[:, prepared]
    return out


def test_the_tensored_inverse_undoes_independent_readout_flips():
    cal = ReadoutCalibration((0.02, 0.05, 0.01), (0.03, 0.04, 0.06), "test")
    exact = np.random.default_rng(0).dirichlet(np.ones(8), size=6)
    np.testing.assert_allclose(mitigate(confuse(exact, cal), cal), exact, atol=1e-12)


def test_calibration_circuits_read_each_qubits_two_error_rates():
    cal = ReadoutCalibration((0.02, 0.10), (0.07, 0.01), "test")
    batch = calibration_batch(2)
    measured = confuse(probabilities(batch.template, batch.angles()), cal)
    got = calibrate(measured, shots=1000)
    np.testing.assert_allclose(got.p01, cal.p01, atol=1e-12)
    np.testing.assert_allclose(got.p10, cal.p10, atol=1e-12)
    assert got.source == "calibration circuits (1000 shots each)"


def test_projection_gives_the_closest_probability_vector():
    rows = np.array([[0.5, 0.6, -0.1, 0.0], [0.25, 0.25, 0.25, 0.25], [-0.2, 1.3, -0.05, -0.05]])
    out = project_to_simplex(rows)
    np.testing.assert_allclose(out, [[0.45, 0.55, 0, 0], [0.25] * 4, [0, 1, 0, 0]], atol=1e-12)
    rng = np.random.default_rng(1)
    for row, best in zip(rows, out):  # no random probability vector is closer
        others = rng.dirichlet(np.ones(4), size=2000)
        assert (np.linalg.norm(others - row, axis=1) >= np.linalg.norm(best - row) - 1e-12).all()


def test_bad_calibrations_are_refused_with_the_qubit_named():
    with pytest.raises(MitigationError, match="qubit 1"):
        ReadoutCalibration((0.1, 0.6), (0.1, 0.5), "x")
    with pytest.raises(MitigationError, match="spam"):
        from_spam_fidelity(0.3, 2, "x")
    with pytest.raises(MitigationError, match="covers 2 qubits"):
        mitigate(np.full((1, 8), 1 / 8), from_spam_fidelity(0.99, 2, "x"))


def rotations(rows: int, n: int = 4) -> CircuitBatch:
    """Shallow circuits (one RY per qubit): readout error dominates gate error, as on hardware."""
    b = TemplateBuilder(n, n_inputs=n)
    for q in range(n):
        b.gate("ry", q, angles=(b.input(q, np.pi),))
    t = b.build()
    return CircuitBatch(t, np.zeros((rows, t.n_trainable)), np.random.default_rng(7).uniform(0, 1, (rows, n)))


async def test_mitigation_reduces_the_z_error_on_the_emulators_aria_model():
    batch = rotations(24)
    exact = expectations_z(probabilities(batch.template, batch.angles()))
    with EmulatorServer(EmulatorSettings(seed=0)) as server:
        async with IonQClient(server.base_url, "emulator-key", poll_initial=0.01, poll_cap=0.03) as client:
            noisy = IonQBackend(client, noise_model="aria-1")
            raw = await noisy.run(batch, shots=200_000, seed=11)
            mitigated_backend = ReadoutMitigatedBackend(noisy, calibration_shots=200_000)
            mitigated = await mitigated_backend.run(batch, shots=200_000, seed=11)
    before = np.abs(expectations_z(raw.probabilities) - exact).mean()
    after = np.abs(expectations_z(mitigated.probabilities) - exact).mean()
    assert after < before / 2, (before, after)
    print(f"<Z> error {before:.5f} -> {after:.5f}")
    np.testing.assert_array_equal(mitigated.counts, raw.counts)  # the measured data is kept as measured
    cal = mitigated_backend.calibrations[4]
    assert all(0.001 < e < 0.02 for e in cal.p01 + cal.p10), cal  # aria-1: SPAM 99.61%
