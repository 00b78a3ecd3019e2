"""`noise_model = "characterization"` on the local simulator: a QPU's live characterization, read over
loopback HTTP from the emulator, becomes the local noise model, and local results agree with the emulator's
own noisy model built from the same figures."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_backends import latest_characterization
from engine.backends.ionq_client import IonQClient
from engine.backends.local import LocalSimulatorBackend
from engine.circuits import CircuitBatch, TemplateBuilder
from engine.sim import probabilities
from engine.sim.measure import expectations_z
from engine.sim.noise import noise_model_from_characterization


def entangling(rows: int, n: int = 4) -> CircuitBatch:
    b = TemplateBuilder(n, n_inputs=n)
    for q in range(n):
        b.gate("ry", q, angles=(b.input(q, np.pi),))
    for q in range(n - 1):
        b.gate("cnot", q + 1, controls=(q,))
    t = b.build()
    return CircuitBatch(t, np.zeros((rows, 0)), np.random.default_rng(3).uniform(0, 1, (rows, n)))


async def test_local_runs_with_a_live_characterization_match_the_emulators_noisy_model():
    batch = entangling(12)
    with EmulatorServer(EmulatorSettings(seed=0)) as server:
        async with IonQClient(server.base_url, "emulator-key", poll_initial=0.01, poll_cap=0.03) as client:
            char = await latest_characterization(client, "qpu.forte-1")
            assert char is not None
            remote = await IonQBackend(client, noise_model="forte-1").run(batch, shots=100_000, seed=1)
    model = noise_model_from_characterization(dict(char.body), name="forte-1")
    local = LocalSimulatorBackend(seed=2, noise=model)
    assert local.name == "local[forte-1]"
    here = await local.run(batch, shots=100_000)
    exact = expectations_z(probabilities(batch.template, batch.angles()))
    z_local, z_remote = expectations_z(here.probabilities), expectations_z(remote.probabilities)
    assert np.abs(z_local - z_remote).max() < 0.02  # the same model, two samplers: shot noise only
    assert np.abs(z_local - exact).mean() > 0.002  # and the noise is really there
    with pytest.raises(ValueError, match="needs shots"):
        await local.run(batch, shots=0)
