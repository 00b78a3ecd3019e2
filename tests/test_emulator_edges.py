"""The emulator at its edges: memory linear in a circuit's angle count, cancel and exit while a job simulates, long
API keys, the gate limit of single-circuit jobs, z with a rotation (the phase gate qiskit-ionq sends), the spec's
closed objects, debiasing's qubit maps, the estimate's and the listings' parameters, IonQ's JSON 413, gates the
emulator does not simulate, and faults on endpoints that do not exist."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings
from engine.backends.emulator.__main__ import main_emulator
from engine.backends.emulator.execute import SimulationCanceled, simulate
from engine.backends.emulator.payload import MAX_GATES, PayloadError, parse_job_body
from engine.backends.ionq_client import IonQClient
from engine.backends.ionq_errors import IonQError
from engine.circuits import Circuit, parse_circuit
from engine.circuits.ir import Gate
from engine.circuits.template import Template
from engine.sim import probabilities, unitary

KEY = "emulator-key"
AUTH = {"Authorization": f"apiKey {KEY}"}
ROOT = Path(__file__).resolve().parent.parent


def body_of(circuit: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"type": "ionq.circuit.v1", "backend": "simulator", **top,
            "input": {"gateset": "qis", "qubits": 1 + max((g.get("target", 0) for g in circuit), default=0),
                      "circuit": circuit}}


def refusal(body: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse_job_body(body, max_qubits=16)
    return info.value


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(EmulatorSettings(api_keys=(KEY, "k" * 9000))) as server:
        yield server


@pytest.fixture
def http(emu):
    emu.reset()
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=10) as c:
        yield c


# ----------------------------------------------------------------------------------------- 1. memory, cancel


def test_from_circuit_matches_the_explicit_identity_table_it_no_longer_builds():
    c = parse_circuit({"qubits": 2, "circuit": [{"gate": "rx", "target": 0, "rotation": 0.3},
                                                {"gate": "cnot", "control": 0, "target": 1},
                                                {"gate": "rz", "target": 1, "rotation": -1.1}]})
    t, row = Template.from_circuit(c)
    old = Template(t.n_qubits, t.ops, np.zeros(2), np.eye(2), np.zeros((0, 2)), t.gateset)
    assert t.slot_weights is None and t.n_trainable == old.n_trainable == 2
    assert t.structure_hash == old.structure_hash
    params = np.array([[0.3, -1.1], [2.0, 0.5]])
    assert np.array_equal(t.bind_angles(params), old.bind_angles(params))
    assert np.array_equal(t.weights, old.weights)
    assert np.allclose(probabilities(t, row[None, :]), probabilities(old, row[None, :]))


def test_a_circuit_of_150000_angles_takes_memory_linear_in_them():
    c = Circuit(1, [Gate("rx", (0,), (), (1e-5,))] * 150_000)
    tracemalloc.start()
    try:
        t, row = Template.from_circuit(c)
        t.bind_angles(row)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # the K x K table was 180 GB


def test_a_long_single_circuit_job_simulates_in_bounded_memory():
    job = parse_job_body(body_of([{"gate": "rx", "target": 0, "rotation": 1e-5}] * 40_000), max_qubits=16)
    simulate(parse_job_body(body_of([{"gate": "rx", "target": 0, "rotation": 1e-5}]), max_qubits=16),
             np.random.default_rng(0))  # warm the simulator
    tracemalloc.start()
    try:
        [result] = simulate(job, np.random.default_rng(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6  # 12.8 GB before
    assert result.probabilities["1"] == pytest.approx(np.sin(0.2) ** 2)


def test_a_canceled_job_stops_simulating_between_chunks():
    body = {"type": "ionq.multi-circuit.v1", "backend": "simulator",
            "input": {"gateset": "qis", "qubits": 1, "circuits": [
                {"circuit": [{"gate": "rx", "target": 0, "rotation": 0.1 * i}]} for i in range(200)]}}
    asked: list[int] = []

    def canceled() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(SimulationCanceled):
        simulate(parse_job_body(body, max_qubits=16), np.random.default_rng(0), canceled)
    assert len(asked) == 2


# ----------------------------------------------------------------------------------------- 2. exit on a signal


def test_the_emulator_exits_130_at_once_on_sigterm_while_a_job_simulates(tmp_path):
    env = {**os.environ, "QSTORE_EMULATOR_KEY": KEY, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.backends.emulator", "--port", "0"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        heavy = [{"gate": "h" if i % 2 else "x", "target": i % 16} for i in range(100_000)]
        body = {"type": "ionq.circuit.v1", "backend": "simulator",
                "input": {"gateset": "qis", "qubits": 16, "circuit": heavy}}
        assert httpx.post(f"{url}/jobs", json=body, headers=AUTH, timeout=30).status_code == 201
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        assert rc == 130 and time.monotonic() - t0 < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------------------- 3. long keys


def test_a_9000_character_key_is_accepted(emu):
    r = httpx.get(f"{emu.base_url}/whoami", headers={"Authorization": "apiKey " + "k" * 9000}, timeout=10)
    assert r.status_code == 200


async def test_a_header_past_the_limit_is_refused_without_the_key_in_the_error_or_a_traceback(emu, caplog):
    key = "s3cr3t-" + "k" * 70_000
    caplog.set_level(logging.ERROR)
    async with IonQClient(emu.base_url, key, max_retries=0) as c:
        with pytest.raises(IonQError) as info:
            await c.whoami()
    text = str(info.value)
    assert "s3cr3t-k" not in text and "not shown" in text
    assert not any(r.exc_info for r in caplog.records) and "s3cr3t" not in caplog.text


# ----------------------------------------------------------------------------------------- 4. the gate limit


def test_a_single_circuit_job_over_the_gate_limit_is_refused_naming_it():
    e = refusal(body_of([{"gate": "x", "target": 0}] * (MAX_GATES + 1)))
    assert e.keys == ("input.circuit",) and f"{MAX_GATES}" in e.message


# ----------------------------------------------------------------------------------------- 5. phase gates


def _phase_unitary(gates: list[dict[str, Any]], n: int) -> np.ndarray:
    job = parse_job_body({"type": "ionq.circuit.v1", "backend": "simulator",
                          "input": {"gateset": "qis", "qubits": n, "circuit": gates}}, max_qubits=16)
    return unitary(job.circuits[0])


def _same_up_to_phase(a: np.ndarray, b: np.ndarray) -> bool:
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    return np.allclose(a * (b[k] / a[k]), b, atol=1e-12)


@pytest.mark.parametrize("controls", [(), (0,), (0, 1)])
def test_z_with_a_rotation_is_qiskits_phase_gate(controls):
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    a, n = 0.73, len(controls) + 1
    target = n - 1
    qc = QuantumCircuit(n)
    if controls:
        qc.mcp(a, list(controls), target)
    else:
        qc.p(a, target)
    gate: dict[str, Any] = {"gate": "z", "target": target, "rotation": a}
    if len(controls) == 1:
        gate["control"] = controls[0]
    elif controls:
        gate["controls"] = list(controls)
    # qiskit is little-endian as the engine: qubit 0 is the lowest bit of the index
    assert _same_up_to_phase(_phase_unitary([gate], n), Operator(qc).data)


def test_qiskit_ionq_cp_runs_on_the_emulator_as_qiskit_computes_it(monkeypatch):
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector
    from qiskit_ionq import IonQProvider

    qc = QuantumCircuit(3, 3)
    qc.h([0, 1, 2])
    qc.cp(0.9, 0, 1)
    qc.mcp(1.3, [0, 1], 2)
    qc.p(0.4, 2)
    qc.h([0, 1, 2])
    exact = Statevector(qc.remove_final_measurements(inplace=False)).probabilities_dict()
    qc.measure([0, 1, 2], [0, 1, 2])
    with EmulatorServer(EmulatorSettings(api_keys=(KEY,), results_style="url")) as server, \
            warnings.catch_warnings():  # qiskit-ionq's advice on transpile levels
        warnings.simplefilter("ignore")
        monkeypatch.setenv("IONQ_API_URL", server.base_url)  # qiskit-ionq's qubit-count lookup reads only this
        monkeypatch.delenv("QISKIT_IONQ_API_URL", raising=False)
        backend = IonQProvider(token=KEY, url=server.base_url).get_backend("simulator")
        probs = backend.run(qc, shots=100).get_probabilities()
    # qiskit-ionq drops the keys its own unseeded sampling of the counts missed: compare the keys it kept
    wrong = {k: (p, exact.get(k, 0.0)) for k, p in probs.items() if abs(p - exact.get(k, 0.0)) > 1e-12}
    assert probs and not wrong, (wrong, probs)
    assert all((1 - exact[k]) ** 100 > 1e-6 for k in set(exact) - set(probs)), (probs, exact)


def test_an_error_in_a_gate_after_a_phase_gate_names_the_gate_as_sent():
    e = refusal(body_of([{"gate": "z", "target": 1, "controls": [0, 2], "rotation": 0.5},
                         {"gate": "h", "target": 9, "rotation": 1}]))
    assert e.keys == ("input.circuit[1].rotation",)


# ----------------------------------------------------------------------------------------- 6. closed objects


MULTI = {"type": "ionq.multi-circuit.v1", "backend": "simulator",
         "input": {"gateset": "qis", "qubits": 2, "circuits": [{"circuit": [{"gate": "h", "target": 0}]}]}}


def _multi_with(**item: Any) -> dict[str, Any]:
    return {**MULTI, "input": {**MULTI["input"], "circuits": [{"circuit": [{"gate": "h", "target": 0}], **item}]}}


@pytest.mark.parametrize("body, key", [
    (_multi_with(foo=1), "input.circuits[0].foo"),
    (_multi_with(name=5), "input.circuits[0].name"),
    (_multi_with(registers={"m": [0, 7]}), "input.circuits[0].registers.m"),
    (_multi_with(registers=[0]), "input.circuits[0].registers"),
    ({**body_of([]), "input": {"gateset": "qis", "circuit": [], "data": "OPENQASM 3;"}}, "input.data"),
    ({**body_of([]), "settings": []}, "settings"),
    ({**body_of([]), "settings": {"compilation": {"opt": "x"}}}, "settings.compilation.opt"),
    ({**body_of([]), "noise": {"model": "ideal", "seed": "5"}}, "noise.seed"),
    ({**body_of([]), "lang": 5}, "lang"),
])
def test_fields_the_spec_forbids_are_refused_naming_the_key(body, key):
    assert refusal(body).keys == (key,)


def test_registers_of_the_circuits_qubits_are_accepted():
    job = parse_job_body(_multi_with(registers={"m": [0, 1]}, name="a"), max_qubits=16)
    assert job.circuits[0].n_qubits == 2


def test_a_body_with_nan_is_not_json(http):
    r = http.post("/jobs", content=b'{"type": NaN}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]


# ----------------------------------------------------------------------------------------- 7. debiasing


def test_debiasing_maps_qubits_onto_the_backends_advertised_qubits(http):
    qubits = next(b["qubits"] for b in http.get("/backends").json() if b["backend"] == "qpu.aria-1")
    body = {**body_of([{"gate": "h", "target": i} for i in range(3)]), "backend": "qpu.aria-1", "shots": 2000}
    job_id = http.post("/jobs", json=body).json()["id"]
    for _ in range(200):
        job = http.get(f"/jobs/{job_id}").json()
        if job["status"] == "completed":
            break
        time.sleep(0.02)
    variants = job["output"]["error_mitigation"]["debiasing"]["variants"]
    assert len(variants) == 20 and all(0 <= q < qubits for v in variants for q in v["qubit_map"])


# ----------------------------------------------------------------------------------------- 8, 9. query parameters


@pytest.mark.parametrize("query, key", [
    ({"error_mitigation": "garbage"}, "error_mitigation"),
    ({"type": "bogus"}, "type"),
    ({"qubits": "1000", "backend": "qpu.aria-1"}, "qubits"),
])
def test_bad_estimate_parameters_are_refused_naming_them(http, query, key):
    r = http.get("/jobs/estimate", params={"backend": "qpu.forte-1", **query})
    assert r.status_code == 400 and r.json()["validation"]["keys"] == [key]


@pytest.mark.parametrize("path", ["/jobs", "/sessions"])
def test_a_next_that_is_no_page_is_refused(http, path):
    r = http.get(path, params={"next": "garbage"})
    assert r.status_code == 400 and r.json()["validation"]["keys"] == ["next"]


def test_a_next_from_a_previous_page_still_pages(http):
    ids = [http.post("/jobs", json=body_of([{"gate": "h", "target": 0}])).json()["id"] for _ in range(3)]
    page = http.get("/jobs", params={"limit": 2}).json()
    rest = http.get("/jobs", params={"limit": 2, "next": page["next"]}).json()
    assert [j["id"] for j in page["jobs"] + rest["jobs"]] == ids[::-1]


# ----------------------------------------------------------------------------------------- 10. 413


def test_a_body_over_64_mb_gets_ionqs_json_413(http):
    r = http.post("/jobs", content=b" " * (65 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["statusCode"] == 413


def test_a_chunked_body_over_64_mb_gets_ionqs_json_413(http):
    def chunks():
        for _ in range(65):
            yield b" " * (1024 * 1024)

    r = http.post("/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["statusCode"] == 413


# ----------------------------------------------------------------------------------------- 11, 12.


@pytest.mark.parametrize("gate", ["pauliexp", "nop"])
def test_spec_gates_the_emulator_does_not_simulate_say_so(gate):
    e = refusal(body_of([{"gate": gate, "target": 0}]))
    assert e.keys == ("input.circuit[0].gate",) and "not supported by this emulator" in e.message


def test_a_fault_on_an_endpoint_that_does_not_exist_is_refused(capsys):
    assert main_emulator(["--fault", "429:0.1:GET /nope"]) == 2
    err = capsys.readouterr().err
    assert "'GET /nope'" in err and "GET /jobs/{id}" in err and err.count("\n") == 1
