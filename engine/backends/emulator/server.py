"""A local IonQ v0.4 API on 127.0.0.1 (aiohttp), backed by the local simulator, with fault injection.

`EmulatorServer(settings).start()` runs the app in its own thread and event loop and returns the base
URL ("http://127.0.0.1:PORT/v0.4"), so synchronous and asynchronous tests, the benchmark and
`qstore-tui emulator` all use it the same way. Requests and responses follow IonQ's OpenAPI spec;
the emulator's own conventions are stated where they are chosen:
- job results are artifact descriptors (`results_style="artifact"`, the current spec) or URLs ("url");
- `GET /jobs` lists top-level jobs, newest first; child jobs appear when filtered by `parent_job_id`;
- a `slow` or `lost_response` fault on `POST /jobs` creates the job before the response is late or lost;
  a `late_post` fault holds the request first, so the job is created late (after the client gave up);
- auth is checked before routing: 401 comes before 404 and 405 (and a 405 carries `Allow`);
- dry runs are validated and priced, never executed: `completed` at once with `results: null`;
- sessions enforce their limits at job creation (a 400 naming `session_id`);
- rate cards are illustrative emulator numbers, not IonQ's prices.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
from aiohttp import web

from ...sim import MAX_QUBITS
from ...sim.measure import counts_to_histogram, probabilities_to_json
from ...sim.noise import (
    BUILTIN_CHARACTERIZATIONS, MODEL_NAMES, NOISE_MODELS, NoiseModel, noise_model_from_characterization,
)
from .execute import CircuitResult, simulate
from .faults import STATUS_FAULTS, Fault, FaultPlan
from .jobs import PROJECT_ID, EmuJob, JobStore, Timing
from .payload import BACKENDS, MAX_BODY_BYTES, ParsedJob, PayloadError, check_connectivity, parse_job_body
from .sessions import ORGANIZATION_ID, EmuSession, SessionStore

log = logging.getLogger("engine.emulator")

PREFIX = "/v0.4"
DEFAULT_KEY = "emulator-key"
NO_AUTH = {"GET /backends", "GET /backends/{backend}", "GET /backends/{backend}/characterizations",
           "GET /backends/{backend}/characterizations/{id}"}
QIS_GATES = ["x", "y", "z", "rx", "ry", "rz", "h", "s", "si", "v", "vi", "t", "ti", "not", "cnot", "swap",
             "xx", "yy", "zz"]
HARDWARE_QUBITS = {"simulator": 29, "qpu.aria-1": 25, "qpu.forte-1": 36, "qpu.forte-enterprise-1": 36}
NAMESPACE = uuid.UUID("6f1d3c2e-8b4a-4f5e-9d7c-1a2b3c4d5e6f")
FAIL_WITH = web.RequestKey("fail_with", tuple)  # (code, message) from a job_failed fault
JOB_STATUSES = ("submitted", "ready", "started", "canceled", "failed", "completed")
REASONS = {400: "Bad Request", 401: "Unauthorized Error", 404: "Not Found Error", 405: "Method Not Allowed",
           409: "Conflict",
           413: "Request Entity Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 520: "Unknown Error"}


@dataclass(frozen=True)
class Rate:
    """Illustrative emulator prices per gate-shot, and a job minimum (IonQ's come from /jobs/estimate)."""

    cost_1q_gate: float
    cost_2q_gate: float
    job_cost_minimum: float

    def cost(self, shots: int, gates_1q: int, gates_2q: int) -> float:
        c = shots * (gates_1q * self.cost_1q_gate + gates_2q * self.cost_2q_gate)
        return max(c, self.job_cost_minimum) if c > 0 else 0.0


DEFAULT_RATES = {"simulator": Rate(0.0, 0.0, 0.0), "qpu.aria-1": Rate(0.0001, 0.001, 1.0),
                 "qpu.forte-1": Rate(0.0001, 0.001, 1.0), "qpu.forte-enterprise-1": Rate(0.0001, 0.001, 1.0)}


@dataclass
class EmulatorSettings:
    port: int = 0  # 0: any free port
    api_keys: tuple[str, ...] = field(default=(DEFAULT_KEY,), repr=False)
    latency_s: float = 0.0  # added to every request
    timing: Timing = field(default_factory=Timing)
    results_style: str = "artifact"  # or "url"
    max_qubits: int = MAX_QUBITS
    faults: tuple[Fault, ...] = ()
    seed: int | None = None  # for noisy sampling when a job gives no noise.seed
    record: bool = False  # keep every request and response body (conformance tests)
    reverse_aggregates: bool = False  # list aggregated results in reverse child order (JSON order means nothing)
    clock: Callable[[], float] | None = None  # defaults to time.monotonic
    rates: dict[str, Rate] = field(default_factory=lambda: dict(DEFAULT_RATES))
    # A backend's characterization body (e.g. read from a file, or a live one saved from IonQ): served by
    # /backends/{b}/characterizations and used as that backend's noise model (and the simulator's model
    # of the same name). Backends without one use the built-in bodies of engine.sim.noise.
    characterizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    noise_models: dict[str, NoiseModel] = field(default_factory=dict)  # model name -> model, from those bodies
    # An untimed job (all Timing figures 0) with at most this many gates (x 2**(qubits-10) above 10 qubits) is
    # simulated before its POST answers, so a client's first poll finds it completed; 0 turns this off.
    inline_max_gates: int = 20_000

    def __post_init__(self) -> None:
        if self.results_style not in ("artifact", "url"):
            raise ValueError(f"results_style must be 'artifact' or 'url', got {self.results_style!r}")
        if not self.api_keys or not all(self.api_keys):
            raise ValueError("the emulator needs at least one non-empty API key")
        for backend, body in self.characterizations.items():
            if backend not in BACKENDS or backend == "simulator":
                raise ValueError(f"characterizations: {backend!r} is not a QPU backend of the emulator")
            name = backend.removeprefix("qpu.")
            if name not in self.noise_models:
                self.noise_models[name] = noise_model_from_characterization(body, name=name,
                                                                            defaults=NOISE_MODELS[name])


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its response (bodies parsed as JSON where they are JSON)."""

    method: str
    path: str
    endpoint: str
    request: Any
    status: int
    response: Any


@dataclass(frozen=True)
class EmulatorCounters:
    jobs_created: int
    duplicates: int
    circuits_received: int
    requests: dict[str, int]
    faults_injected: dict[str, int]
    faults_pending: int
    jobs_executed: int = 0  # simulations run; a dry run is never one
    dry_runs: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def _error(status: int, message: str, keys: tuple[str, ...] = (), source: str = "body",
           headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": REASONS.get(status, "Error"), "message": message, "statusCode": status}
    if keys:
        body["validation"] = {"keys": list(keys), "source": source}
    return web.json_response(body, status=status, headers=headers)


def _reset(request: web.Request) -> None:
    """Drop the client's connection with a TCP RST (no response at all)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _intish(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


class Emulator:
    """The app's state and handlers; lives on the server's event loop."""

    def __init__(self, settings: EmulatorSettings):
        self.settings = settings
        self.clock = settings.clock or time.monotonic
        self.store = JobStore(settings.timing, self.clock, time.time(), settings.results_style)
        self.faults = FaultPlan()
        self.faults.set(settings.faults, seed=settings.seed)
        self.sessions = SessionStore(self.clock, self.store.iso)
        self.requests: Counter = Counter()
        self.exchanges: list[Exchange] = []
        self._seeds = np.random.SeedSequence(settings.seed)
        self._tasks: set[asyncio.Task] = set()

    # -------------------------------------------------------------------------------------- plumbing

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        r = app.router
        p = PREFIX
        r.add_get(p + "/whoami", self.whoami)
        r.add_get(p + "/backends", self.backends)
        r.add_get(p + "/backends/{backend}", self.backend)
        r.add_get(p + "/backends/{backend}/characterizations", self.characterizations)
        r.add_get(p + "/backends/{backend}/characterizations/{id}", self.characterization)
        r.add_get(p + "/jobs/estimate", self.estimate)
        r.add_put(p + "/jobs/status/cancel", self.cancel_many)
        r.add_post(p + "/jobs", self.create_job)
        r.add_get(p + "/jobs", self.list_jobs)
        r.add_delete(p + "/jobs", self.delete_many)
        r.add_get(p + "/jobs/{id}", self.get_job)
        r.add_delete(p + "/jobs/{id}", self.delete_job)
        r.add_get(p + "/jobs/{id}/cost", self.job_cost)
        r.add_put(p + "/jobs/{id}/status/cancel", self.cancel)
        r.add_get(p + "/jobs/{id}/results/probabilities", self.probabilities)
        r.add_get(p + "/jobs/{id}/results/probabilities/aggregated", self.aggregated)
        r.add_get(p + "/jobs/{id}/results/histogram", self.histogram)
        r.add_get(p + "/jobs/{id}/results/shots", self.shots)
        r.add_get(p + "/jobs/{id}/artifacts/{artifact}", self.artifact)
        r.add_post(p + "/sessions", self.create_session)
        r.add_get(p + "/sessions", self.list_sessions)
        r.add_get(p + "/sessions/{session_id}", self.get_session)
        r.add_post(p + "/sessions/{session_id}/end", self.end_session)
        r.add_get(p + "/sessions/{session_id}/jobs", self.session_jobs)
        return app

    @staticmethod
    def endpoint(request: web.Request) -> str:
        if request.match_info.http_exception is not None:  # unrouted: label by the path as sent
            return f"{request.method} {request.path.removeprefix(PREFIX)}"
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        return f"{request.method} {canonical.removeprefix(PREFIX)}"

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("apiKey "):
            return False
        given = header[len("apiKey "):].encode()
        return any(hmac.compare_digest(given, k.encode()) for k in self.settings.api_keys)

    def _key_index(self, request: web.Request) -> int:
        given = request.headers.get("Authorization", "")[len("apiKey "):]
        return next(i for i, k in enumerate(self.settings.api_keys) if hmac.compare_digest(given.encode(), k.encode()))

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        endpoint = self.endpoint(request)
        self.requests[endpoint] += 1
        if self.settings.latency_s:
            await asyncio.sleep(self.settings.latency_s)
        response, fault = await self._dispatch(request, handler, endpoint)
        if self.settings.record and not (fault is not None and fault.kind == "reset"):
            await self._record(request, endpoint, response)
        if fault is None:
            return response
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
        elif fault.kind in ("reset", "lost_response"):
            _reset(request)
        elif (fault.kind == "malformed_json" and isinstance(response, web.Response)
              and isinstance(response.body, (bytes, bytearray)) and response.body):
            body = bytes(response.body)
            return web.Response(status=response.status, body=body[: max(1, len(body) // 2)],
                                content_type="application/json")
        return response

    async def _dispatch(self, request: web.Request, handler: Callable,
                        endpoint: str) -> tuple[web.StreamResponse, Fault | None]:
        """Auth (before anything else, as IonQ: 401 before 404 or 405), routing errors, the fault this request
        gets, then the handler."""
        if endpoint not in NO_AUTH and not self._authorized(request):
            return _error(401, "Invalid key provided. See https://docs.ionq.com/#authentication for details, "
                               "or email support@ionq.co for help."), None
        if request.match_info.http_exception is not None:
            exc = request.match_info.http_exception
            headers = None
            if isinstance(exc, web.HTTPMethodNotAllowed):
                headers = {"Allow": ", ".join(sorted(exc.allowed_methods))}
            return _error(exc.status, f"{request.method} {request.path}: {exc.reason}", headers=headers), None
        fault = self.faults.take(endpoint)
        if fault is not None and fault.kind in STATUS_FAULTS:
            status = int(fault.kind)
            headers = {"Retry-After": f"{fault.retry_after:g}"} if status == 429 else None
            message = ("Too Many Requests. To get a higher rate limit, please reach out to support@ionq.co"
                       if status == 429 else f"injected {status}")
            return _error(status, message, headers=headers), fault
        if fault is not None and fault.kind == "reset":  # dropped before any processing
            return web.Response(status=204), fault
        if fault is not None and fault.kind == "job_failed":
            request[FAIL_WITH] = (fault.code, fault.message)
        if fault is not None and fault.kind == "late_post":  # the request lands late: after the client's timeout
            if request.body_exists:
                await request.read()  # keep the body: the client may close the connection meanwhile
            await asyncio.sleep(fault.delay_s)
        return await handler(request), fault

    async def _record(self, request: web.Request, endpoint: str, response: web.StreamResponse) -> None:
        raw = await request.read() if request.body_exists else b""
        body = getattr(response, "body", None)

        def parse(b: Any) -> Any:
            try:
                return json.loads(bytes(b)) if b else None
            except ValueError:
                return bytes(b).decode(errors="replace")

        self.exchanges.append(Exchange(request.method, request.path_qs, endpoint, parse(raw), response.status,
                                       parse(body)))

    def _job(self, request: web.Request) -> EmuJob | None:
        return self.store.jobs.get(request.match_info["id"])

    @staticmethod
    def _not_found() -> web.Response:
        return _error(404, "Resource not found. See https://docs.ionq.com/ for details, or email support@ionq.co "
                           "for help.")

    # ------------------------------------------------------------------------------------------ jobs

    async def create_job(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, "The request body may not exceed 10MB")
        try:
            body = json.loads(raw)
        except ValueError as e:
            return _error(400, f"the request body is not valid JSON: {e}")
        try:
            parsed = parse_job_body(body, max_qubits=self.settings.max_qubits)
            parsed.noise_override = self.settings.noise_models.get(parsed.noise_model)
            check_connectivity(parsed, parsed.noise_override or NOISE_MODELS.get(parsed.noise_model))
            session = None
            if parsed.session_id is not None:
                one, two = parsed.gate_counts()
                session = self.sessions.admit(parsed.session_id, parsed.backend,
                                              self._price(parsed.backend, parsed.shots, one, two),
                                              self._session_spend(parsed.session_id))
        except PayloadError as e:
            return _error(400, e.message, e.keys)
        job = self.store.create(parsed, request.get(FAIL_WITH))
        if session is not None:
            self.sessions.join(session, job.id)
        if parsed.dry_run:
            pass  # validated and priced only
        elif job.failure is not None:
            self.store.set_results(job, None, None)
        else:
            self.store.jobs_executed += 1
            rng = np.random.default_rng(parsed.noise_seed if parsed.noise_seed is not None
                                        else self._seeds.spawn(1)[0])
            if self._instant(parsed):  # nothing to wait for: done before the POST answers, as a client polls
                await self._simulate(job, rng)
            else:
                task = asyncio.create_task(self._simulate(job, rng))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return web.json_response({"id": job.id, "status": "submitted", "session_id": job.session_id}, status=201)

    def _instant(self, job: ParsedJob) -> bool:
        """A job the time model gives no duration, small enough (inline_max_gates) to simulate at once."""
        t = self.settings.timing
        untimed = not (t.submit_s or t.queue_s or t.job_overhead_s or t.exec_per_gate_s or t.exec_per_shot_s)
        gates = sum(len(c.gates) for c in job.circuits) * (2 ** max(0, job.n_qubits - 10))
        return untimed and gates <= self.settings.inline_max_gates

    async def _simulate(self, job: EmuJob, rng: np.random.Generator) -> None:
        try:
            results = await asyncio.get_running_loop().run_in_executor(None, simulate, job.job, rng)
        except Exception as e:  # reported to the client as IonQ does: a failed job with SimulationError
            log.exception("emulator simulation failed for job %s", job.id)
            self.store.set_results(job, None, f"{type(e).__name__}: {e}")
            return
        self.store.set_results(job, results, None)

    async def list_jobs(self, request: web.Request) -> web.Response:
        q = request.query
        ids = q.getall("ids", []) + q.getall("ids[]", [])
        ids = [i for raw in ids for i in raw.split(",") if i]
        targets = [t for t in q.get("target", "").split(",") if t] or None
        try:
            limit = int(q.get("limit", "25"))
        except ValueError:
            return _error(400, '"limit" must be an integer', ("limit",), "params")
        if not 1 <= limit <= 1000:
            return _error(400, '"limit" must be between 1 and 1000', ("limit",), "params")
        status = q.get("status")
        if status == "running":
            status = "started"
        if status is not None and status not in JOB_STATUSES:
            return _error(400, f'"status" must be one of [{", ".join(JOB_STATUSES)}], got {status!r}', ("status",),
                          "params")
        session = request.match_info.get("session_id") or q.get("session_id")
        page, nxt = self.store.list(ids=ids or None, parent=q.get("parent_job_id"), status=status,
                                    targets=targets, limit=limit, after=q.get("next"), session=session)
        return web.json_response({"jobs": [self.store.render(j, with_children=False) for j in page], "next": nxt})

    async def get_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        return self._not_found() if job is None else web.json_response(self.store.render(job))

    def _completed(self, request: web.Request) -> tuple[EmuJob, list[CircuitResult]] | web.Response:
        job = self._job(request)
        if job is not None and job.dry_run:
            return _error(404, "Job not found or not yet completed: a dry run is validated and priced, never "
                               "executed, so it has no results.")
        if job is None or job.status(self.clock()) != "completed" or job.results is None:
            return _error(404, "Job not found or not yet completed.")
        return job, job.results

    @staticmethod
    def _aggregation(request: web.Request) -> str | web.Response:
        """Which aggregation a results request asks for: `sharpen=true` (cirq-ionq, the spec) or
        `aggregation=average|voting` (newer qiskit-ionq); average by default."""
        q = request.query
        sharpen = q.get("sharpen")
        if sharpen is not None and sharpen.lower() not in ("true", "false"):
            return _error(400, '"sharpen" must be a boolean', ("sharpen",), "params")
        method = q.get("aggregation", "voting" if (sharpen or "").lower() == "true" else "average")
        if method not in ("average", "voting"):
            return _error(400, f'"aggregation" must be one of [average, voting] in the emulator, got {method!r}',
                          ("aggregation",), "params")
        return method

    @staticmethod
    def _distribution(r: CircuitResult, method: str) -> dict[str, float]:
        """A debiased result's aggregation; a job without debiasing has one distribution (IonQ ignores sharpen)."""
        return r.voting if method == "voting" and r.voting is not None else r.probabilities

    async def probabilities(self, request: web.Request) -> web.Response:
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        job, results = done
        method = self._aggregation(request)
        if isinstance(method, web.Response):
            return method
        if job.child_ids:
            return _error(400, "this is a multi-circuit job: fetch /results/probabilities/aggregated")
        return web.json_response(self._distribution(results[0], method))

    def _aggregate(self, job: EmuJob, results: list[CircuitResult], method: str = "average") -> dict[str, Any]:
        pairs = [(cid, self._distribution(r, method)) for cid, r in zip(job.child_ids, results)]
        if self.settings.reverse_aggregates:
            pairs.reverse()
        return dict(pairs)

    async def aggregated(self, request: web.Request) -> web.Response:
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        job, results = done
        method = self._aggregation(request)
        if isinstance(method, web.Response):
            return method
        if not job.child_ids:
            return _error(400, "this is not a multi-circuit job: fetch /results/probabilities")
        return web.json_response(self._aggregate(job, results, method))

    def _shot_counts(self, request: web.Request) -> np.ndarray | web.Response:
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        job, results = done
        if job.child_ids:
            return _error(404, "Histogram and per-shot results are per circuit: fetch them from each child job.")
        counts = results[0].counts
        if counts is None:
            return _error(404, "The ideal simulator returns exact probabilities: no histogram or per-shot results.")
        return counts

    async def histogram(self, request: web.Request) -> web.Response:
        counts = self._shot_counts(request)
        return counts if isinstance(counts, web.Response) else web.json_response(counts_to_histogram(counts))

    async def shots(self, request: web.Request) -> web.Response:
        counts = self._shot_counts(request)
        return counts if isinstance(counts, web.Response) else web.json_response(self._shot_list(request, counts))

    @staticmethod
    def _shot_list(request: web.Request, counts: np.ndarray) -> list[str]:
        """One outcome per shot, in a shot order that is random but the same on every request."""
        seed = int.from_bytes(uuid.UUID(request.match_info["id"]).bytes[:8], "little")
        order = np.random.default_rng(seed).permutation(np.repeat(np.arange(counts.shape[0]), counts))
        return [str(int(k)) for k in order]

    async def artifact(self, request: web.Request) -> web.Response:
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        job, results = done
        art = request.match_info["artifact"]
        if art == "probabilities-aggregate" and job.child_ids:
            return web.json_response(self._aggregate(job, results))
        if job.child_ids:
            return _error(404, "Job or artifact not found.")
        r = results[0]
        if art == "probabilities":
            return web.json_response(r.probabilities)
        if art in ("histogram", "shots") and r.counts is not None:
            return web.json_response(counts_to_histogram(r.counts) if art == "histogram"
                                     else self._shot_list(request, r.counts))
        if art in ("aggregation-average", "aggregation-voting") and r.voting is not None:
            dist = r.voting if art.endswith("voting") else r.probabilities
            n = job.job.n_qubits
            shots = job.job.shots
            return web.json_response({"histogram": {"registers": {"output_all": {
                format(int(k), f"0{n}b"): p * shots for k, p in dist.items()}}}})
        for v in r.variants:
            if art == f"variant-{v.variant_id}-probabilities":
                return web.json_response(probabilities_to_json(v.counts / float(v.shots)))
            if art == f"variant-{v.variant_id}-histogram":
                return web.json_response(counts_to_histogram(v.counts))
        return _error(404, "Job or artifact not found.")

    async def delete_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return self._not_found()
        self._delete(job.id)
        return web.json_response({"id": job.id, "status": "deleted"})

    def _delete(self, job_id: str) -> bool:
        """Delete a job; what it cost stays in its session's spend (deleting never frees budget)."""
        job = self.store.jobs.get(job_id)
        if job is None:
            return False
        if job.parent_id is None and job.session_id in self.sessions.sessions:
            self.sessions.sessions[job.session_id].spent_deleted += self._job_cost(job)[1]
        return bool(self.store.delete(job_id))

    async def delete_many(self, request: web.Request) -> web.Response:
        ids = await self._ids(request)
        if isinstance(ids, web.Response):
            return ids
        deleted = [i for i in ids if self._delete(i)]
        return web.json_response({"ids": deleted, "status": "deleted"})

    async def _ids(self, request: web.Request) -> list[str] | web.Response:
        """The `{"ids": [...]}` body of a bulk operation."""
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "the request body is not valid JSON")
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error(400, '"ids" must be an array of job ids', ("ids",))
        if isinstance(body, dict) and set(body) - {"ids"}:
            extra = sorted(set(body) - {"ids"})[0]
            return _error(400, f'"{extra}" is not allowed', (extra,))
        return ids

    # -------------------------------------------------------------------------------------- sessions

    def _session_spend(self, session_id: str) -> float:
        s = self.sessions.sessions.get(session_id)
        if s is None:
            return 0.0
        return s.spent_deleted + sum(self._job_cost(self.store.jobs[j])[1] for j in s.job_ids if j in self.store.jobs)

    def _session(self, request: web.Request) -> EmuSession | None:
        return self.sessions.sessions.get(request.match_info["session_id"])

    async def create_session(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError as e:
            return _error(400, f"the request body is not valid JSON: {e}")
        try:
            s = self.sessions.create(body)
        except PayloadError as e:
            return _error(400, e.message, e.keys)
        return web.json_response(self.sessions.render(s), status=201)

    async def list_sessions(self, request: web.Request) -> web.Response:
        active = request.query.get("active")
        if active is not None and active.lower() not in ("true", "false"):
            return _error(400, '"active" must be a boolean', ("active",), "params")
        items = [self.sessions.render(s) for s in reversed(list(self.sessions.sessions.values()))]
        if active is not None:
            items = [i for i in items if i["active"] == (active.lower() == "true")]
        return web.json_response({"organization_id": ORGANIZATION_ID, "sessions": items})

    async def get_session(self, request: web.Request) -> web.Response:
        s = self._session(request)
        return self._not_found() if s is None else web.json_response(self.sessions.render(s))

    async def end_session(self, request: web.Request) -> web.Response:
        s = self._session(request)
        if s is None:
            return self._not_found()
        self.sessions.end(s)
        return web.json_response(self.sessions.render(s))

    async def session_jobs(self, request: web.Request) -> web.Response:
        if self._session(request) is None:
            return self._not_found()
        return await self.list_jobs(request)

    async def cancel(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return self._not_found()
        self.store.cancel(job.id)
        return web.json_response({"id": job.id, "status": "canceled"})

    async def cancel_many(self, request: web.Request) -> web.Response:
        ids = await self._ids(request)
        if isinstance(ids, web.Response):
            return ids
        known = [i for i in ids if i in self.store.jobs]
        for i in known:
            self.store.cancel(i)
        return web.json_response({"ids": known, "status": "canceled"})

    def _price(self, backend: str, shots: int, gates_1q: int, gates_2q: int) -> float:
        return self.settings.rates[backend].cost(shots, gates_1q, gates_2q)

    def _job_cost(self, job: EmuJob) -> tuple[float, float, bool]:
        """(estimated, committed, final) cost of a job. Committed is what it costs so far: nothing for a dry
        run or a job canceled before it started or failed before it ran, the estimate otherwise. Final: the
        actual cost is known (the job is done; a dry run's is 0)."""
        if job.parent_id is not None:  # a child's share is billed on its parent
            circuits = [job.job.circuits[job.index]]
            one = sum(c.counts()[0] for c in circuits)
            two = sum(len(c.gates) for c in circuits) - one
        else:
            one, two = job.job.gate_counts()
        estimate = self._price(job.job.backend, job.job.shots, one, two)
        status = job.status(self.clock())
        if job.job.dry_run:
            return estimate, 0.0, True
        if status == "canceled":
            ran = job.canceled_at is not None and job.canceled_at >= job.start_at
            return estimate, estimate if ran else 0.0, True
        if status == "failed":
            return estimate, 0.0, True
        return estimate, estimate, status == "completed"

    async def job_cost(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return self._not_found()
        estimate, committed, final = self._job_cost(job)
        out: dict[str, Any] = {"dry_run": job.job.dry_run, "estimated_cost": {"value": estimate, "unit": "usd"}}
        if final:
            out["cost"] = {"value": committed, "unit": "usd"}
        return web.json_response(out)

    async def estimate(self, request: web.Request) -> web.Response:
        q = request.query
        backend = q.get("backend")
        if backend not in BACKENDS:
            return _error(400, f'"backend" must be one of [{", ".join(BACKENDS)}]', ("backend",), "params")
        values: dict[str, int] = {}
        for key, default, lo, hi in (("qubits", 25, 1, 1000), ("shots", 1000, 1, 1_000_000),
                                     ("1q_gates", 0, 0, 10**9), ("2q_gates", 0, 0, 10**9)):
            try:
                values[key] = int(q.get(key, default))
            except ValueError:
                return _error(400, f'"{key}" must be an integer', (key,), "params")
            if not lo <= values[key] <= hi:
                return _error(400, f'"{key}" must be between {lo} and {hi}', (key,), "params")
        em = q.get("error_mitigation", "false").lower() == "true"
        t = self.settings.timing
        exec_s = t.execution_s(values["1q_gates"] + values["2q_gates"], values["shots"], 1)
        rate = self.settings.rates[backend]
        return web.json_response({
            "estimate_context": {"backend": backend, "type": q.get("type", "ionq.circuit.v1"),
                                 "qubits": values["qubits"], "shots": values["shots"],
                                 "1q_gates": values["1q_gates"], "2q_gates": values["2q_gates"],
                                 "error_mitigation": em, "organization": None, "project": PROJECT_ID},
            "estimated_at": self.store.iso(self.clock()),
            "estimated_unit": "usd",
            "rate_card": {"id": f"emulator-{backend}", "rates": [{
                "sku": f"emulator-{backend}", "unit": "gates", "cost_1q_gate": rate.cost_1q_gate,
                "cost_2q_gate": rate.cost_2q_gate, "job_cost_minimum": rate.job_cost_minimum}]},
            "estimated_total_cost": self._price(backend, values["shots"], values["1q_gates"], values["2q_gates"]),
            "estimated_execution_time": int(round(exec_s * 1000)),
            "current_predicted_queue_time": int(round(t.queue_s * 1000)),
        })

    # -------------------------------------------------------------------------------- backends, keys

    def _qubits(self, backend: str) -> int:
        return min(HARDWARE_QUBITS[backend], self.settings.max_qubits)

    def _backend(self, name: str) -> dict[str, Any]:
        native = {"simulator": ["gpi", "gpi2", "ms", "zz"], "qpu.aria-1": ["gpi", "gpi2", "ms"],
                  "qpu.forte-1": ["gpi", "gpi2", "zz"], "qpu.forte-enterprise-1": ["gpi", "gpi2", "zz"]}[name]
        out: dict[str, Any] = {
            "backend": name, "status": "available", "qubits": self._qubits(name),
            "average_queue_time": int(round(self.settings.timing.queue_s * 1000)),
            "last_updated": self.store.iso(self.clock()), "degraded": False,
            "supported_gates": QIS_GATES, "supported_native_gates": native,
            "supported_error_mitigations": [] if name == "simulator" else ["debiasing"],
        }
        if name == "simulator":
            out["noise_models"] = list(MODEL_NAMES)
        else:
            out["characterization_id"] = self._characterization_id(name)
        return out

    @staticmethod
    def _characterization_id(backend: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"characterization:{backend}"))

    def _characterization(self, backend: str) -> dict[str, Any]:
        """A characterization body given in the settings (e.g. read from a file), served as it is; otherwise
        the emulator's own model of `backend`: the built-in body's fidelities and T1/T2, all-to-all
        connectivity and its gate time knob (timings are integers of seconds, as the spec types them)."""
        given = self.settings.characterizations.get(backend)
        if given is not None:
            return {**given, "id": self._characterization_id(backend), "backend": backend}
        model = NOISE_MODELS[backend.removeprefix("qpu.")]
        builtin = BUILTIN_CHARACTERIZATIONS[backend.removeprefix("qpu.")]
        q = self._qubits(backend)
        gate_s = _intish(self.settings.timing.exec_per_gate_s)
        timing: dict[str, Any] = {"1q": gate_s, "2q": gate_s, "readout": 0, "reset": 0}
        source_timing = builtin.get("timing")
        if isinstance(source_timing, dict):
            timing |= {k: source_timing[k] for k in ("t1", "t2") if k in source_timing}
        return {
            "id": self._characterization_id(backend), "backend": backend, "date": self.store.iso(self.store.started),
            "qubits": q, "connectivity": [[i, j] for i in range(q) for j in range(i + 1, q)],
            "fidelity": {"spam": {"median": model.spam}, "1q": {"median": model.f1q}, "2q": {"median": model.f2q}},
            "timing": timing,
        }

    async def backends(self, request: web.Request) -> web.Response:
        return web.json_response([self._backend(b) for b in BACKENDS])

    async def backend(self, request: web.Request) -> web.Response:
        name = request.match_info["backend"]
        return web.json_response(self._backend(name)) if name in BACKENDS else self._not_found()

    async def characterizations(self, request: web.Request) -> web.Response:
        name = request.match_info["backend"]
        if name not in BACKENDS:
            return self._not_found()
        items = [] if name == "simulator" else [self._characterization(name)]
        return web.json_response({"characterizations": items, "pages": 0})

    async def characterization(self, request: web.Request) -> web.Response:
        name = request.match_info["backend"]
        if name not in BACKENDS or name == "simulator" or request.match_info["id"] != self._characterization_id(name):
            return self._not_found()
        return web.json_response(self._characterization(name))

    async def whoami(self, request: web.Request) -> web.Response:
        i = self._key_index(request)
        return web.json_response({"key_id": str(uuid.uuid5(NAMESPACE, f"key:{i}")), "key_name": f"emulator key {i + 1}",
                                  "project_id": PROJECT_ID})


def _copy(settings: EmulatorSettings) -> EmulatorSettings:
    return replace(settings, timing=replace(settings.timing), rates=dict(settings.rates),
                   characterizations=dict(settings.characterizations), noise_models=dict(settings.noise_models))


class EmulatorServer:
    """Runs an Emulator on 127.0.0.1 in a thread with its own event loop."""

    def __init__(self, settings: EmulatorSettings | None = None):
        self.settings = settings or EmulatorSettings()
        self._initial = self.settings
        self.emulator: Emulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start serving; return the base URL, e.g. "http://127.0.0.1:8765/v0.4"."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        async def setup() -> None:
            self.emulator = Emulator(_copy(self._initial))
            self._runner = web.AppRunner(self.emulator.app(), access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.settings.port)
            await site.start()
            host, port = self._runner.addresses[0][:2]
            self.base_url = f"http://127.0.0.1:{port}{PREFIX}"

        loop = self._loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup())
            except BaseException as e:  # reported to start() in the caller's thread
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="ionq-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> "EmulatorServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[Emulator], Any]) -> Any:
        """Run `fn(emulator)` on the server's loop (state is only touched there) and return its result."""
        if self._loop is None or self.emulator is None:
            raise RuntimeError("the emulator is not running")
        emulator = self.emulator

        async def run() -> Any:
            return fn(emulator)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def set_faults(self, faults: list[Fault] | tuple[Fault, ...]) -> None:
        self.call(lambda e: e.faults.set(faults))

    def counters(self) -> EmulatorCounters:
        return self.call(lambda e: EmulatorCounters(
            e.store.jobs_created, e.store.duplicates, e.store.circuits_received, dict(e.requests),
            dict(e.faults.injected), e.faults.pending(), e.store.jobs_executed, e.store.dry_runs))

    def exchanges(self) -> list[Exchange]:
        return self.call(lambda e: list(e.exchanges))

    def reset(self, **changes: Any) -> None:
        """A fresh emulator on the same port: no jobs, counters or exchanges; the initial settings with
        `changes` applied (e.g. `latency_s=0.1`, `timing=Timing(...)`, `faults=(...)`, `clock=...`)."""
        settings = replace(_copy(self._initial), **changes)

        def apply(e: Emulator) -> None:
            e.settings = settings
            e.clock = settings.clock or time.monotonic
            e.store = JobStore(settings.timing, e.clock, time.time(), settings.results_style)
            e.sessions = SessionStore(e.clock, e.store.iso)
            e.faults.set(settings.faults, seed=settings.seed)
            e.faults.injected.clear()
            e._seeds = np.random.SeedSequence(settings.seed)
            e.requests.clear()
            e.exchanges.clear()

        self.call(apply)
