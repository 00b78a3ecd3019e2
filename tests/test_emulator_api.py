"""The emulator as IonQ's twin: delete and bulk delete, sessions and their limits, dry runs, debiasing and its
aggregations, histogram and per-shot results, actual job cost, auth before routing, the null noise seed, the
late-post and probabilistic faults, and the command line's faults and keys. Every request and response each
test makes is validated against IonQ's OpenAPI spec (`check_exchanges`, also used by test_real_clients.py)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings, Exchange, Fault, Timing
from engine.backends.emulator.__main__ import KEY_ON_COMMAND_LINE, build_parser, main_emulator, settings_from_args
from engine.backends.emulator.faults import parse_fault_spec
from engine.circuits import parse_circuit
from engine.sim import circuit_probabilities
from engine.sim.noise import NOISE_MODELS, noisy_distribution
from test_ionq_conformance import SPEC_PATH, _nullable

KEY = "emulator-key"
AUTH = {"Authorization": f"apiKey {KEY}"}
BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]
# url-style results and the aggregated endpoint are not in the current spec: their legacy shapes
LEGACY_URL_RESULTS = {"type": ["object", "null"], "additionalProperties": {
    "type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"], "additionalProperties": False}}


def component(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


RESPONSES: dict[tuple[str, int], dict[str, Any]] = {
    ("POST /jobs", 201): component("JobCreationResponse"),
    ("POST /jobs/{id}/clone", 201): component("JobCreationResponse"),
    ("POST /jobs/{id}/move", 201): component("JobCreationResponse"),
    ("GET /jobs", 200): component("GetJobsResponse"),
    ("DELETE /jobs", 200): component("JobsDeletedResponse"),
    ("DELETE /jobs/{id}", 200): component("JobDeletedResponse"),
    ("PUT /jobs/{id}/status/cancel", 200): component("JobCanceledResponse"),
    ("PUT /jobs/status/cancel", 200): component("JobsCanceledResponse"),
    ("GET /jobs/{id}/cost", 200): component("GetJobCostResponse"),
    ("GET /jobs/{id}/results/probabilities", 200): component("GetResultsResponse"),
    ("GET /jobs/{id}/results/probabilities/aggregated", 200): component("IonqResultProbabilitiesAggregateJsonV1"),
    ("GET /jobs/{id}/results/histogram", 200): component("IonqResultHistogramJsonV1"),
    ("GET /jobs/{id}/results/shots", 200): component("IonqResultShotsJsonV1"),
    ("POST /sessions", 201): component("Session"),
    ("GET /sessions", 200): component("SessionsResponse"),
    ("GET /sessions/{session_id}", 200): component("Session"),
    ("POST /sessions/{session_id}/end", 200): component("Session"),
    ("GET /sessions/{session_id}/jobs", 200): component("GetJobsResponse"),
    ("GET /backends", 200): {"type": "array", "items": component("Backend")},
    ("GET /backends/{backend}", 200): component("Backend"),
    ("GET /backends/{backend}/characterizations", 200):
        {"$ref": "#/components/responses/ListCharacterizations/content/application~1json/schema"},
    ("GET /backends/{backend}/characterizations/{id}", 200): component("Characterization"),
    ("GET /whoami", 200): component("Whoami"),
    ("GET /jobs/estimate", 200): component("GetJobEstimateResponse"),
}
ARTIFACTS = {"probabilities": "IonqResultProbabilitiesJsonV1", "histogram": "IonqResultHistogramJsonV1",
             "shots": "IonqResultShotsJsonV1", "probabilities-aggregate": "IonqResultProbabilitiesAggregateJsonV1",
             "aggregation-average": "IonqResultHistogramJsonV2", "aggregation-voting": "IonqResultHistogramJsonV2"}
REQUESTS = {"PUT /jobs/status/cancel": "JobsBulkOperationRequest", "DELETE /jobs": "JobsBulkOperationRequest",
            "POST /sessions": "CreateSessionRequest", "POST /jobs/{id}/clone": "CloneJobPayload",
            "POST /jobs/{id}/move": "CloneJobPayload"}


class SpecChecker:
    """Validates recorded exchanges against the spec's component schemas."""

    def __init__(self) -> None:
        self.components = _nullable(copy.deepcopy(json.loads(SPEC_PATH.read_bytes())["components"]))

    def errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        v = jsonschema.Draft7Validator({**schema, "components": self.components})
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(value)]

    def response_schema(self, x: Exchange) -> dict[str, Any]:
        if x.status == 400:
            return component("BadRequestError")
        if x.status >= 400:
            return component("Error")
        if x.endpoint == "GET /jobs/{id}":
            return component("MultiCircuitJob" if x.response["type"] == "ionq.multi-circuit.v1"
                             else "SingleCircuitJob")
        if x.endpoint == "GET /jobs/{id}/artifacts/{artifact}":
            art = x.path.split("?")[0].rsplit("/", 1)[1]
            if art.startswith("variant-"):
                art = art.rsplit("-", 1)[1]
            return component(ARTIFACTS[art])
        return RESPONSES[(x.endpoint, x.status)]

    def check(self, exchanges: list[Exchange], *, request_schema: Any = None) -> int:
        """Assert every response (and the bulk/session request bodies, and job bodies through `request_schema`,
        a function of the exchange) conforms; url-style `results` are checked against their legacy shape.
        Returns how many exchanges were checked."""
        for x in exchanges:
            response = x.response
            if isinstance(response, dict) and isinstance(response.get("results"), dict) and any(
                    isinstance(v, dict) and "url" in v for v in response["results"].values()):
                assert not self.errors(LEGACY_URL_RESULTS, response["results"])
                response = {**response, "results": None}
            if x.endpoint == "GET /jobs" and isinstance(response, dict):
                response = {**response, "jobs": [{**j, "results": None} if isinstance(j.get("results"), dict)
                                                 and "probabilities" in j["results"] else j
                                                 for j in response["jobs"]]}
            errs = self.errors(self.response_schema(x), response)
            assert not errs, f"{x.endpoint} {x.status}: {errs[:3]}"
            name = REQUESTS.get(x.endpoint)
            if name is not None and x.status < 400:
                errs = self.errors(component(name), x.request)
                assert not errs, f"request {x.endpoint}: {errs[:3]}"
            if request_schema is not None and x.endpoint == "POST /jobs":
                schema = request_schema(x)
                if schema is not None:
                    errs = self.errors(schema, x.request)
                    assert not errs, f"request {x.endpoint}: {errs[:3]}"
        return len(exchanges)


@pytest.fixture(scope="module")
def checker() -> SpecChecker:
    return SpecChecker()


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(EmulatorSettings(seed=0, record=True)) as s:
        yield s


@pytest.fixture
def http(server, checker):
    server.reset()
    with httpx.Client(base_url=server.base_url + "/", headers=AUTH, timeout=60) as c:
        yield c
    checker.check(server.exchanges())


def body(circuit: list | None = None, *, backend: str = "simulator", shots: int = 100, **extra: Any) -> dict:
    return {"type": "ionq.circuit.v1", "backend": backend, "shots": shots,
            "input": {"gateset": "qis", "qubits": 2, "circuit": circuit or BELL}, **extra}


def wait_done(http: httpx.Client, job_id: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s  # generous: the first simulation in a process compiles kernels
    while time.monotonic() < deadline:
        job = http.get(f"jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "canceled"):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def dist(d: dict[str, float], n: int = 2) -> np.ndarray:
    out = np.zeros(2 ** n)
    for k, p in d.items():
        out[int(k)] = p
    return out


# ------------------------------------------------------------------------------------ auth and routing


def test_auth_comes_before_404_and_405_and_a_405_names_what_is_allowed(server, http):
    raw = httpx.Client(base_url=server.base_url + "/", timeout=5)
    assert raw.get("no/such/path").status_code == 401
    assert raw.patch("jobs").status_code == 401
    assert raw.get("jobs/not-a-job").status_code == 401
    assert http.get("no/such/path").status_code == 404
    r = http.patch("jobs")
    assert r.status_code == 405 and r.json()["statusCode"] == 405
    assert set(r.headers["Allow"].split(", ")) == {"DELETE", "GET", "HEAD", "POST"}
    assert http.put("sessions").headers["Allow"] == "GET, HEAD, POST"
    raw.close()


# ---------------------------------------------------------------------------------------------- delete


def test_delete_one_job_and_its_children_then_404(server, http):
    multi = {"type": "ionq.multi-circuit.v1", "backend": "simulator",
             "input": {"gateset": "qis", "qubits": 2, "circuits": [{"circuit": BELL}, {"circuit": BELL}]}}
    job = wait_done(http, http.post("jobs", json=multi).json()["id"])
    r = http.delete(f"jobs/{job['id']}")
    assert r.status_code == 200 and r.json() == {"id": job["id"], "status": "deleted"}
    for j in (job["id"], *job["child_job_ids"]):
        assert http.get(f"jobs/{j}").status_code == 404
    assert http.delete(f"jobs/{job['id']}").status_code == 404
    assert http.get("jobs").json()["jobs"] == []


def test_deleting_a_child_keeps_the_parents_aggregate_aligned(http):
    circuits = [BELL, [{"gate": "x", "target": 1}], [{"gate": "x", "target": 0}]]
    multi = {"type": "ionq.multi-circuit.v1", "backend": "simulator",
             "input": {"gateset": "qis", "qubits": 2, "circuits": [{"circuit": c} for c in circuits]}}
    job = wait_done(http, http.post("jobs", json=multi).json()["id"])
    first, second, third = job["child_job_ids"]
    assert http.delete(f"jobs/{second}").json() == {"id": second, "status": "deleted"}
    assert http.get(f"jobs/{job['id']}").json()["child_job_ids"] == [first, third]
    agg = http.get(f"jobs/{job['id']}/results/probabilities/aggregated").json()
    assert list(agg) == [first, third]
    assert agg[first] == pytest.approx({"0": 0.5, "3": 0.5}) and agg[third] == pytest.approx({"1": 1.0})


THREE = [BELL, [{"gate": "x", "target": 1}], [{"gate": "x", "target": 0}]]
THREE_WANTED = [{"0": 0.5, "3": 0.5}, {"2": 1.0}, {"1": 1.0}]


def _queued_three_circuit_job(server, http) -> tuple[str, list[str]]:
    """A job of THREE that waits 0.4 s in the queue: (its id, its children's)."""
    server.reset(timing=Timing(queue_s=0.4))
    multi = {"type": "ionq.multi-circuit.v1", "backend": "simulator",
             "input": {"gateset": "qis", "qubits": 2, "circuits": [{"circuit": c} for c in THREE]}}
    parent = http.post("jobs", json=multi).json()["id"]
    return parent, http.get(f"jobs/{parent}").json()["child_job_ids"]


def test_deleting_a_child_before_the_simulation_ends_leaves_the_others_their_own_results(server, http):
    # results were paired with the children left by position: the second child got the first's
    parent, (first, second, third) = _queued_three_circuit_job(server, http)
    assert http.delete(f"jobs/{first}").status_code == 200
    assert wait_done(http, parent)["status"] == "completed"
    for child, wanted in ((second, THREE_WANTED[1]), (third, THREE_WANTED[2])):
        assert wait_done(http, child)["status"] == "completed"
        assert http.get(f"jobs/{child}/results/probabilities").json() == pytest.approx(wanted)
    agg = http.get(f"jobs/{parent}/results/probabilities/aggregated").json()
    assert agg == {second: pytest.approx(THREE_WANTED[1]), third: pytest.approx(THREE_WANTED[2])}


def test_a_canceled_childs_results_are_not_served_through_its_parent(server, http):
    parent, (first, second, third) = _queued_three_circuit_job(server, http)
    assert http.put(f"jobs/{second}/status/cancel").status_code == 200
    wait_done(http, parent)
    assert http.get(f"jobs/{second}").json()["status"] == "canceled"
    assert http.get(f"jobs/{second}/results/probabilities").status_code == 404
    agg = http.get(f"jobs/{parent}/results/probabilities/aggregated").json()
    assert agg == {first: pytest.approx(THREE_WANTED[0]), third: pytest.approx(THREE_WANTED[2])}


def test_deleting_a_queued_job_cancels_it_and_bulk_delete_reports_what_it_deleted(server, http):
    server.reset(timing=Timing(queue_s=30.0))
    ids = [http.post("jobs", json=body()).json()["id"] for _ in range(3)]
    r = http.request("DELETE", "jobs", json={"ids": [ids[0], ids[1], "no-such-job"]})
    assert r.json() == {"ids": ids[:2], "status": "deleted"}
    assert [j["id"] for j in http.get("jobs").json()["jobs"]] == [ids[2]]
    bad = http.request("DELETE", "jobs", json={"ids": "x"})
    assert bad.status_code == 400 and bad.json()["validation"]["keys"] == ["ids"]


# ------------------------------------------------------------------------------------- clone and move


def test_a_clone_reruns_the_job_with_the_fields_it_changes(http):
    source = wait_done(http, http.post("jobs", json=body(name="bell", metadata={"k": "v"})).json()["id"])
    r = http.post(f"jobs/{source['id']}/clone", json={"shots": 300, "noise": {"model": "aria-1", "seed": 2}})
    assert r.status_code == 201
    clone = wait_done(http, r.json()["id"])
    assert clone["id"] != source["id"] and clone["name"] == "bell" and clone["metadata"] == {"k": "v"}
    assert clone["shots"] == 300 and clone["noise"] == {"model": "aria-1", "seed": 2}
    assert sum(http.get(f"jobs/{clone['id']}/results/histogram").json().values()) == 300
    assert http.get(f"jobs/{source['id']}").json()["status"] == "completed"  # the source is left as it was
    bad = http.post(f"jobs/{source['id']}/clone", json={"input": {}})
    assert bad.status_code == 400 and bad.json()["validation"]["keys"] == ["input"]
    assert http.post(f"jobs/{source['id']}/clone", json={"shots": 0}).json()["validation"]["keys"] == ["shots"]
    assert http.post("jobs/nope/clone", json={}).status_code == 404


def test_a_child_clones_as_its_own_circuit_and_a_move_cancels_its_source(server, http):
    multi = {"type": "ionq.multi-circuit.v1", "backend": "simulator", "input": {
        "gateset": "qis", "qubits": 2, "circuits": [{"circuit": BELL}, {"circuit": [{"gate": "x", "target": 1}]}]}}
    parent = wait_done(http, http.post("jobs", json=multi).json()["id"])
    child = wait_done(http, http.post(f"jobs/{parent['child_job_ids'][1]}/clone", json={}).json()["id"])
    assert child["type"] == "ionq.circuit.v1"
    assert http.get(f"jobs/{child['id']}/results/probabilities").json() == {"2": 1.0}
    server.reset(timing=Timing(queue_s=30.0))
    queued = http.post("jobs", json=body()).json()["id"]
    moved = http.post(f"jobs/{queued}/move", json={"backend": "qpu.aria-1", "shots": 1000})
    assert moved.status_code == 201
    assert http.get(f"jobs/{queued}").json()["status"] == "canceled"
    assert http.get(f"jobs/{moved.json()['id']}").json()["backend"] == "qpu.aria-1"


# -------------------------------------------------------------------------------------------- sessions


def test_a_session_is_created_started_by_its_first_job_listed_and_ended(server, http):
    created = http.post("sessions", json={"backend": "qpu.aria-1", "settings": {
        "job_count_limit": 5, "duration_limit_min": 60, "cost_limit": {"unit": "usd", "value": 100}}})
    assert created.status_code == 201
    s = created.json()
    assert s["status"] == "created" and s["active"] and s["started_at"] is None
    assert s["settings"]["cost_limit"] == {"unit": "usd", "value": 100.0} and "expires_at" in s["settings"]
    r = http.post("jobs", json=body(backend="qpu.aria-1", session_id=s["id"]))
    assert r.status_code == 201 and r.json()["session_id"] == s["id"]
    assert http.get(f"jobs/{r.json()['id']}").json()["session_id"] == s["id"]
    assert http.get(f"sessions/{s['id']}").json()["status"] == "started"
    assert [j["id"] for j in http.get(f"sessions/{s['id']}/jobs").json()["jobs"]] == [r.json()["id"]]
    assert [j["id"] for j in http.get("jobs", params={"session_id": s["id"]}).json()["jobs"]] == [r.json()["id"]]
    ended = http.post(f"sessions/{s['id']}/end").json()
    assert ended["status"] == "ended" and not ended["active"] and ended["ended_at"]
    assert http.get("sessions", params={"active": "true"}).json()["sessions"] == []
    assert [x["id"] for x in http.get("sessions").json()["sessions"]] == [s["id"]]
    refused = http.post("jobs", json=body(backend="qpu.aria-1", session_id=s["id"]))
    assert refused.status_code == 400 and "has ended" in refused.json()["message"]
    assert http.get("sessions/nope").status_code == 404


def test_a_session_refuses_the_job_past_its_job_count_or_cost_limit(server, http):
    count = http.post("sessions", json={"backend": "qpu.aria-1", "settings": {"job_count_limit": 2}}).json()
    for _ in range(2):
        assert http.post("jobs", json=body(backend="qpu.aria-1", session_id=count["id"])).status_code == 201
    r = http.post("jobs", json=body(backend="qpu.aria-1", session_id=count["id"]))
    assert r.status_code == 400 and r.json()["validation"]["keys"] == ["session_id"]
    assert "job_count_limit of 2" in r.json()["message"]
    # each job: 1000 shots x (1 x 0.0001 + 1 x 0.001) = 1.1 usd; limit 3 usd admits two
    cost = http.post("sessions", json={"backend": "qpu.aria-1",
                                       "settings": {"cost_limit": {"unit": "usd", "value": 3}}}).json()
    first = http.post("jobs", json=body(backend="qpu.aria-1", shots=1000, session_id=cost["id"])).json()["id"]
    assert http.post("jobs", json=body(backend="qpu.aria-1", shots=1000, session_id=cost["id"])).status_code == 201
    http.delete(f"jobs/{first}")  # deleting a job does not give its spend back
    r = http.post("jobs", json=body(backend="qpu.aria-1", shots=1000, session_id=cost["id"]))
    assert r.status_code == 400 and "cost_limit of 3 usd" in r.json()["message"] and "2.20 spent" in r.json()["message"]
    other = http.post("jobs", json=body(backend="qpu.forte-1", session_id=cost["id"]))
    assert other.status_code == 400 and "'qpu.aria-1'" in other.json()["message"]
    assert http.post("jobs", json=body(session_id="nope")).json()["validation"]["keys"] == ["session_id"]
    bad = http.post("sessions", json={"backend": "qpu.aria-1", "settings": {"job_count_limit": 0}})
    assert bad.status_code == 400 and bad.json()["validation"]["keys"] == ["settings.job_count_limit"]


def test_a_session_ends_when_its_duration_limit_passes(server, http):
    clock = type("Clock", (), {"now": 100.0, "__call__": lambda self: self.now})()
    server.reset(clock=clock)
    s = http.post("sessions", json={"backend": "qpu.aria-1", "settings": {"duration_limit_min": 1}}).json()
    clock.now += 61
    assert http.get(f"sessions/{s['id']}").json()["status"] == "ended"
    assert http.post("jobs", json=body(backend="qpu.aria-1", session_id=s["id"])).status_code == 400


# --------------------------------------------------------------------------------------------- dry run


def test_a_dry_run_is_priced_and_validated_but_never_executed(server, http):
    r = http.post("jobs", json=body(backend="qpu.aria-1", shots=1000, dry_run=True))
    job = wait_done(http, r.json()["id"])
    assert job["status"] == "completed" and job["dry_run"] is True and job["results"] is None
    assert job["stats"]["gate_counts"] == {"1q": 1, "2q": 1}
    r = http.get(f"jobs/{job['id']}/results/probabilities")
    assert r.status_code == 404 and "dry run" in r.json()["message"]
    cost = http.get(f"jobs/{job['id']}/cost").json()
    assert cost["dry_run"] is True and cost["estimated_cost"]["value"] == pytest.approx(1.1)
    assert cost["cost"]["value"] == 0.0
    bad = http.post("jobs", json=body(dry_run=True, input={"gateset": "qis", "circuit": [{"gate": "rx",
                                                                                        "target": 0}]}))
    assert bad.status_code == 400 and bad.json()["validation"]["keys"] == ["input.circuit[0].rotation"]
    c = server.counters()
    assert c.dry_runs == 1 and c.jobs_executed == 0


# -------------------------------------------------------------------------------- noise seed, settings


def test_a_null_noise_seed_is_accepted_as_qiskit_ionq_sends_it(http):
    r = http.post("jobs", json=body(noise={"model": "ideal", "seed": None}))
    assert r.status_code == 201
    assert wait_done(http, r.json()["id"])["noise"] == {"model": "ideal"}
    bad = http.post("jobs", json=body(noise={"model": "aria-1", "sead": 1}))
    assert bad.status_code == 400 and bad.json()["validation"]["keys"] == ["noise.sead"]


@pytest.mark.parametrize("extra, key, words", [
    ({"backend": "simulator", "settings": {"error_mitigation": {"debiasing": True}}, "shots": 1000},
     "settings.error_mitigation.debiasing", "not available on the simulator"),
    ({"backend": "qpu.aria-1", "settings": {"error_mitigation": {"debiasing": True}}, "shots": 499},
     "settings.error_mitigation.debiasing", "at least 500 shots, got shots=499"),
    ({"settings": {"error_mitigation": {"debiasing": "yes"}}}, "settings.error_mitigation.debiasing", "boolean"),
    ({"settings": {"error_mitigation": {"sharpen": True}}}, "settings.error_mitigation.sharpen", "not allowed"),
    ({"settings": {"turbo": True}}, "settings.turbo", "not allowed"),
    ({"dry_run": "yes"}, "dry_run", "boolean"),
    ({"settings": {"error_mitigation": {"symmetry_verification": True}}},
     "settings.error_mitigation.symmetry_verification", "not emulated"),
    ({"shots": "1_000"}, "shots", "must be an integer"),  # int() reads these; the spec's shots is an integer
    ({"shots": " 7\n"}, "shots", "must be an integer"),
    ({"shots": "\u0667"}, "shots", "must be an integer"),  # an Arabic-Indic seven
])
def test_what_ionq_refuses_in_settings_is_a_400_naming_the_field(http, extra, key, words):
    r = http.post("jobs", json={**body(), **extra})
    assert r.status_code == 400 and r.json()["validation"]["keys"] == [key] and words in r.json()["message"]


def _native(circuit: list) -> dict:
    return {"type": "ionq.circuit.v1", "backend": "simulator", "shots": 100,
            "input": {"gateset": "native", "qubits": 2, "circuit": circuit}}


@pytest.mark.parametrize("job, key", [
    (body([{"gate": "H", "target": 0}]), "input.circuit[0].gate"),
    (body([{"gate": "h", "target": 0}, {"gate": "rx", "target": 1, "rotation": "0.5"}]), "input.circuit[1].rotation"),
    (_native([{"gate": "gpi", "target": 0, "phase": "0.25"}]), "input.circuit[0].phase"),
    (_native([{"gate": "ms", "targets": [0, 1], "phases": [0, "0.5"], "angle": 0.25}]), "input.circuit[0].phases"),
    (_native([{"gate": "ms", "targets": [0, 1], "phases": [0, 0.5], "angle": "0.25"}]), "input.circuit[0].angle"),
])
def test_what_ionqs_spec_types_strictly_is_a_400_though_our_circuit_files_forgive_it(http, job, key):
    # the spec's gate names are lower-case enums and its angles numbers; they were accepted as "h" and 0.5
    r = http.post("jobs", json=job)
    assert r.status_code == 400 and r.json()["validation"]["keys"] == [key], r.text


# ------------------------------------------------------------------------------- debiasing, aggregation


def test_debiasing_is_on_by_default_for_qis_jobs_of_500_shots_on_a_qpu_and_off_otherwise(http):
    default = wait_done(http, http.post("jobs", json=body(backend="qpu.aria-1", shots=600)).json()["id"])
    assert default["settings"]["error_mitigation"] == {"debiasing": True}
    few = wait_done(http, http.post("jobs", json=body(backend="qpu.aria-1", shots=400)).json()["id"])
    assert few["settings"]["error_mitigation"] == {"debiasing": False} and few["output"] == {}
    native = {**body(backend="qpu.aria-1", shots=600),
              "input": {"gateset": "native", "qubits": 2, "circuit": [{"gate": "gpi2", "target": 0, "phase": 0}]}}
    assert wait_done(http, http.post("jobs", json=native).json()["id"])["settings"]["error_mitigation"] == {
        "debiasing": False}


def test_a_debiased_job_has_variants_and_average_and_voting_aggregations(http):
    job = wait_done(http, http.post("jobs", json=body(backend="qpu.aria-1", shots=1000, settings={
        "error_mitigation": {"debiasing": True}})).json()["id"])
    em = job["output"]["error_mitigation"]
    variants = em["debiasing"]["variants"]
    assert len(variants) == 10 and sum(v["shots"] for v in variants) == 1000
    assert all(len(v["qubit_map"]) == 2 and len(set(v["qubit_map"])) == 2 for v in variants)
    average = http.get(f"jobs/{job['id']}/results/probabilities").json()
    summed = sum(dist(http.get(f"jobs/{job['id']}/artifacts/variant-{v['variant_id']}-histogram").json())
                 for v in variants)
    np.testing.assert_allclose(dist(average), summed / 1000)
    voting = http.get(f"jobs/{job['id']}/results/probabilities", params={"sharpen": "true"}).json()
    assert voting == http.get(f"jobs/{job['id']}/results/probabilities", params={"aggregation": "voting"}).json()
    assert set(voting) <= {"0", "3"} and sum(voting.values()) == pytest.approx(1.0)  # each variant votes 00 or 11
    assert set(average) - {"0", "3"}, "the average keeps the error outcomes"
    agg = http.get(f"jobs/{job['id']}/artifacts/{em['aggregations']['voting']['id']}").json()
    assert {k: v / 1000 for k, v in agg["histogram"]["registers"]["output_all"].items()} == pytest.approx(
        {format(int(k), "02b"): v for k, v in voting.items()})
    assert http.get(f"jobs/{job['id']}/results/probabilities", params={"aggregation": "dnl"}).status_code == 400


# ------------------------------------------------------------------------------ histogram and per shot


def test_noisy_jobs_have_histogram_and_per_shot_results_that_agree(http):
    job = wait_done(http, http.post("jobs", json=body(shots=300, noise={"model": "aria-1", "seed": 3})).json()["id"])
    assert set(job["results"]) == {"ionq.result.probabilities.json.v1", "ionq.result.histogram.json.v1",
                                   "ionq.result.shots.json.v1"}
    hist = http.get(f"jobs/{job['id']}/results/histogram").json()
    assert hist == http.get(f"jobs/{job['id']}/artifacts/histogram").json() and sum(hist.values()) == 300
    shots = http.get(f"jobs/{job['id']}/results/shots").json()
    assert shots == http.get(f"jobs/{job['id']}/artifacts/shots").json()
    assert {k: shots.count(k) for k in set(shots)} == hist
    probs = http.get(f"jobs/{job['id']}/results/probabilities").json()
    assert probs == pytest.approx({k: v / 300 for k, v in hist.items()})
    ideal = wait_done(http, http.post("jobs", json=body()).json()["id"])
    assert set(ideal["results"]) == {"ionq.result.probabilities.json.v1"}
    assert http.get(f"jobs/{ideal['id']}/results/shots").status_code == 404


def test_url_style_results_list_histogram_and_shots_for_shot_based_jobs(server, http):
    server.reset(results_style="url")
    job = wait_done(http, http.post("jobs", json=body(noise={"model": "aria-1"})).json()["id"])
    assert job["results"]["shots"]["url"] == f"/v0.4/jobs/{job['id']}/results/shots"
    assert sum(http.get(job["results"]["histogram"]["url"].removeprefix("/v0.4/")).json().values()) == 100


# --------------------------------------------------------------------------------------------- costs


def test_actual_cost_appears_when_the_job_is_final(server, http):
    server.reset(timing=Timing(queue_s=30.0))
    queued = http.post("jobs", json=body(backend="qpu.aria-1", shots=1000)).json()["id"]
    assert "cost" not in http.get(f"jobs/{queued}/cost").json()
    http.put(f"jobs/{queued}/status/cancel")
    assert http.get(f"jobs/{queued}/cost").json()["cost"] == {"value": 0.0, "unit": "usd"}
    server.reset()
    done = wait_done(http, http.post("jobs", json=body(backend="qpu.aria-1", shots=1000)).json()["id"])
    assert http.get(f"jobs/{done['id']}/cost").json()["cost"]["value"] == pytest.approx(1.1)


# -------------------------------------------------------------------------------------------- faults


def test_a_late_post_creates_its_job_after_the_client_gave_up(server, http):
    server.set_faults([Fault("late_post", "POST /jobs", delay_s=0.4)])
    with pytest.raises(httpx.ReadTimeout):
        http.post("jobs", json=body(), timeout=0.1)
    assert server.counters().jobs_created == 0
    time.sleep(0.5)
    assert server.counters().jobs_created == 1
    (late,) = http.get("jobs").json()["jobs"]
    assert wait_done(http, late["id"])["status"] == "completed"
    server.reset(faults=(Fault("late_post", delay_s=5.0),))  # every endpoint: GETs are not held
    assert http.get("whoami", timeout=1).status_code == 200


def test_probabilistic_faults_hit_about_their_share_of_requests(server, http):
    server.reset(faults=(parse_fault_spec("503:0.3:GET /whoami"),), seed=1)
    statuses = [http.get("whoami").status_code for _ in range(200)]
    hits = statuses.count(503)
    assert abs(hits - 60) < 4 * np.sqrt(200 * 0.3 * 0.7)  # binomial(200, 0.3) within 4 sigma
    assert set(statuses) == {200, 503} and http.get("backends").status_code == 200


def test_fault_specs_from_the_command_line_are_checked():
    f = parse_fault_spec("late-post:0.1", delay_s=5)
    assert (f.kind, f.endpoint, f.probability, f.delay_s) == ("late_post", "*", 0.1, 5)
    assert parse_fault_spec("429:1:POST /jobs").endpoint == "POST /jobs"
    for spec, words in (("429", "KIND:PROBABILITY"), ("418:0.1", "unknown kind '418'"),
                        ("429:lots", "not a number"), ("429:1.5", "(0, 1]"), ("429:0.1:jobs", "endpoint")):
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("]", r"\]")):
            parse_fault_spec(spec)


# ------------------------------------------------------------------------------------------------ cli


def test_characterization_pages_check_their_query(http):
    assert http.get("backends/qpu.aria-1/characterizations", params={"limit": 1}).json()["pages"] == 1
    r = http.get("backends/qpu.aria-1/characterizations", params={"limit": 11})
    assert r.status_code == 400 and r.json()["validation"] == {"keys": ["limit"], "source": "params"}


def test_the_command_line_refuses_a_key_and_reads_faults_and_characterizations(tmp_path, capsys):
    assert main_emulator(["--key", "secret-on-the-command-line"]) == 2
    err = capsys.readouterr().err
    assert KEY_ON_COMMAND_LINE in err and "secret-on-the-command-line" not in err
    char = tmp_path / "forte.json"
    char.write_text(json.dumps({"characterizations": [{
        "id": "c1", "backend": "qpu.forte-1", "date": "2026-11-30T00:00:00Z", "qubits": 36,
        "fidelity": {"spam": {"median": 0.995}, "1q": {"median": 0.9998}, "2q": {"median": 0.993}},
        "timing": {"readout": 0, "reset": 0}}]}))
    args = build_parser().parse_args(["--fault", "429:0.1", "--fault", "late-post:0.2:POST /jobs",
                                      "--fault-delay-s", "3", "--characterization", f"qpu.forte-1={char}"])
    s = settings_from_args(args, environ={})
    assert [(f.kind, f.probability, f.delay_s) for f in s.faults] == [("429", 0.1, 3.0), ("late_post", 0.2, 3.0)]
    assert s.noise_models["forte-1"].f2q == 0.993 and "from " + str(char) not in s.noise_models["forte-1"].source
    assert "characterization c1 of qpu.forte-1" in s.noise_models["forte-1"].sources["2q"]
    assert main_emulator(["--fault", "teapot:0.1"]) == 2
    assert "unknown kind 'teapot'" in capsys.readouterr().err
    assert main_emulator(["--characterization", "qpu.forte-1"]) == 2
    assert main_emulator(["--key-file", str(tmp_path / "missing")]) == 2
    assert "--key-file" in capsys.readouterr().err


def test_a_characterization_given_to_the_emulator_is_served_and_becomes_its_noise_model(checker):
    char = {"id": "x", "backend": "qpu.forte-1", "date": "2026-11-30T00:00:00Z", "qubits": 36,
            "connectivity": [[0, 1], [1, 2]],
            "fidelity": {"spam": {"median": 0.98}, "1q": {"median": 0.999}, "2q": {"median": 0.97}},
            "timing": {"t1": 100, "t2": 1, "readout": 0, "reset": 0}}
    with EmulatorServer(EmulatorSettings(seed=0, record=True, characterizations={"qpu.forte-1": char})) as s, \
            httpx.Client(base_url=s.base_url + "/", headers=AUTH, timeout=10) as http:
        served = http.get("backends/qpu.forte-1/characterizations").json()["characterizations"][0]
        assert served["fidelity"] == char["fidelity"] and served["connectivity"] == [[0, 1], [1, 2]]
        job = wait_done(http, http.post("jobs", json=body(shots=20000, noise={"model": "forte-1", "seed": 1})).json()["id"])
        got = dist(http.get(f"jobs/{job['id']}/results/probabilities").json())
        exact = circuit_probabilities(parse_circuit({"qubits": 2, "circuit": BELL}))[None, :]
        expected = noisy_distribution(exact, s.settings.noise_models["forte-1"], np.array([1]), np.array([1]))[0]
        placeholder = noisy_distribution(exact, NOISE_MODELS["forte-1"], np.array([1]), np.array([1]))[0]
        sigma = np.sqrt(expected * (1 - expected) / 20000)
        assert np.all(np.abs(got - expected) < 5 * sigma + 1e-12)
        assert np.max(np.abs(got - placeholder)) > 5 * np.max(sigma)  # the characterization, not the placeholder
        native = {**body(backend="qpu.forte-1"), "input": {"gateset": "native", "qubits": 3, "circuit": [
            {"gate": "zz", "targets": [1, 2], "angle": 0.25}, {"gate": "zz", "targets": [0, 2], "angle": 0.25}]}}
        r = http.post("jobs", json=native)
        assert r.status_code == 400 and r.json()["validation"]["keys"] == ["input.circuit[1].targets"]
        assert "qubits 0 and 2 are not coupled on qpu.forte-1" in r.json()["message"]
        qis = {**body(backend="qpu.forte-1"), "input": {"gateset": "qis", "qubits": 3, "circuit": [
            {"gate": "cnot", "control": 0, "target": 2}]}}
        assert http.post("jobs", json=qis).status_code == 201  # IonQ compiles and routes QIS circuits
        checker.check(s.exchanges())


def test_the_emulator_process_takes_its_key_from_the_environment_and_injects_command_line_faults():
    import os
    import subprocess
    import sys

    env = {**os.environ, "QSTORE_EMULATOR_KEY": "key-from-env"}
    env.pop("IONQ_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "engine.backends.emulator", "--port", "0", "--seed", "1",
                             "--fault", "503:1:GET /whoami"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=Path(__file__).parent.parent)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("IonQ emulator listening on "), first
        url = first.split()[-1]
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "from $QSTORE_EMULATOR_KEY" in lines[1] and "key-from-env" not in "".join(lines)
        assert "fault 503 on GET /whoami with probability 1" in lines[2]
        assert httpx.get(f"{url}/whoami", headers={"Authorization": "apiKey emulator-key"}).status_code == 401
        assert httpx.get(f"{url}/whoami", headers={"Authorization": "apiKey key-from-env"}).status_code == 503
        assert httpx.get(f"{url}/jobs", headers={"Authorization": "apiKey key-from-env"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_body_nested_past_the_json_parsers_recursion_is_a_400_not_a_500(http):
    """json.loads raises RecursionError on 100,000 nested objects: the emulator answered 500 with a traceback."""
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", "jobs"), ("POST", "sessions"), ("DELETE", "jobs")):
        r = http.request(method, path, content=deep, headers=headers)
        assert r.status_code == 400, (method, path, r.text[:200])
        assert r.json()["message"] == "the request body is not valid JSON: nested too deeply"
