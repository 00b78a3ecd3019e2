"""A local IonQ v0.4 API on 127.0.0.1 (aiohttp), backed by the local simulator, with fault injection.

`EmulatorServer(settings).start()` runs the app in its own thread and event loop and returns the base
URL ("http://127.0.0.1:PORT/v0.4"), so synchronous and asynchronous tests, the benchmark and
`qstore-tui emulator` all use it the same way. Requests and responses follow IonQ's OpenAPI spec;
the emulator's own conventions are stated where they are chosen:
- job results are artifact descriptors (`results_style="artifact"`, the current spec) or URLs ("url");
- `GET /jobs` lists top-level jobs, newest first; child jobs appear when filtered by `parent_job_id`;
- a `slow` or `lost_response` fault on `POST /jobs` creates the job before the response is late or lost;
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
from ...sim.noise import MODEL_NAMES, NOISE_MODELS
from .execute import simulate
from .faults import STATUS_FAULTS, Fault, FaultPlan
from .jobs import PROJECT_ID, EmuJob, JobStore, Timing
from .payload import BACKENDS, MAX_BODY_BYTES, PayloadError, parse_job_body

log = logging.getLogger("engine.emulator")

PREFIX = "/v0.4"
DEFAULT_KEY = "emulator-key"
NO_AUTH = {"GET /backends", "GET /backends/{backend}", "GET /backends/{backend}/characterizations",
           "GET /backends/{backend}/characterizations/{id}"}
QIS_GATES = ["x", "y", "z", "rx", "ry", "rz", "h", "s", "si", "v", "vi", "t", "ti", "not", "cnot", "swap",
             "xx", "yy", "zz"]
HARDWARE_QUBITS = {"simulator": 29, "qpu.aria-1": 25, "qpu.forte-1": 36}
NAMESPACE = uuid.UUID("6f1d3c2e-8b4a-4f5e-9d7c-1a2b3c4d5e6f")
FAIL_WITH = web.RequestKey("fail_with", tuple)  # (code, message) from a job_failed fault
REASONS = {400: "Bad Request", 401: "Unauthorized Error", 404: "Not Found Error", 409: "Conflict",
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
                 "qpu.forte-1": Rate(0.0001, 0.001, 1.0)}


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

    def __post_init__(self) -> None:
        if self.results_style not in ("artifact", "url"):
            raise ValueError(f"results_style must be 'artifact' or 'url', got {self.results_style!r}")
        if not self.api_keys or not all(self.api_keys):
            raise ValueError("the emulator needs at least one non-empty API key")


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
        self.faults.set(settings.faults)
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
        r.add_get(p + "/jobs/{id}", self.get_job)
        r.add_get(p + "/jobs/{id}/cost", self.job_cost)
        r.add_put(p + "/jobs/{id}/status/cancel", self.cancel)
        r.add_get(p + "/jobs/{id}/results/probabilities", self.probabilities)
        r.add_get(p + "/jobs/{id}/results/probabilities/aggregated", self.aggregated)
        r.add_get(p + "/jobs/{id}/artifacts/{artifact}", self.artifact)
        return app

    @staticmethod
    def endpoint(request: web.Request) -> str:
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
        elif fault.kind == "malformed_json" and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)
            return web.Response(status=response.status, body=body[: max(1, len(body) // 2)],
                                content_type="application/json")
        return response

    async def _dispatch(self, request: web.Request, handler: Callable,
                        endpoint: str) -> tuple[web.StreamResponse, Fault | None]:
        """Routing errors, auth, then the fault this request gets, then the handler."""
        if request.match_info.http_exception is not None:
            exc = request.match_info.http_exception
            return _error(exc.status, f"{request.method} {request.path}: {exc.reason}"), None
        if endpoint not in NO_AUTH and not self._authorized(request):
            return _error(401, "Invalid key provided. See https://docs.ionq.com/#authentication for details, "
                               "or email support@ionq.co for help."), None
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
        except PayloadError as e:
            return _error(400, e.message, e.keys)
        job = self.store.create(parsed, request.get(FAIL_WITH))
        if job.failure is not None:
            self.store.set_results(job, None, None)
        else:
            rng = np.random.default_rng(parsed.noise_seed if parsed.noise_seed is not None
                                        else self._seeds.spawn(1)[0])
            task = asyncio.create_task(self._simulate(job, rng))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response({"id": job.id, "status": "submitted", "session_id": None}, status=201)

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
        page, nxt = self.store.list(ids=ids or None, parent=q.get("parent_job_id"), status=status,
                                    targets=targets, limit=limit, after=q.get("next"))
        return web.json_response({"jobs": [self.store.render(j, with_children=False) for j in page], "next": nxt})

    async def get_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        return self._not_found() if job is None else web.json_response(self.store.render(job))

    def _completed(self, request: web.Request) -> EmuJob | web.Response:
        job = self._job(request)
        if job is None or job.status(self.clock()) != "completed" or job.results is None:
            return _error(404, "Job not found or not yet completed.")
        return job

    async def probabilities(self, request: web.Request) -> web.Response:
        job = self._completed(request)
        if isinstance(job, web.Response):
            return job
        if job.child_ids:
            return _error(400, "this is a multi-circuit job: fetch /results/probabilities/aggregated")
        return web.json_response(job.results[0])

    def _aggregate(self, job: EmuJob) -> dict[str, Any]:
        pairs = list(zip(job.child_ids, job.results))
        if self.settings.reverse_aggregates:
            pairs.reverse()
        return dict(pairs)

    async def aggregated(self, request: web.Request) -> web.Response:
        job = self._completed(request)
        if isinstance(job, web.Response):
            return job
        if not job.child_ids:
            return _error(400, "this is not a multi-circuit job: fetch /results/probabilities")
        return web.json_response(self._aggregate(job))

    async def artifact(self, request: web.Request) -> web.Response:
        job = self._completed(request)
        if isinstance(job, web.Response):
            return job
        art = request.match_info["artifact"]
        if art == "probabilities-aggregate" and job.child_ids:
            return web.json_response(self._aggregate(job))
        if art == "probabilities" and not job.child_ids:
            return web.json_response(job.results[0])
        return _error(404, "Job or artifact not found.")

    async def cancel(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return self._not_found()
        self.store.cancel(job.id)
        return web.json_response({"id": job.id, "status": "canceled"})

    async def cancel_many(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "the request body is not valid JSON")
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error(400, '"ids" must be an array of job ids', ("ids",))
        known = [i for i in ids if i in self.store.jobs]
        for i in known:
            self.store.cancel(i)
        return web.json_response({"ids": known, "status": "canceled"})

    def _price(self, backend: str, shots: int, gates_1q: int, gates_2q: int) -> float:
        return self.settings.rates[backend].cost(shots, gates_1q, gates_2q)

    async def job_cost(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return self._not_found()
        one, two = job.job.gate_counts()
        value = self._price(job.job.backend, job.job.shots, one, two)
        out: dict[str, Any] = {"dry_run": job.job.dry_run, "estimated_cost": {"value": value, "unit": "usd"}}
        if job.status(self.clock()) == "completed":
            out["cost"] = {"value": value, "unit": "usd"}
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
                  "qpu.forte-1": ["gpi", "gpi2", "zz"]}[name]
        out: dict[str, Any] = {
            "backend": name, "status": "available", "qubits": self._qubits(name),
            "average_queue_time": int(round(self.settings.timing.queue_s * 1000)),
            "last_updated": self.store.iso(self.clock()), "degraded": False,
            "supported_gates": QIS_GATES, "supported_native_gates": native, "supported_error_mitigations": [],
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
        """The emulator's own model of `backend`: its noise fidelities and its gate time knob."""
        model = NOISE_MODELS[backend.removeprefix("qpu.")]
        q = self._qubits(backend)
        gate_s = _intish(self.settings.timing.exec_per_gate_s)
        return {
            "id": self._characterization_id(backend), "backend": backend, "date": self.store.iso(self.store.started),
            "qubits": q, "connectivity": [[i, j] for i in range(q) for j in range(i + 1, q)],
            "fidelity": {"spam": {"median": model.spam}, "1q": {"median": model.f1q}, "2q": {"median": model.f2q}},
            "timing": {"1q": gate_s, "2q": gate_s, "readout": 0, "reset": 0},
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
    return replace(settings, timing=replace(settings.timing), rates=dict(settings.rates))


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

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(setup())
            except BaseException as e:  # reported to start() in the caller's thread
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

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
            dict(e.faults.injected), e.faults.pending()))

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
            e.faults.set(settings.faults)
            e.faults.injected.clear()
            e._seeds = np.random.SeedSequence(settings.seed)
            e.requests.clear()
            e.exchanges.clear()

        self.call(apply)
