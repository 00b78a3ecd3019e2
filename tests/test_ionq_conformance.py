"""Conformance with IonQ's OpenAPI v0.4 spec (tests/data/openapi-v0.4.json, see tests/data/README.md):
every request body the client sends and every response the emulator returns, recorded over a session that
touches every endpoint, validates against the spec's component schemas."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest

from engine.backends.emulator import EmulatorServer, EmulatorSettings, Exchange, Fault
from engine.backends.ionq import IonQBackend
from engine.backends.ionq_client import IonQClient
from engine.backends.ionq_errors import IonQAuthError, IonQBadRequestError, IonQJobFailedError
from engine.backends.ionq_payload import build_chunks, JobOptions
from engine.circuits import CircuitBatch, TemplateBuilder

SPEC_PATH = Path(__file__).parent / "data" / "openapi-v0.4.json"
SPEC_SHA256 = "3efa571798c8b4c87fe21a240cb57f995d48c846a3a9718936d7023f405ccc4f"
KEY = "emulator-key"


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` as JSON Schema: the type also admits null."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if not (k == "nullable" and isinstance(v, bool))}
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def spec() -> dict:
    raw = SPEC_PATH.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SPEC_SHA256, "tests/data/openapi-v0.4.json is not IonQ's file"
    return {"components": _nullable(copy.deepcopy(json.loads(raw)["components"]))}


def validator(spec: dict, schema: dict) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator({**schema, "components": spec["components"]})


def component(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


RESPONSE_SCHEMAS: dict[tuple[str, int], dict] = {
    ("POST /jobs", 201): component("JobCreationResponse"),
    ("GET /jobs", 200): component("GetJobsResponse"),
    ("GET /jobs/{id}/results/probabilities", 200): component("GetResultsResponse"),
    # Not in v0.4's spec (cirq-ionq reads it); it serves the aggregate artifact's payload.
    ("GET /jobs/{id}/results/probabilities/aggregated", 200): component("IonqResultProbabilitiesAggregateJsonV1"),
    ("PUT /jobs/{id}/status/cancel", 200): component("JobCanceledResponse"),
    ("PUT /jobs/status/cancel", 200): component("JobsCanceledResponse"),
    ("GET /backends", 200): {"type": "array", "items": component("Backend")},
    ("GET /backends/{backend}", 200): component("Backend"),
    ("GET /backends/{backend}/characterizations", 200):
        {"$ref": "#/components/responses/ListCharacterizations/content/application~1json/schema"},
    ("GET /backends/{backend}/characterizations/{id}", 200): component("Characterization"),
    ("GET /whoami", 200): component("Whoami"),
    ("GET /jobs/estimate", 200): component("GetJobEstimateResponse"),
    ("GET /jobs/{id}/cost", 200): component("GetJobCostResponse"),
}


def response_schema(x: Exchange) -> dict:
    if x.status == 400:
        return component("BadRequestError")
    if x.status >= 400:
        return component("Error")
    if x.endpoint == "GET /jobs/{id}":
        return component("MultiCircuitJob" if x.response["type"] == "ionq.multi-circuit.v1" else "SingleCircuitJob")
    if x.endpoint == "GET /jobs/{id}/artifacts/{artifact}":
        aggregate = x.path.endswith("/probabilities-aggregate")
        return component("IonqResultProbabilitiesAggregateJsonV1" if aggregate else "IonqResultProbabilitiesJsonV1")
    return RESPONSE_SCHEMAS[(x.endpoint, x.status)]


def request_schema(x: Exchange) -> dict | None:
    if x.endpoint == "POST /jobs":
        multi = isinstance(x.request, dict) and x.request.get("type") == "ionq.multi-circuit.v1"
        return component("MultiCircuitJobCreationPayload" if multi else "CircuitJobCreationPayload")
    if x.endpoint == "PUT /jobs/status/cancel":
        return component("JobsBulkOperationRequest")
    return None


def template(gateset: str):
    b = TemplateBuilder(3, n_inputs=3, gateset=gateset)
    if gateset == "qis":
        for q in range(3):
            b.gate("ry", q, angles=(b.input(q),))
            b.gate("rz", q, angles=(b.trainable(),))
        b.gate("cnot", 1, controls=(0,))
        b.gate("zz", 1, 2, angles=(b.trainable(),))
        b.gate("h", 0)
    else:
        for q in range(3):
            b.gate("gpi2", q, angles=(b.input(q),))
            b.gate("gpi", q, angles=(b.trainable(),))
        b.gate("zz", 0, 1, angles=(b.trainable(),))
        b.gate("zz", 1, 2, angles=(0.25,))
    return b.build()


def batch(rows: int, gateset: str = "qis") -> CircuitBatch:
    t = template(gateset)
    rng = np.random.default_rng(rows)
    return CircuitBatch(t, rng.normal(size=(rows, t.n_trainable)), rng.normal(size=(rows, 3)))


@pytest.fixture(scope="module")
def exchanges() -> list[Exchange]:
    """A session that touches every endpoint the client and the emulator implement, recorded."""
    import asyncio

    with EmulatorServer(EmulatorSettings(seed=0, record=True)) as server:
        asyncio.run(_session(server))
        return server.exchanges()


async def _session(server: EmulatorServer) -> None:
    fast = dict(poll_initial=0.01, poll_cap=0.03, backoff_base=0.01, backoff_cap=0.02)
    async with IonQClient(server.base_url, KEY, **fast) as c:
        await c.backends()
        await c.request("GET", "/backends/qpu.forte-1", endpoint="GET /backends/{backend}")
        for b in ("simulator", "qpu.aria-1", "qpu.forte-1"):
            page = await c.characterizations(b)
        cid = page["characterizations"][0]["id"]
        await c.request("GET", f"/backends/qpu.forte-1/characterizations/{cid}",
                        endpoint="GET /backends/{backend}/characterizations/{id}")
        await c.whoami()
        await c.estimate("qpu.forte-1", qubits=3, shots=100, gates_1q=10, gates_2q=3, error_mitigation=True)
        await IonQBackend(c, seed=1).run(batch(1), shots=10, seed=1)  # single-circuit job
        multi = await IonQBackend(c).run(batch(4))
        await IonQBackend(c, noise_model="aria-1").run(batch(3), seed=2)
        await IonQBackend(c, backend_name="qpu.forte-1").run(batch(3, "native"), seed=3)
        job = await c.get_job(multi.job_ids[0])
        await c.get_probabilities(job["child_job_ids"][0])
        await c.request("GET", f"/jobs/{job['id']}/results/probabilities/aggregated",
                        endpoint="GET /jobs/{id}/results/probabilities/aggregated")
        await c.get_job(job["child_job_ids"][1])
        await c.job_cost(job["id"])
        _ = [j async for j in c.list_jobs(limit=2)]
        _ = [j async for j in c.list_jobs(parent_job_id=job["id"])]
        await c.cancel(job["id"])
        await c.cancel_many([job["id"], job["child_job_ids"][0]])
        server.set_faults([Fault("job_failed", "POST /jobs", code="TooManyShots"), Fault("429", "GET /whoami"),
                           Fault("503", "GET /whoami")])
        with pytest.raises(IonQJobFailedError):
            await IonQBackend(c).run(batch(2))
        await c.whoami()
        with pytest.raises(IonQBadRequestError):
            await c.get_job("no-such-job")
        (chunk,) = build_chunks(template("qis"), batch(2).angles(), JobOptions(noise_model="forte-1"))
        bad = json.loads(chunk.body)
        bad["input"]["circuits"][0]["circuit"][0]["rotation"] = "abc"
        with pytest.raises(IonQBadRequestError):
            await c.create_job(bad)
    async with IonQClient(server.base_url, "wrong-key", **fast) as c:
        with pytest.raises(IonQAuthError):
            await c.whoami()
    async with httpx.AsyncClient(base_url=server.base_url + "/") as raw:
        big = {"type": "ionq.circuit.v1", "backend": "simulator", "name": "n" * (11 * 2**20),
               "input": {"gateset": "qis", "circuit": []}}
        r = await raw.post("jobs", json=big, headers={"Authorization": f"apiKey {KEY}"})
        assert r.status_code == 413


def test_the_session_covers_every_endpoint_and_the_error_statuses(exchanges):
    endpoints = {x.endpoint for x in exchanges}
    assert endpoints >= {e for e, _ in RESPONSE_SCHEMAS} | {"GET /jobs/{id}", "GET /jobs/{id}/artifacts/{artifact}"}
    assert {x.status for x in exchanges} >= {200, 201, 400, 401, 404, 413, 429, 503}
    types = {x.request["type"] for x in exchanges if x.endpoint == "POST /jobs" and isinstance(x.request, dict)}
    assert types == {"ionq.circuit.v1", "ionq.multi-circuit.v1"}


def test_every_request_body_the_client_sends_conforms(spec, exchanges):
    checked = 0
    for x in exchanges:
        schema = request_schema(x)
        if schema is None or x.status == 413:  # the 413 body is deliberately oversized, not a client body
            continue
        if x.status == 400:  # the deliberately broken body must be refused by the spec too
            assert list(validator(spec, schema).iter_errors(x.request)), "the spec accepts what IonQ refuses"
            continue
        errors = [e.message for e in validator(spec, schema).iter_errors(x.request)]
        assert not errors, f"{x.endpoint}: {errors[:3]}"
        checked += 1
    assert checked >= 6


def test_every_response_the_emulator_returns_conforms(spec, exchanges):
    for x in exchanges:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator(spec, response_schema(x)).iter_errors(x.response)]
        assert not errors, f"{x.endpoint} {x.status}: {errors[:3]}"


def test_the_schemas_catch_what_ionq_would_refuse(spec):
    body = {"type": "ionq.multi-circuit.v1", "backend": "simulator", "metadata": {"k": 1},
            "input": {"gateset": "qis", "circuits": [{"circuit": [{"gate": "h", "target": 0}]}]}}
    v = validator(spec, component("MultiCircuitJobCreationPayload"))
    assert [e.message for e in v.iter_errors(body)] == ["1 is not of type 'string'"]
    body["metadata"] = {"k": "1"}
    assert not list(v.iter_errors(body))
    job = {"id": "x", "status": "running"}
    assert list(validator(spec, component("MultiCircuitJob")).iter_errors(job))
