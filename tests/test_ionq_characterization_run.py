"""A run from a characterization file: the local simulator uses its noise, readout mitigation calibrates
against it, and the native compiler honours its connectivity (a gate on an uncoupled pair is refused,
naming the pair, before anything runs)."""

from __future__ import annotations

import json

from engine.config import TrainingConfig
from engine.events import Log, MitigationInfo, RunFinished
from engine.runs import read_events
from engine.session import EngineSession

BODY = {"id": "c0ffee00-0000-4000-8000-000000000001", "backend": "qpu.forte-1", "date": "2026-11-30T00:00:00Z",
        "qubits": 3, "connectivity": [[0, 1], [1, 2]],
        "fidelity": {"spam": {"median": 0.99}, "1q": {"median": 0.999}, "2q": {"median": 0.99}},
        "timing": {"t1": 100, "t2": 1, "1q": 0.0001, "2q": 0.0006, "readout": 0.0003, "reset": 0.00002}}


def config(tmp_path, **kw) -> TrainingConfig:
    path = tmp_path / "forte.json"
    path.write_text(json.dumps(BODY))
    return TrainingConfig(**{**dict(n_qubits=3, circuit_depth=1, n_samples=12, epochs=1, batch_size=4,
                                    shots_per_circuit=200, seed=1, embeddings_to_store=False,
                                    noise_model="characterization", characterization=str(path),
                                    readout_mitigation="calibrate", readout_calibration_shots=2000), **kw})


async def test_a_local_run_uses_the_characterizations_noise_readout_mitigation_and_connectivity(tmp_path):
    cfg = config(tmp_path)
    assert cfg.native_target == "forte"
    session = EngineSession(cfg, runs_dir=tmp_path / "runs")
    finished = await session.run()
    assert finished.status == "completed", finished.message
    events = read_events(session.run_dir)
    assert session.backend.name == "local[forte-1]+readout-mitigation"
    infos = [e for e in events if isinstance(e, MitigationInfo)]
    assert infos and infos[-1].readout == "calibration circuits (2000 shots each)" and len(infos[-1].readout_p01) == 3
    assert all(0.0 < p < 0.05 for p in infos[-1].readout_p01), infos[-1]  # SPAM 99% flips about 1% of reads
    logs = [e.message for e in events if isinstance(e, Log)]
    assert any("honours the connectivity of file" in m and "2 coupled pairs" in m for m in logs), logs
    report = session.performance_report().to_markdown()
    assert "| Readout Mitigation | calibration circuits (2000 shots each); p01/p10 q0 " in report


async def test_a_model_that_needs_an_uncoupled_pair_is_refused_naming_it(tmp_path):
    session = EngineSession(config(tmp_path, entanglement="full"), runs_dir=tmp_path / "runs")
    finished = await session.run()
    assert finished.status == "failed" and session.failure_kind == "config"  # exit 2: the model does not fit
    assert "(0, 2)" in finished.message or "(0, 2)" in str(session.error), session.error
    assert not [e for e in read_events(session.run_dir) if isinstance(e, RunFinished) and e.steps]


async def test_on_the_emulator_the_characterization_becomes_its_noise_model(tmp_path):
    cfg = config(tmp_path, backend="emulator", readout_mitigation="off", epochs=1)
    session = EngineSession(cfg, runs_dir=tmp_path / "runs")
    served: list = []
    queue = session.bus.subscribe()
    finished = await session.run()
    assert finished.status == "completed", finished.message
    assert session.backend.noise_model == "forte-1"  # the emulator's forte-1 model, built from our body
    while not queue.empty():
        served.append(queue.get_nowait())
    logs = [e.message for e in served if isinstance(e, Log)]
    assert any("honours the connectivity of file" in m for m in logs)
