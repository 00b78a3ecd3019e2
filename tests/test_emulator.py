"""The IonQ emulator on its own: auth, IonQ's validation and error bodies, limits, job lifecycle, results,
noise models, backends, costs and the fault kinds, spoken to over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings, Fault, Timing
from engine.backends.emulator.__main__ import build_parser, main_emulator, settings_from_args
from engine.circuits import Circuit, parse_circuit
from engine.sim import circuit_probabilities
from engine.sim.noise import NOISE_MODELS, NoiseModel, apply_noise, noisy_distribution

KEY = "emulator-key"
AUTH = {"Authorization": f"apiKey {KEY}"}
BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(seed=0)) as s:
        yield s


@pytest.fixture
def http(server):
    server.reset()
    # generous: a busy CI box runs 5,000 circuits and three test workers on two cores
    with httpx.Client(base_url=server.base_url + "/", headers=AUTH, timeout=60) as c:
        yield c


def multi_body(circuits: list, *, gateset: str = "qis", qubits: int = 2, **extra) -> dict:
    return {"type": "ionq.multi-circuit.v1", "backend": "simulator", "shots": 100,
            "input": {"gateset": gateset, "qubits": qubits, "circuits": [{"circuit": c} for c in circuits]}, **extra}


def single_body(circuit: list, *, gateset: str = "qis", qubits: int = 2, **extra) -> dict:
    return {"type": "ionq.circuit.v1", "backend": "simulator", "shots": 100,
            "input": {"gateset": gateset, "qubits": qubits, "circuit": circuit}, **extra}


def wait_done(http: httpx.Client, job_id: str) -> dict:
    for _ in range(500):
        job = http.get(f"jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "canceled"):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


# ------------------------------------------------------------------------------------------------ auth


def test_requests_without_a_valid_key_get_401_with_ionqs_error_body(server, http):
    for headers in ({}, {"Authorization": "apiKey wrong"}, {"Authorization": f"Bearer {KEY}"}):
        r = httpx.get(server.base_url + "/whoami", headers=headers)
        assert r.status_code == 401
        body = r.json()
        assert body["statusCode"] == 401 and body["error"] == "Unauthorized Error" and "Invalid key" in body["message"]
    assert http.get("whoami").status_code == 200


def test_backends_need_no_key_and_list_the_three_targets(server, http):
    r = httpx.get(server.base_url + "/backends")
    assert r.status_code == 200
    by_name = {b["backend"]: b for b in r.json()}
    assert set(by_name) == {"simulator", "qpu.aria-1", "qpu.forte-1", "qpu.forte-enterprise-1"}
    assert by_name["qpu.aria-1"]["supported_native_gates"] == ["gpi", "gpi2", "ms"]
    assert by_name["qpu.forte-1"]["supported_native_gates"] == ["gpi", "gpi2", "zz"]
    assert by_name["qpu.forte-enterprise-1"]["supported_native_gates"] == ["gpi", "gpi2", "zz"]
    assert by_name["simulator"]["noise_models"] == ["ideal", "aria-1", "forte-1", "forte-enterprise-1"]
    assert http.get("backends/qpu.nope").status_code == 404


def test_characterizations_report_the_noise_model_fidelities(http):
    page = http.get("backends/qpu.aria-1/characterizations").json()
    (char,) = page["characterizations"]
    assert char["fidelity"]["spam"]["median"] == 0.9961
    assert char["fidelity"]["1q"]["median"] == 0.9995
    assert char["fidelity"]["2q"]["median"] == 0.996
    assert http.get(f"backends/qpu.aria-1/characterizations/{char['id']}").json() == char
    assert http.get("backends/simulator/characterizations").json()["characterizations"] == []


def test_whoami_names_the_key_without_echoing_it(http):
    body = http.get("whoami").json()
    assert set(body) == {"key_id", "key_name", "project_id"}
    assert KEY not in json.dumps(body)


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body, key", [
    (multi_body([BELL, [{"gate": "foo", "target": 0}]]), "input.circuits[1].circuit[0].gate"),
    (multi_body([[{"gate": "rx", "target": 0}]]), "input.circuits[0].circuit[0].rotation"),
    (multi_body([[{"gate": "h", "target": 5}]]), "input.circuits[0].circuit[0].target"),
    (multi_body([[{"gate": "ms", "targets": [0, 1], "phases": [0, 0]}]]), "input.circuits[0].circuit[0].gate"),
    ({**single_body(BELL), "metadata": {"k": 3}}, "metadata.k"),
    ({**single_body(BELL), "shots": 0}, "shots"),
    ({**single_body(BELL), "type": "ionq.qasm3.v1"}, "type"),
    ({**single_body(BELL), "backend": "qpu.harmony"}, "backend"),
    ({**single_body(BELL), "noise": {"model": "harmony"}}, "noise.model"),
    ({**single_body(BELL), "bogus": 1}, "bogus"),
    ({**multi_body([BELL]), "input": {"gateset": "qis", "circuit": BELL, "circuits": [{"circuit": BELL}]}},
     "input.circuit"),
])
def test_bad_payloads_get_400_with_ionqs_body_naming_the_field(http, body, key):
    r = http.post("jobs", json=body)
    assert r.status_code == 400
    err = r.json()
    assert err["error"] == "Bad Request" and err["statusCode"] == 400
    assert err["validation"]["keys"] == [key]
    assert key.split(".")[-1].split("[")[0] in err["message"] or key in err["message"]


def test_invalid_json_is_a_400(http):
    r = http.post("jobs", content=b'{"type": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]


def test_more_than_5000_circuits_is_a_400(http):
    r = http.post("jobs", json=multi_body([[{"gate": "x", "target": 0}]] * 5001, qubits=1))
    assert r.status_code == 400 and "5000 circuits" in r.json()["message"]
    assert http.post("jobs", json=multi_body([[{"gate": "x", "target": 0}]] * 5000, qubits=1)).status_code == 201


def test_more_than_150000_gates_is_a_400(http):
    circuit = [{"gate": "x", "target": 0}] * 75_001
    r = http.post("jobs", json=multi_body([circuit, circuit], qubits=1))
    assert r.status_code == 400 and "150000 gates" in r.json()["message"]


def test_a_body_over_10_mb_is_a_413(http):
    r = http.post("jobs", json=single_body(BELL, name="n" * (10 * 1024 * 1024)))
    assert r.status_code == 413
    assert r.json() == {"error": "Request Entity Too Large", "message": "The request body may not exceed 10MB",
                        "statusCode": 413}


def test_shots_may_be_a_numeric_string_as_cirq_sends_them(http):
    assert http.post("jobs", json={**single_body(BELL), "shots": "200", "lang": "json"}).status_code == 201


# ----------------------------------------------------------------------------------- jobs and results


def test_status_progresses_submitted_ready_started_completed_on_the_clock(server, http):
    clock = ManualClock()
    server.reset(clock=clock, timing=Timing(submit_s=1.0, queue_s=2.0, job_overhead_s=3.0))
    created = http.post("jobs", json=single_body(BELL))
    assert created.status_code == 201 and created.json()["status"] == "submitted"
    job_id = created.json()["id"]
    seen = []
    for t in (0.5, 1.5, 3.5, 6.5):
        clock.now = 100.0 + t
        deadline = time.monotonic() + 5
        while True:  # the simulation runs in a worker thread; "started" holds until it is done
            job = http.get(f"jobs/{job_id}").json()
            if t < 6 or job["status"] == "completed" or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        seen.append(job["status"])
    assert seen == ["submitted", "ready", "started", "completed"]
    assert job["predicted_wait_time_ms"] == 3000 and job["execution_duration_ms"] == 3000
    assert job["started_at"] < job["completed_at"]


def test_multi_circuit_job_has_children_in_input_order_with_their_own_results(http):
    circuits = [BELL, [{"gate": "x", "target": 1}], [{"gate": "ry", "target": 0, "rotation": 0.7}]]
    job_id = http.post("jobs", json=multi_body(circuits)).json()["id"]
    job = wait_done(http, job_id)
    assert job["type"] == "ionq.multi-circuit.v1" and job["stats"]["circuits"] == 3
    children = job["child_job_ids"]
    assert len(children) == 3
    agg = http.get(f"jobs/{job_id}/results/probabilities/aggregated").json()
    art = http.get(f"jobs/{job_id}/artifacts/probabilities-aggregate").json()
    assert agg == art
    for cid, c in zip(children, circuits):
        expected = circuit_probabilities(parse_circuit({"qubits": 2, "circuit": c}))
        got = np.zeros(4)
        for k, p in http.get(f"jobs/{cid}/results/probabilities").json().items():
            got[int(k)] = p
        np.testing.assert_allclose(got, expected, atol=1e-12)
        np.testing.assert_allclose([agg[cid].get(str(k), 0.0) for k in range(4)], expected, atol=1e-12)
        assert http.get(f"jobs/{cid}").json()["parent_job_id"] == job_id
    listed = http.get("jobs", params={"parent_job_id": job_id}).json()["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(children)
    # little-endian keys: X on qubit 1 is state 2
    assert agg[children[1]] == {"2": 1.0}


def test_native_circuits_run_and_the_two_qubit_gate_must_match_the_target(http):
    native = [{"gate": "gpi2", "target": 0, "phase": 0.25}, {"gate": "ms", "targets": [0, 1], "phases": [0, 0]}]
    job = wait_done(http, http.post("jobs", json=single_body(native, gateset="native")).json()["id"])
    assert job["status"] == "completed"
    probs = http.get(f"jobs/{job['id']}/results/probabilities").json()
    expected = circuit_probabilities(Circuit(2, gateset="native").add("gpi2", 0, params=(0.25,))
                                     .add("ms", 0, 1, params=(0, 0, 0.25)))
    np.testing.assert_allclose([probs.get(str(k), 0.0) for k in range(4)], expected, atol=1e-12)
    on_forte = {**single_body(native, gateset="native"), "backend": "qpu.forte-1"}
    failed = wait_done(http, http.post("jobs", json=on_forte).json()["id"])
    assert failed["status"] == "failed" and failed["failure"]["code"] == "UnsupportedGate"
    assert "'ms'" in failed["failure"]["message"]


def test_results_are_404_until_the_job_is_completed(server, http):
    server.reset(timing=Timing(queue_s=30.0))
    job_id = http.post("jobs", json=single_body(BELL)).json()["id"]
    r = http.get(f"jobs/{job_id}/results/probabilities")
    assert r.status_code == 404 and r.json()["statusCode"] == 404
    assert http.get("jobs/not-a-job").status_code == 404


def test_cancel_one_and_many(server, http):
    server.reset(timing=Timing(queue_s=30.0))
    ids = [http.post("jobs", json=single_body(BELL)).json()["id"] for _ in range(3)]
    assert http.put(f"jobs/{ids[0]}/status/cancel").json() == {"id": ids[0], "status": "canceled"}
    assert http.put("jobs/status/cancel", json={"ids": ids[1:]}).json() == {"ids": ids[1:], "status": "canceled"}
    for job_id in ids:
        job = http.get(f"jobs/{job_id}").json()
        assert job["status"] == "canceled" and job["completed_at"] is not None


def test_job_list_is_newest_first_and_paginates(http):
    ids = [http.post("jobs", json=single_body(BELL)).json()["id"] for _ in range(5)]
    first = http.get("jobs", params={"limit": 2}).json()
    assert [j["id"] for j in first["jobs"]] == ids[::-1][:2] and first["next"]
    seen, params = [], {"limit": 2}
    while True:
        page = http.get("jobs", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        if not page["next"]:
            break
        params["next"] = page["next"]
    assert seen == ids[::-1]
    assert "child_job_ids" not in first["jobs"][0]


def test_url_style_results_point_at_the_results_endpoints(server, http):
    server.reset(results_style="url")
    job = wait_done(http, http.post("jobs", json=multi_body([BELL])).json()["id"])
    url = job["results"]["probabilities"]["url"]
    assert url == f"/v0.4/jobs/{job['id']}/results/probabilities/aggregated"


def test_duplicate_client_ids_are_counted(http, server):
    body = {**single_body(BELL), "metadata": {"qstore_client_id": "abc"}}
    http.post("jobs", json=body)
    http.post("jobs", json=body)
    http.post("jobs", json={**body, "metadata": {"qstore_client_id": "def"}})
    c = server.counters()
    assert c.jobs_created == 3 and c.duplicates == 1


# ------------------------------------------------------------------------------------------------ noise


def test_noisy_models_return_shot_sampled_probabilities_reproducible_with_a_seed(http):
    body = {**single_body(BELL), "shots": 1000, "noise": {"model": "aria-1", "seed": 5}}
    a = wait_done(http, http.post("jobs", json=body).json()["id"])
    b = wait_done(http, http.post("jobs", json=body).json()["id"])
    pa = http.get(f"jobs/{a['id']}/results/probabilities").json()
    pb = http.get(f"jobs/{b['id']}/results/probabilities").json()
    assert pa == pb
    assert a["shots"] == 1000 and a["noise"] == {"model": "aria-1", "seed": 5}
    assert all(abs(p * 1000 - round(p * 1000)) < 1e-9 for p in pa.values())
    assert abs(sum(pa.values()) - 1) < 1e-12
    assert set(pa) - {"0", "3"}, "noise puts weight outside the Bell states"
    assert pa["0"] + pa["3"] > 0.95


def test_noisy_distribution_depolarizes_and_flips_readout():
    m = NOISE_MODELS["aria-1"]
    zero = np.zeros((1, 4))
    zero[0, 0] = 1.0
    out = noisy_distribution(zero, m, np.array([0]), np.array([0]))
    e = 1 - m.spam
    np.testing.assert_allclose(out[0], [(1 - e) ** 2, e * (1 - e), e * (1 - e), e ** 2])
    deep = noisy_distribution(zero, m, np.array([0]), np.array([5000]))
    np.testing.assert_allclose(deep[0], 0.25, atol=1e-6)
    lam = m.f1q ** 3 * m.f2q ** 2
    perfect_readout = NoiseModel("test", m.f1q, m.f2q, 1.0, "test")
    mixed = noisy_distribution(zero, perfect_readout, np.array([3]), np.array([2]))
    np.testing.assert_allclose(mixed[0], lam * zero[0] + (1 - lam) / 4)
    np.testing.assert_array_equal(apply_noise(zero, "ideal", np.array([1]), np.array([1]),
                                              np.random.default_rng(0), 10), zero)
    with pytest.raises(ValueError, match="unknown noise model 'harmony'"):
        apply_noise(zero, "harmony", np.array([1]), np.array([1]), np.random.default_rng(0), 10)


# ------------------------------------------------------------------------------------------------ costs


def test_estimates_and_job_costs(http):
    sim = http.get("jobs/estimate", params={"backend": "simulator", "shots": 100, "1q_gates": 10}).json()
    assert sim["estimated_total_cost"] == 0.0
    aria = http.get("jobs/estimate", params={"backend": "qpu.aria-1", "shots": 1000, "1q_gates": 100,
                                             "2q_gates": 20}).json()
    assert aria["estimated_total_cost"] == pytest.approx(1000 * (100 * 0.0001 + 20 * 0.001))
    assert aria["estimate_context"]["2q_gates"] == 20
    r = http.get("jobs/estimate", params={"shots": 10})
    assert r.status_code == 400 and r.json()["validation"] == {"keys": ["backend"], "source": "params"}
    job_id = http.post("jobs", json={**single_body(BELL), "backend": "qpu.aria-1", "shots": 1000}).json()["id"]
    cost = http.get(f"jobs/{job_id}/cost").json()
    assert cost["estimated_cost"] == {"value": pytest.approx(1000 * (1 * 0.0001 + 1 * 0.001)), "unit": "usd"}


# ------------------------------------------------------------------------------------------------ faults


def test_status_faults_answer_with_their_status_and_do_not_create_jobs(server, http):
    server.set_faults([Fault("429", "POST /jobs", retry_after=2.5), Fault("503", "POST /jobs")])
    r = http.post("jobs", json=single_body(BELL))
    assert r.status_code == 429 and r.headers["Retry-After"] == "2.5" and r.json()["statusCode"] == 429
    assert http.post("jobs", json=single_body(BELL)).status_code == 503
    assert http.post("jobs", json=single_body(BELL)).status_code == 201
    c = server.counters()
    assert c.jobs_created == 1 and c.faults_injected == {"429": 1, "503": 1} and c.faults_pending == 0


def test_reset_and_lost_response_drop_the_connection(server, http):
    server.set_faults([Fault("reset", "POST /jobs"), Fault("lost_response", "POST /jobs")])
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            http.post("jobs", json=single_body(BELL))
    assert server.counters().jobs_created == 1  # reset: before processing; lost_response: after


def test_slow_and_malformed_faults(server, http):
    server.set_faults([Fault("slow", "GET /whoami", delay_s=0.3), Fault("malformed_json", "GET /whoami")])
    t0 = time.monotonic()
    assert http.get("whoami").status_code == 200
    assert time.monotonic() - t0 >= 0.3
    r = http.get("whoami")
    with pytest.raises(ValueError):
        r.json()


def test_job_failed_fault_fails_the_created_job_with_its_code(server, http):
    server.set_faults([Fault("job_failed", "POST /jobs", code="SimulationTimeout", message="too slow")])
    job = wait_done(http, http.post("jobs", json=multi_body([BELL, BELL])).json()["id"])
    assert job["status"] == "failed"
    assert job["failure"] == {"code": "SimulationTimeout", "message": "too slow"}
    assert http.get(f"jobs/{job['child_job_ids'][0]}").json()["status"] == "failed"


def test_fault_definitions_are_checked():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("418")
    with pytest.raises(ValueError, match="failure code"):
        Fault("job_failed", code="Oops")


# -------------------------------------------------------------------------------------------------- cli


def test_cli_arguments_become_settings(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("a\n\nb\n")
    args = build_parser().parse_args(["--port", "0", "--latency-ms", "100", "--queue-s", "2", "--job-s", "1",
                                      "--parallel-jobs", "1", "--key-file", str(keys)])
    s = settings_from_args(args, environ={})
    assert s.latency_s == pytest.approx(0.1) and s.api_keys == ("a", "b")
    assert s.timing.queue_s == 2 and s.timing.job_overhead_s == 1 and s.timing.max_parallel_jobs == 1
    assert settings_from_args(build_parser().parse_args([]), environ={}).api_keys == ("emulator-key",)
    from_env = settings_from_args(build_parser().parse_args([]), environ={"QSTORE_EMULATOR_KEY": "k1",
                                                                          "IONQ_API_KEY": "k2"})
    assert from_env.api_keys == ("k1",)
    assert settings_from_args(build_parser().parse_args([]), environ={"IONQ_API_KEY": "k2"}).api_keys == ("k2",)


def test_a_port_in_use_exits_2_naming_it(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main_emulator(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{port}: " in err and "address already in use" in err


def test_cli_rejects_bad_values(capsys):
    assert main_emulator(["--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main_emulator(["--parallel-jobs", "0"]) == 2


@pytest.mark.parametrize("argv, said", [
    (["--latency-ms", "nan"], "--latency-ms must be a finite number >= 0, got nan"),
    (["--job-s", "inf"], "--job-s must be a finite number >= 0, got inf"),
    (["--queue-s", "-1"], "--queue-s must be a finite number >= 0, got -1.0"),
    (["--seed", "-1"], "--seed must be >= 0, got -1"),  # numpy's ValueError was a crash (exit 1)
    (["--key-file", "/nonexistent/keys"], "--key-file /nonexistent/keys: no such file or directory"),
    (["--characterization", "qpu.aria-1=/nonexistent.json"],
     "--characterization 'qpu.aria-1=/nonexistent.json': cannot read /nonexistent.json: no such file or directory"),
    (["--characterization", "nonsense"], "error: --characterization 'nonsense': expected BACKEND=PATH"),
])
def test_bad_timings_seeds_and_files_exit_2_naming_the_option(argv, said, capsys):
    assert main_emulator(["--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert said in err and "internal error" not in err
