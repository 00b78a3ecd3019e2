"""Characterization files and targets that cannot be used are refused as config errors (exit 2) naming the file or
target and the field: a nesting too deep for the JSON parser, an unknown IonQ target, a section of the wrong type
(never replaced by published defaults), a SPAM figure readout mitigation cannot invert, and, on the emulator's
command line, a body of another backend than the one it is given for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings
from engine.backends.emulator.__main__ import build_parser, main_emulator, settings_from_args
from engine.backends.ionq_errors import IonQBadRequestError
from engine.backends.local import LocalSimulatorBackend
from engine.config import ConfigError, TrainingConfig
from engine.events import StepMetrics
from engine.mitigation import ReadoutMitigatedBackend
from engine.qpu import characterization_body, noise_from_config, with_readout_mitigation
from engine.runs import read_events
from engine.session import EngineSession
from engine.sim.noise import (NOISE_MODELS, CharacterizationError, load_characterization,
                              noise_model_from_characterization)
from qstore_tui.cli import main

# The body the emulator serves for qpu.aria-1 (GET /v0.4/backends/qpu.aria-1/characterizations), connectivity cut.
ARIA = {"id": "e5fc5064-ef12-51d0-aff9-c07c0d0340a5", "backend": "qpu.aria-1", "date": "2026-12-03T15:38:03.387Z",
        "qubits": 16, "connectivity": [[0, 1], [0, 2], [1, 2]],
        "fidelity": {"spam": {"median": 0.9961}, "1q": {"median": 0.9995}, "2q": {"median": 0.996}},
        "timing": {"1q": 0, "2q": 0, "readout": 0, "reset": 0, "t1": 10, "t2": 1}}
FORTE = {**ARIA, "backend": "qpu.forte-1"}
DEEP = "[" * 100_000 + "]" * 100_000


def write(tmp_path: Path, name: str, body: object) -> Path:
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def with_fields(base: dict, **fields: object) -> dict:
    """`base` with dotted fields replaced, e.g. fidelity__2q=0.99 sets body["fidelity"]["2q"]."""
    body = json.loads(json.dumps(base))
    for key, value in fields.items():
        *parents, leaf = key.split("__")
        node = body
        for p in parents:
            node = node[p]
        node[leaf] = value
    return body


def config(**kw: object) -> TrainingConfig:
    return TrainingConfig(**{**dict(n_qubits=2, circuit_depth=1, n_samples=12, epochs=1, batch_size=4,
                                    shots_per_circuit=100, seed=1, embeddings_to_store=False), **kw})


async def failed_session(tmp_path: Path, cfg: TrainingConfig) -> tuple[EngineSession, str]:
    session = EngineSession(cfg, runs_dir=tmp_path / "runs")
    finished = await session.run()
    assert finished.status == "failed", finished.message
    return session, str(session.error)


# 1. nested too deeply for the JSON parser

def test_a_deeply_nested_file_is_refused_by_the_headless_run_naming_the_file(tmp_path, capsys):
    big = write(tmp_path, "cbig.json", DEEP)
    code = main(["run", "--headless", "--runs-dir", str(tmp_path / "runs"), "--set", "noise_model=characterization",
                 "--set", f"characterization={big}", "--set", "n_qubits=2", "--set", "shots_per_circuit=100"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "cbig.json" in err and "nested too deeply" in err and "characterization" in err
    assert "internal error" not in err and "RecursionError" not in err


def test_a_deeply_nested_file_is_refused_by_the_emulator_and_the_loader(tmp_path, capsys):
    big = write(tmp_path, "cbig.json", DEEP)
    assert main_emulator(["--port", "0", "--characterization", f"qpu.forte-1={big}"]) == 2
    err = capsys.readouterr().err
    assert f"--characterization 'qpu.forte-1={big}'" in err and "nested too deeply" in err
    with pytest.raises(CharacterizationError, match="cbig.json: nested too deeply"):
        load_characterization(big)


# 2. an IonQ target that does not exist

@pytest.mark.parametrize("kw", [dict(noise_model="characterization"), dict(readout_mitigation="characterization")])
async def test_an_unknown_target_is_a_config_error_naming_the_field_and_the_target(tmp_path, kw):
    with EmulatorServer(EmulatorSettings(seed=0)) as server:
        cfg = config(characterization="qpu.bogus", ionq_api_url=server.base_url, **kw)
        with pytest.raises(ConfigError) as info:
            await characterization_body(cfg)
        assert info.value.field == "characterization"
        assert str(info.value).startswith("characterization: IonQ has no backend 'qpu.bogus'")
        session, message = await failed_session(tmp_path, cfg)
    assert session.failure_kind == "config" and "IonQ has no backend 'qpu.bogus'" in message  # exit 2


async def test_other_http_errors_of_a_live_read_stay_ionq_errors(monkeypatch):
    async def rejected(client: object, backend: str) -> None:
        raise IonQBadRequestError("bad request", status=400)

    monkeypatch.setattr("engine.backends.ionq_backends.latest_characterization", rejected)
    with pytest.raises(IonQBadRequestError, match="400"):
        await characterization_body(config(characterization="qpu.aria-1", noise_model="characterization"))


# 3. a section present with the wrong type

WRONG = [
    (dict(fidelity__2q=0.99), "'fidelity.2q': expected an object, got 0.99"),
    (dict(fidelity__spam=0.99), "'fidelity.spam': expected an object, got 0.99"),
    (dict(fidelity="high"), "'fidelity': expected an object, got 'high'"),
    (dict(timing="fast"), "'timing': expected an object, got 'fast'"),
    (dict(backend=25), "'backend': expected a target name, got 25"),
]


@pytest.mark.parametrize("fields, said", WRONG)
def test_a_wrong_typed_section_is_refused_not_replaced_by_defaults(fields, said):
    with pytest.raises(CharacterizationError, match=said.replace("(", r"\(").replace(")", r"\)")):
        noise_model_from_characterization(with_fields(ARIA, **fields), defaults=NOISE_MODELS["aria-1"])


@pytest.mark.parametrize("fields, said", WRONG)
async def test_a_run_refuses_a_wrong_typed_section_naming_the_file_and_the_field(tmp_path, fields, said):
    path = write(tmp_path, "char.json", with_fields(ARIA, **fields))
    cfg = config(noise_model="characterization", characterization=str(path))
    with pytest.raises(ConfigError) as info:
        await noise_from_config(cfg)
    assert info.value.field == "characterization"
    assert f"file {path}: characterization field {said}" in str(info.value)


def test_a_wrong_typed_section_fails_the_headless_run_with_exit_2(tmp_path, capsys):
    path = write(tmp_path, "char.json", with_fields(ARIA, timing="fast"))
    code = main(["run", "--headless", "--runs-dir", str(tmp_path / "runs"), "--set", "noise_model=characterization",
                 "--set", f"characterization={path}", "--set", "n_qubits=2", "--set", "shots_per_circuit=100"])
    err = capsys.readouterr().err
    assert code == 2 and f"file {path}: characterization field 'timing'" in err, err


def test_absent_sections_still_take_the_published_defaults_and_say_so():
    body = {k: v for k, v in ARIA.items() if k != "timing"}
    body["fidelity"] = {"spam": {"median": 0.99}, "1q": None}
    m = noise_model_from_characterization(body, defaults=NOISE_MODELS["aria-1"])
    assert m.f2q == NOISE_MODELS["aria-1"].f2q and "not in characterization" in m.sources["2q"]
    assert m.f1q == NOISE_MODELS["aria-1"].f1q and m.t1_s is None


# 4. a SPAM figure readout mitigation cannot use

@pytest.mark.parametrize("spam, said", [
    (-0.1, "characterization field 'fidelity.spam.median': -0.1 is outside (0, 1]"),
    (0.3, "characterization field 'fidelity.spam.median': 0.3 is outside (0.5, 1]"),
    ({"mean": 0.99}, "characterization field 'fidelity.spam.median': missing"),
    ("0.99", "characterization field 'fidelity.spam.median': expected a number, got '0.99'"),
])
async def test_a_bad_spam_figure_for_readout_mitigation_is_a_config_error_before_training(tmp_path, spam, said):
    path = write(tmp_path, "char.json", with_fields(ARIA, fidelity__spam=spam if isinstance(spam, dict)
                                                     else {"median": spam}))
    cfg = config(readout_mitigation="characterization", characterization=str(path))
    with pytest.raises(ConfigError) as info:
        await with_readout_mitigation(cfg, LocalSimulatorBackend(seed=0))
    assert info.value.field == "characterization" and f"characterization: file {path}: {said}" in str(info.value)
    session, message = await failed_session(tmp_path, cfg)
    assert session.failure_kind == "config" and said in message  # exit 2, not "trainer: ..."
    assert not [e for e in read_events(session.run_dir) if isinstance(e, StepMetrics)]  # nothing trained


async def test_a_good_spam_figure_still_mitigates(tmp_path):
    path = write(tmp_path, "char.json", ARIA)
    cfg = config(readout_mitigation="characterization", characterization=str(path))
    backend = await with_readout_mitigation(cfg, LocalSimulatorBackend(seed=0))
    assert isinstance(backend, ReadoutMitigatedBackend)
    cal = await backend.calibration_for(2)
    assert cal.p01 == pytest.approx((1 - 0.9961,) * 2) and f"file {path}" in cal.source


# 5. the emulator's --characterization BACKEND=FILE

def test_the_emulator_refuses_a_body_of_another_backend_naming_both(tmp_path, capsys):
    path = write(tmp_path, "aria.json", ARIA)
    assert main_emulator(["--port", "0", "--characterization", f"qpu.forte-1={path}"]) == 2
    err = capsys.readouterr().err
    assert f"{path} is a characterization of 'qpu.aria-1', not of 'qpu.forte-1'" in err
    with pytest.raises(ValueError, match="characterization of 'qpu.aria-1', not of 'qpu.forte-1'"):
        EmulatorSettings(characterizations={"qpu.forte-1": ARIA})
    page = write(tmp_path, "page.json", {"characterizations": [ARIA], "pages": 1})
    assert main_emulator(["--port", "0", "--characterization", f"qpu.forte-1={page}"]) == 2
    assert "not of 'qpu.forte-1'" in capsys.readouterr().err


def test_the_emulators_figure_errors_name_the_file_and_the_target(tmp_path, capsys):
    neg = write(tmp_path, "char_neg.json", with_fields(FORTE, fidelity__2q={"median": -0.5}))
    assert main_emulator(["--port", "0", "--characterization", f"qpu.forte-1={neg}"]) == 2
    err = capsys.readouterr().err
    assert (f"--characterization 'qpu.forte-1={neg}': {neg} (for qpu.forte-1): characterization field "
            "'fidelity.2q.median': -0.5 is outside (0, 1]") in err
    typed = write(tmp_path, "char_timing.json", with_fields(FORTE, timing="fast"))
    assert main_emulator(["--port", "0", "--characterization", f"qpu.forte-1={typed}"]) == 2
    assert "(for qpu.forte-1): characterization field 'timing': expected an object" in capsys.readouterr().err
    assert main_emulator(["--port", "0", "--characterization", f"qpu.aria-2={neg}"]) == 2
    assert "'qpu.aria-2' is not a QPU backend of the emulator" in capsys.readouterr().err


def test_the_emulator_still_takes_a_body_of_its_target_or_of_none(tmp_path):
    forte = write(tmp_path, "forte.json", FORTE)
    bare = write(tmp_path, "bare.json", {k: v for k, v in ARIA.items() if k != "backend"})
    s = settings_from_args(build_parser().parse_args(["--characterization", f"qpu.forte-1={forte}",
                                                      "--characterization", f"qpu.aria-1={bare}"]), environ={})
    assert s.noise_models["forte-1"].f2q == 0.996 and "of qpu.forte-1" in s.noise_models["forte-1"].source
    assert "from " not in s.noise_models["forte-1"].source and s.characterizations["qpu.aria-1"]["qubits"] == 16
