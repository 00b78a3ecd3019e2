"""Noise models built from characterization bodies: the figures, where each comes from, T1/T2, connectivity,
and clear errors naming the field (and the file) for bodies that cannot become a model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.sim.noise import (
    ARIA_1_CHARACTERIZATION, NOISE_MODELS, CharacterizationError, NoiseModel, apply_noise, load_characterization,
    noise_model_from_characterization, noisy_distribution,
)

FORTE = {"id": "c-42", "backend": "qpu.forte-1", "date": "2026-11-30T00:00:00Z", "qubits": 4,
         "connectivity": [[1, 0], [1, 2], [0, 1]],
         "fidelity": {"spam": {"median": 0.995}, "1q": {"median": 0.9998}, "2q": {"median": 0.993}},
         "timing": {"t1": 100, "t2": 2, "1q": 0.0001, "2q": 0.001, "readout": 0, "reset": 0}}


def test_every_figure_is_read_and_says_where_it_comes_from():
    m = noise_model_from_characterization(FORTE)
    assert (m.name, m.f1q, m.f2q, m.spam, m.n_qubits) == ("forte-1", 0.9998, 0.993, 0.995, 4)
    assert (m.t1_s, m.t2_s, m.gate_1q_s, m.gate_2q_s) == (100, 2, 0.0001, 0.001)
    assert m.connectivity == ((0, 1), (1, 2))  # unordered pairs, deduplicated
    assert m.couples(1, 0) and m.couples(2, 1) and not m.couples(0, 2)
    assert m.sources["2q"] == "characterization c-42 of qpu.forte-1, 2026-11-30T00:00:00Z (fidelity.2q.median)"
    assert set(m.sources) == {"spam", "1q", "2q", "timing.t1", "timing.t2", "timing.1q", "timing.2q", "connectivity"}


def test_a_page_of_characterizations_gives_its_newest_and_t1_t2_lower_the_survival():
    m = noise_model_from_characterization({"characterizations": [FORTE, {**FORTE, "id": "older"}], "pages": 1})
    assert "c-42" in m.source
    no_decoherence = NoiseModel("x", m.f1q, m.f2q, m.spam, "x")
    n1, n2 = np.array([10]), np.array([5])
    duration = 10 * 0.0001 + 5 * 0.001
    expected = m.f1q ** 10 * m.f2q ** 5 * np.exp(-3 * duration * (1 / 100 + 1 / 2) / 2)
    assert m.survival(n1, n2, 3)[0] == pytest.approx(expected, rel=1e-12)
    assert m.survival(n1, n2, 3)[0] < no_decoherence.survival(n1, n2, 3)[0]


def test_the_builtin_models_come_from_bodies_and_forte_says_it_is_a_placeholder():
    aria = NOISE_MODELS["aria-1"]
    assert aria == noise_model_from_characterization(ARIA_1_CHARACTERIZATION, name="aria-1",
                                                     origin="IonQ-published Aria averages (API_NOTES 2.2)")
    assert "IonQ-published" in aria.sources["2q"] and aria.t2_s == 1
    assert "PLACEHOLDER" in NOISE_MODELS["forte-1"].source
    assert all("PLACEHOLDER" in s for s in NOISE_MODELS["forte-1"].sources.values())


def test_missing_gate_fidelities_come_from_defaults_and_say_so_or_are_an_error():
    body = {"backend": "qpu.forte-1", "fidelity": {"spam": {"median": 0.99}}, "timing": {"readout": 0, "reset": 0}}
    with pytest.raises(CharacterizationError, match=r"'fidelity\.1q\.median': missing"):
        noise_model_from_characterization(body)
    m = noise_model_from_characterization(body, defaults=NOISE_MODELS["aria-1"])
    assert m.f1q == NOISE_MODELS["aria-1"].f1q and m.spam == 0.99
    assert "not in characterization" in m.sources["1q"] and "IonQ-published" in m.sources["1q"]


@pytest.mark.parametrize("change, words", [
    ({"fidelity": {"1q": {"median": 0.99}, "2q": {"median": 0.99}}}, "'fidelity.spam.median': missing"),
    ({"fidelity": {**FORTE["fidelity"], "2q": {"median": 1.5}}}, "'fidelity.2q.median': 1.5 is outside"),
    ({"fidelity": {**FORTE["fidelity"], "1q": {"median": "high"}}}, "'fidelity.1q.median': expected a number"),
    ({"timing": {"t1": 0, "readout": 0, "reset": 0}}, "'timing.t1': 0 is outside"),
    ({"connectivity": [[0, 0]]}, "'connectivity[0]': a qubit cannot couple to itself"),
    ({"connectivity": [[0, 9]]}, "'connectivity[0]': qubit 9 is outside the 4 qubits"),
    ({"connectivity": [[0]]}, "'connectivity[0]': expected two qubit indices"),
    ({"qubits": 0}, "'qubits': expected a positive integer"),
])
def test_bad_bodies_name_the_field(change, words):
    with pytest.raises(CharacterizationError, match=words.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(".", r"\.")):
        noise_model_from_characterization({**FORTE, **change})


def test_files_are_read_and_their_errors_name_the_file(tmp_path):
    good = tmp_path / "forte.json"
    good.write_text(json.dumps(FORTE))
    m = load_characterization(good)
    assert m.f2q == 0.993 and str(good) in m.sources["2q"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CharacterizationError, match="bad.json: not valid JSON"):
        load_characterization(bad)
    with pytest.raises(CharacterizationError, match="missing.json: cannot read"):
        load_characterization(tmp_path / "missing.json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**FORTE, "fidelity": {}}))
    with pytest.raises(CharacterizationError, match=r"wrong\.json: characterization field 'fidelity\.spam\.median'"):
        load_characterization(wrong)


def test_sampling_with_a_characterization_model_matches_its_exact_distribution():
    m = noise_model_from_characterization(FORTE)
    ghz = np.zeros((1, 8))
    ghz[0, [0, 7]] = 0.5
    exact = noisy_distribution(ghz, m, np.array([1]), np.array([2]))[0]
    shots = 50_000
    got = apply_noise(ghz, m, np.array([1]), np.array([2]), np.random.default_rng(7), shots)[0]
    sigma = np.sqrt(exact * (1 - exact) / shots)
    assert np.all(np.abs(got - exact) < 5 * sigma + 1e-12)
    assert exact[[1, 2, 4]].sum() > 0.01  # readout flips put weight outside the GHZ states
