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
import logging
import threading
import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from ...sim.noise import NOISE_MODELS
from .base import EmulatorBase
from .clone import clone_body
from .execute import SimulationCanceled, simulate
from .faults import STATUS_FAULTS, Fault
from .jobs import EmuJob, JobStore
from .payload import MAX_BODY_BYTES, ParsedJob, PayloadError, check_connectivity, parse_job_body
from .replies import PREFIX, error as _error, not_found, request_json, reset_connection
from .routes_account import AccountRoutes
from .routes_results import ResultRoutes
from .routes_sessions import SessionRoutes
from .sessions import SessionStore
from .settings import DEFAULT_KEY, DEFAULT_RATES, EmulatorCounters, EmulatorSettings, Exchange, Rate

__all__ = ["DEFAULT_KEY", "DEFAULT_RATES", "PREFIX", "Emulator", "EmulatorCounters", "EmulatorServer",
           "EmulatorSettings", "Exchange", "Rate"]

log = logging.getLogger("engine.emulator")

NO_AUTH = {"GET /backends", "GET /backends/{backend}", "GET /backends/{backend}/characterizations",
           "GET /backends/{backend}/characterizations/{id}"}
FAIL_WITH = web.RequestKey("fail_with", tuple)  # (code, message) from a job_failed fault
JOB_STATUSES = ("submitted", "ready", "started", "canceled", "failed", "completed")
TOO_LARGE = "The request body may not exceed 10MB"
MAX_HEADER_BYTES = 64 * 1024  # aiohttp's 8190 refuses a long API key, quoting it in a text/plain 400
MAX_READ_BYTES = 64 * 1024 * 1024  # what aiohttp reads of a body without a Content-Length before its 413


class _BadRequestLog(logging.Filter):
    """aiohttp logs a malformed request with a traceback and its message, which quotes the header line (an API
    key): one line naming the error's class instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args, record.exc_info = "refused a malformed request (%s)", (type(exc).__name__,), None
        return True


BAD_REQUEST_LOG = _BadRequestLog()


class Emulator(ResultRoutes, SessionRoutes, AccountRoutes, EmulatorBase):
    """The app: routing, auth, faults and recording, and the job routes."""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_READ_BYTES)
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
        r.add_post(p + "/jobs/{id}/clone", self.clone_job)
        r.add_post(p + "/jobs/{id}/move", self.move_job)
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

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = self.endpoint(request)
        self.requests[endpoint] += 1
        if self.settings.latency_s:
            await asyncio.sleep(self.settings.latency_s)
        try:
            response, fault = await self._dispatch(request, handler, endpoint)
        except web.HTTPRequestEntityTooLarge:  # a chunked body past MAX_READ_BYTES: IonQ's JSON 413, not aiohttp's
            return _error(413, TOO_LARGE)
        if self.settings.record and not (fault is not None and fault.kind == "reset"):
            await self._record(request, endpoint, response)
        if fault is None:
            return response
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
        elif fault.kind in ("reset", "lost_response"):
            reset_connection(request)
        elif (fault.kind == "malformed_json" and isinstance(response, web.Response)
              and isinstance(response.body, (bytes, bytearray)) and response.body):
            body = bytes(response.body)
            return web.Response(status=response.status, body=body[: max(1, len(body) // 2)],
                                content_type="application/json")
        return response

    async def _dispatch(self, request: web.Request, handler: Handler,
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
        if (request.content_length or 0) > MAX_BODY_BYTES:  # IonQ's JSON 413, before reading any of it
            return _error(413, TOO_LARGE), None
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
                return request_json(bytes(b)) if b else None
            except ValueError:
                return bytes(b).decode(errors="replace")

        self.exchanges.append(Exchange(request.method, request.path_qs, endpoint, parse(raw), response.status,
                                       parse(body)))

    # ------------------------------------------------------------------------------------------ jobs

    async def create_job(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, TOO_LARGE)
        try:
            body = request_json(raw)
        except ValueError as e:
            return _error(400, f"the request body is not valid JSON: {e}")
        return await self._create(body, request)

    async def clone_job(self, request: web.Request) -> web.Response:
        return await self._clone(request, move=False)

    async def move_job(self, request: web.Request) -> web.Response:
        return await self._clone(request, move=True)

    async def _clone(self, request: web.Request, *, move: bool) -> web.Response:
        """A new job from the source job's body and the payload's fields (see clone.py); `move` then cancels
        the source if it has not finished."""
        source = self._job(request)
        if source is None:
            return not_found()
        try:
            body = clone_body(source, request_json(await request.read() or b"{}"))
        except ValueError as e:  # invalid JSON
            return _error(400, f"the request body is not valid JSON: {e}")
        except PayloadError as e:
            return _error(400, e.message, e.keys)
        response = await self._create(body, request)
        if move and response.status == 201:
            self.store.cancel(source.id)
        return response

    async def _create(self, body: Any, request: web.Request) -> web.Response:
        """Validate, admit (session limits) and create a job, then run it unless it is a dry run."""
        try:
            parsed = parse_job_body(body, max_qubits=self.settings.max_qubits)
            parsed.noise_override = self.settings.noise_models.get(parsed.noise_model)
            parsed.device_qubits = self._qubits(parsed.backend)
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
        """Simulate in a worker thread (the loop keeps answering); a cancel stops it between chunks."""
        try:
            results = await asyncio.get_running_loop().run_in_executor(None, simulate, job.job, rng,
                                                                       lambda: job.canceled_at is not None)
        except SimulationCanceled:
            return
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
        after = q.get("next")
        if after is not None and after not in self.store.jobs and after not in self.store.deleted:
            return _error(400, f'"next" is not a job id of a previous page, got {after[:40]!r}', ("next",), "params")
        session = request.match_info.get("session_id") or q.get("session_id")
        page, nxt = self.store.list(ids=ids or None, parent=q.get("parent_job_id"), status=status,
                                    targets=targets, limit=limit, after=after, session=session)
        return web.json_response({"jobs": [self.store.render(j, with_children=False) for j in page], "next": nxt})

    async def get_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        return not_found() if job is None else web.json_response(self.store.render(job))

    async def delete_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return not_found()
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

    async def session_jobs(self, request: web.Request) -> web.Response:
        if self._session(request) is None:
            return not_found()
        return await self.list_jobs(request)

    async def cancel(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return not_found()
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

    async def job_cost(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job is None:
            return not_found()
        estimate, committed, final = self._job_cost(job)
        out: dict[str, Any] = {"dry_run": job.job.dry_run, "estimated_cost": {"value": estimate, "unit": "usd"}}
        if final:
            out["cost"] = {"value": committed, "unit": "usd"}
        return web.json_response(out)


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
            logging.getLogger("aiohttp.server").addFilter(BAD_REQUEST_LOG)
            self.emulator = Emulator(_copy(self._initial))
            self._runner = web.AppRunner(self.emulator.app(), access_log=None, shutdown_timeout=0.5,
                                         max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES)
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
