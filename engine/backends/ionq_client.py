"""Async client for IonQ's REST API v0.4 on httpx: jobs, results, cancel, backends, costs.

Retries are where duplicate jobs come from, so they follow two rules:
- GETs (and the idempotent cancel PUTs) retry on 409, 429, 500, 502, 503, 504, 520-529, timeouts and
  dropped connections, honouring `Retry-After` and otherwise backing off exponentially with jitter.
- A job-creating POST carries a client UUID in `metadata`. It is retried blindly only when the
  request never reached the server (connect errors); after any other failure the client first looks
  for its UUID with `GET /jobs`, and resubmits only if the job is not there. One chunk, one job.
- A POST that timed out may still be on its way (a proxy can deliver it after the client gave up), so
  after a timeout the client keeps looking for its UUID for `late_post_window_s` (default ten times the
  request timeout) before it sends again. Should a late copy land even later, `cancel_duplicates`
  (called by the backend once the job it kept is done) cancels every other job with the same UUID.

Polling grows its interval by `poll_factor` up to `poll_cap` and gives up after the caller's
timeout (`max_queue_wait_time`). `started` and the older `running` both mean running.
The API key lives only in the `Authorization` header: never in a message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import random
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import httpx
import numpy as np

from .ionq_errors import (
    IonQAuthError, IonQBadRequestError, IonQConnectionError, IonQError, IonQJobFailedError, IonQRateLimitError,
    IonQServerError, IonQTimeoutError, scrub,
)
from .ionq_payload import CLIENT_ID_KEY, aggregated_rows, dense_row, histogram_path, result_ref

log = logging.getLogger("engine.ionq")

DEFAULT_BASE_URL = "https://api.ionq.co/v0.4"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504, *range(520, 530)})
TERMINAL = frozenset({"completed", "failed", "canceled"})
STATUS_ALIASES = {"running": "started"}
MAX_BODY_TEXT = 200  # characters of a plain-text error body kept in the message

Sleep = Callable[[float], Awaitable[None]]
JobCallback = Callable[[Mapping[str, Any]], None]


@dataclass
class ClientStats:
    """What the client did: HTTP calls per endpoint, batch sizes, retries, bytes, server-side times."""

    calls: Counter[str] = field(default_factory=Counter)  # "GET /jobs/{id}" -> HTTP requests sent
    circuits_per_call: list[int] = field(default_factory=list)  # circuits in each job-creating POST
    retries: int = 0
    rate_limited: int = 0  # 429 responses
    lookups: int = 0  # GET /jobs searches for a client UUID after an uncertain POST
    duplicates_canceled: int = 0  # late copies of a job found after the fact and canceled
    bytes_sent: int = 0
    queue_time_s: float = 0.0  # summed over completed jobs: started_at - submitted_at
    execution_time_s: float = 0.0  # summed over completed jobs: execution_duration_ms

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "calls": dict(self.calls), "circuits_per_call": list(self.circuits_per_call),
            "retries": self.retries, "rate_limited": self.rate_limited, "lookups": self.lookups,
            "duplicates_canceled": self.duplicates_canceled,
            "bytes_sent": self.bytes_sent, "queue_time_s": self.queue_time_s,
            "execution_time_s": self.execution_time_s,
        }


@dataclass(frozen=True)
class IonQSettings:
    """How to build a client; `None` fields come from IONQ_API_URL / IONQ_API_KEY or the defaults."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    pool_size: int = 5
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    max_retries: int = 5
    poll_initial: float = 1.0
    poll_factor: float = 1.5
    poll_cap: float = 30.0
    late_post_window_s: float | None = None  # None: ten times timeout_s

    def client(self) -> "IonQClient":
        return IonQClient(
            self.base_url, self.api_key, pool_size=self.pool_size,
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s), max_retries=self.max_retries,
            poll_initial=self.poll_initial, poll_factor=self.poll_factor, poll_cap=self.poll_cap,
            late_post_window_s=self.late_post_window_s,
        )


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context shared by every client: loading the CA bundle costs tens of ms each time."""
    return httpx.create_ssl_context()


def normalize_status(status: Any) -> str:
    s = str(status)
    return STATUS_ALIASES.get(s, s)


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def job_times(job: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(queue seconds, execution seconds) from a job's timestamps, None where not known yet."""
    sub, start, end = (parse_time(job.get(k)) for k in ("submitted_at", "started_at", "completed_at"))
    queue = (start - sub).total_seconds() if sub and start else None
    ms = job.get("execution_duration_ms")
    run: float | None
    if isinstance(ms, (int, float)):
        run = ms / 1000.0
    else:
        run = (end - start).total_seconds() if start and end else None
    return queue, run


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            value = (parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return max(0.0, value) if math.isfinite(value) else None


class _Uncertain(Exception):
    """A job-creating POST whose outcome is unknown: it may or may not have created the job.

    `in_flight` marks a timeout: the request may still be travelling and create the job later.
    """

    def __init__(self, error: IonQError, in_flight: bool = False):
        self.error = error
        self.in_flight = in_flight


class IonQClient:
    """One connection pool to IonQ. Use as `async with IonQClient(...) as client:`."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        pool_size: int = 5,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 5,
        poll_initial: float = 1.0,
        poll_factor: float = 1.5,
        poll_cap: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 120.0,
        lookup_pages: int = 10,
        late_post_window_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        key = api_key if api_key is not None else os.environ.get("IONQ_API_KEY", "")
        if not key:
            raise IonQAuthError("no IonQ API key: set IONQ_API_KEY or pass api_key")
        if any(c.isspace() or not c.isprintable() or not c.isascii() for c in key):  # the key itself is never said
            raise IonQAuthError("the IonQ API key holds a space, a line break, a control or a non-ASCII character "
                                "(a paste?): it cannot go into an HTTP header, so nothing was sent")
        self.base_url = (base_url or os.environ.get("IONQ_API_URL") or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            log.warning("IonQ base URL %s is not https: the API key would travel unencrypted", self.base_url)
        self._api_prefix = parts.path.rstrip("/")
        self._where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{self._api_prefix}"  # no user, query, #
        self._key = key
        self.max_retries = max_retries
        self.poll_initial, self.poll_factor, self.poll_cap = poll_initial, poll_factor, poll_cap
        self.backoff_base, self.backoff_cap, self.max_retry_after = backoff_base, backoff_cap, max_retry_after
        self.lookup_pages = lookup_pages
        self._pool_size = pool_size
        read_timeout = timeout.read if timeout.read is not None else 30.0
        self.late_post_window_s = 10.0 * read_timeout if late_post_window_s is None else late_post_window_s
        if self.late_post_window_s < 0:
            raise ValueError(f"late_post_window_s must be >= 0, got {self.late_post_window_s}")
        self._uncertain: set[str] = set()  # client UUIDs whose POST had an unknown outcome
        self._sleep, self._clock = sleep, clock
        self._rng = rng or random.Random()
        self.stats = ClientStats()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"apiKey {key}", "User-Agent": "qstore-tui (httpx)",
                     "Accept": "application/json"},
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size, keepalive_expiry=30.0),
            timeout=timeout,
            verify=tls_context(),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"IonQClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> "IonQClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------------------------ transport

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter in [d/2, d]."""
        d = min(self.backoff_cap, self.backoff_base * 2 ** attempt)
        return float(d * (0.5 + 0.5 * self._rng.random()))

    def _error_from(self, resp: httpx.Response, endpoint: str) -> IonQError:
        """The typed error for a non-2xx response, with IonQ's message (scrubbed of the key)."""
        status = resp.status_code
        message, keys = resp.reason_phrase or "error", tuple[str, ...]()
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):  # {"error": {"type", "message"}}
                message = str(err.get("message") or err.get("type") or message)
            else:
                message = str(body.get("message") or err or message)
            validation = body.get("validation")
            if isinstance(validation, dict) and isinstance(validation.get("keys"), list):
                keys = tuple(str(k) for k in validation["keys"])
        elif resp.text.strip():
            message = self._not_json(resp)
        message = scrub(message, self._key)
        if status == 401:
            return IonQAuthError()
        if status == 403:
            return IonQAuthError(f"the IonQ API key is not authorized for {endpoint}")
        if status == 429:
            return IonQRateLimitError(f"{endpoint}: rate limited (429): {message}", retry_after=_retry_after(resp))
        if status >= 500 or status == 409:
            return IonQServerError(f"{endpoint}: HTTP {status}: {message}", status=status)
        return IonQBadRequestError(message, status=status, keys=keys)

    def _not_json(self, resp: httpx.Response) -> str:
        """One short line for a body that is not IonQ's JSON (a web server, a proxy): its HTML is no message."""
        text = resp.text.strip()
        where = f"the server at {self._where} did not answer as IonQ's API"
        if "html" in resp.headers.get("content-type", "").lower() or text[:1] == "<":
            return f"{where} (an HTML page)"
        line = " ".join(text.split())
        shown = line[:MAX_BODY_TEXT]
        if self._quotes_key(shown):  # a server quoting a header it refused: even a cut-off quote leaks part of it
            return f"{where} (the body quotes the request's credentials: not shown)"
        return f"{where}: {shown}{'...' if len(line) > MAX_BODY_TEXT else ''}"

    def _quotes_key(self, text: str) -> bool:
        """Whether `text` holds an 8+ character prefix of the key (the whole key, or a cut-off quote of it), as sent
        or escaped as a server writes it. A shorter key is left to `scrub`: 8 characters make a chance match rare."""
        key = self._key
        forms = {key, repr(key)[1:-1], repr(key.encode())[2:-1]}
        return any(len(f) >= 8 and f[:8] in text for f in forms)

    async def _send(self, method: str, path: str, endpoint: str, *, content: bytes | None = None,
                    params: Any = None) -> httpx.Response:
        self.stats.calls[endpoint] += 1
        headers = None
        if content is not None:
            self.stats.bytes_sent += len(content)
            headers = {"Content-Type": "application/json"}
        return await self._http.request(method, path, content=content, params=params, headers=headers)

    async def _delay_for(self, error: IonQError, attempt: int, endpoint: str) -> None:
        """Wait before the next attempt: Retry-After when given (within `max_retry_after`), else backoff."""
        delay = self._backoff(attempt)
        if isinstance(error, IonQRateLimitError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                raise error
            delay = error.retry_after
        self.stats.retries += 1
        log.info("%s: %s; retry %d/%d in %.2f s", endpoint, type(error).__name__, attempt + 1, self.max_retries, delay)
        await self._sleep(delay)

    async def request(self, method: str, path: str, *, endpoint: str, params: Any = None,
                      content: bytes | None = None) -> Any:
        """An idempotent call (GET, cancel PUT) with retries; returns the parsed JSON body."""
        attempt = 0
        while True:
            try:
                resp = await self._send(method, path, endpoint, content=content, params=params)
            except httpx.TimeoutException as exc:
                error: IonQError = IonQTimeoutError(f"{endpoint}: timed out ({type(exc).__name__})")
            except httpx.TransportError as exc:
                error = IonQConnectionError(f"{endpoint}: connection failed ({type(exc).__name__})")
            else:
                if resp.status_code == 429:
                    self.stats.rate_limited += 1
                if resp.is_success:
                    try:
                        return resp.json()
                    except ValueError:
                        error = IonQServerError(f"{endpoint}: malformed JSON in a {resp.status_code} response",
                                                status=resp.status_code)
                else:
                    error = self._error_from(resp, endpoint)
                    if resp.status_code not in RETRY_STATUSES:
                        raise error
            if attempt >= self.max_retries:
                raise error
            await self._delay_for(error, attempt, endpoint)
            attempt += 1

    async def request_object(self, method: str, path: str, *, endpoint: str, params: Any = None,
                             content: bytes | None = None) -> dict[str, Any]:
        """`request` for endpoints whose body is a JSON object; anything else is a typed server error."""
        body = await self.request(method, path, endpoint=endpoint, params=params, content=content)
        if not isinstance(body, dict):
            raise IonQServerError(f"{endpoint}: expected a JSON object, got {type(body).__name__}", status=200)
        return body

    # ----------------------------------------------------------------------------------------- jobs

    async def _post_job_once(self, body: bytes) -> str:
        """One POST /jobs: the job id, a definitive IonQError, or _Uncertain when it may have been created."""
        endpoint = "POST /jobs"
        try:
            resp = await self._send("POST", "/jobs", endpoint, content=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the server: safe to send again as is.
            err_cls = IonQTimeoutError if isinstance(exc, httpx.TimeoutException) else IonQConnectionError
            raise err_cls(f"{endpoint}: could not connect ({type(exc).__name__})") from None
        except httpx.TimeoutException as exc:
            raise _Uncertain(IonQTimeoutError(f"{endpoint}: timed out ({type(exc).__name__})"),
                             in_flight=True) from None
        except httpx.TransportError as exc:
            raise _Uncertain(IonQConnectionError(f"{endpoint}: connection lost ({type(exc).__name__})")) from None
        if resp.status_code == 429:
            self.stats.rate_limited += 1
        if resp.is_success:
            try:
                job_id = resp.json()["id"]
            except (ValueError, KeyError, TypeError):
                raise _Uncertain(IonQServerError(f"{endpoint}: unreadable {resp.status_code} response",
                                                 status=resp.status_code)) from None
            return str(job_id)
        error = self._error_from(resp, endpoint)
        if resp.status_code in RETRY_STATUSES:
            raise _Uncertain(error)
        raise error

    async def create_job(self, body: bytes | Mapping[str, Any], *, client_id: str | None = None,
                         backend: str | None = None, circuits: int = 1) -> str:
        """POST /jobs, never creating two jobs for one body; returns the job id.

        `client_id` is the UUID the body carries in `metadata` (read from the body when omitted); after
        an uncertain failure the client searches `GET /jobs` (filtered by `backend`) for it before
        sending again.
        """
        if not isinstance(body, (bytes, bytearray)):
            payload = dict(body)
            body = json.dumps(payload, separators=(",", ":")).encode()
        else:
            payload = None
        if client_id is None or backend is None:
            payload = payload if payload is not None else json.loads(body)
            client_id = client_id or (payload.get("metadata") or {}).get(CLIENT_ID_KEY)
            backend = backend or payload.get("backend")
        if not client_id:
            raise ValueError(f"the job body needs metadata.{CLIENT_ID_KEY} so a retry can never duplicate it")
        self.stats.circuits_per_call.append(circuits)
        attempt = 0
        while True:
            sent_at = self._clock()
            try:
                return await self._post_job_once(bytes(body))
            except _Uncertain as u:
                error, reached, in_flight = u.error, True, u.in_flight
            except (IonQConnectionError, IonQTimeoutError) as exc:  # never reached the server
                error, reached, in_flight = exc, False, False
            if reached:
                self._uncertain.add(client_id)
                window_end = sent_at + self.late_post_window_s if in_flight else None
                if found := await self._look_for(client_id, backend, window_end):
                    log.info("POST /jobs: the job %s was created despite the error; not resubmitting", found)
                    return found
            if attempt >= self.max_retries:
                raise error
            await self._delay_for(error, attempt, "POST /jobs")
            attempt += 1

    async def _look_for(self, client_id: str, backend: str | None, until: float | None) -> str | None:
        """Find the job by its client UUID; keep looking until `until` (clock time) when a request may be late."""
        interval = self.backoff_base
        while True:
            if found := await self.find_job(client_id, backend):
                return found
            now = self._clock()
            if until is None or now >= until:
                return None
            await self._sleep(min(interval, until - now))
            interval = min(self.poll_cap, interval * 2)

    def was_uncertain(self, client_id: str) -> bool:
        """True when a POST for this client UUID had an unknown outcome (a late copy may exist)."""
        return client_id in self._uncertain

    async def cancel_duplicates(self, client_id: str, keep: str, backend: str | None = None) -> list[str]:
        """Cancel every top-level job carrying `client_id` except `keep`; returns the ids canceled."""
        extra = [j for j in await self.find_jobs(client_id, backend) if j != keep]
        if extra:
            await self.cancel_many(extra)
            self.stats.duplicates_canceled += len(extra)
            log.warning("canceled %d late duplicate(s) of job %s: %s", len(extra), keep, ", ".join(extra))
        return extra

    async def find_job(self, client_id: str, backend: str | None = None) -> str | None:
        """The id of the oldest top-level job whose metadata carries `client_id`, among the most recent jobs."""
        found = await self.find_jobs(client_id, backend)
        return found[-1] if found else None

    async def find_jobs(self, client_id: str, backend: str | None = None) -> list[str]:
        """Every top-level job carrying `client_id` among the most recent jobs, newest first."""
        self.stats.lookups += 1
        params: dict[str, Any] = {"limit": 100}
        if backend:
            params["target"] = backend
        out: list[str] = []
        for _ in range(self.lookup_pages):
            page = await self.request("GET", "/jobs", endpoint="GET /jobs", params=params)
            for job in page.get("jobs", []):
                if not job.get("parent_job_id") and (job.get("metadata") or {}).get(CLIENT_ID_KEY) == client_id:
                    out.append(str(job["id"]))
            if not page.get("next"):
                break
            params = {**params, "next": page["next"]}
        return out

    async def get_job(self, job_id: str) -> dict[str, Any]:
        return await self.request_object("GET", f"/jobs/{job_id}", endpoint="GET /jobs/{id}")

    async def list_jobs(self, **filters: Any) -> AsyncIterator[dict[str, Any]]:
        """Every job matching `filters` (ids, parent_job_id, status, target, limit), following `next`."""
        params = {k: v for k, v in filters.items() if v is not None}
        while True:
            page = await self.request("GET", "/jobs", endpoint="GET /jobs", params=params)
            for job in page.get("jobs", []):
                yield job
            token = page.get("next")
            if not token:
                return
            params = {**params, "next": token}

    async def wait(self, job_id: str, *, timeout: float, on_update: JobCallback | None = None) -> dict[str, Any]:
        """Poll until the job is terminal; return it when completed.

        Raises IonQJobFailedError (failed or canceled) or IonQTimeoutError after `timeout` seconds.
        """
        deadline = self._clock() + timeout
        delay = interval = self.poll_initial
        last: str | None = None
        while True:
            now = self._clock()
            if now >= deadline:
                raise IonQTimeoutError(f"job {job_id} still {last or 'pending'} after {timeout:g} s "
                                       "(max_queue_wait_time)", job_id=job_id, last_status=last)
            await self._sleep(min(delay, deadline - now))
            job = await self.get_job(job_id)
            status = normalize_status(job.get("status"))
            if status != last and on_update is not None:
                on_update(job)
            last = status
            if status == "completed":
                queue, run = job_times(job)
                self.stats.queue_time_s += queue or 0.0
                self.stats.execution_time_s += run or 0.0
                return job
            if status == "failed":
                failure = job.get("failure") or {}
                code = str(failure.get("code") or "Unknown")
                message = str(failure.get("message") or failure.get("error") or "no message")
                raise IonQJobFailedError(job_id, code, scrub(message, self._key))
            if status == "canceled":
                raise IonQJobFailedError(job_id, "Canceled", "the job was canceled")
            interval = min(self.poll_cap, interval * self.poll_factor)
            delay = interval

    # -------------------------------------------------------------------------------------- results

    async def get_probabilities(self, job_id: str) -> dict[str, float]:
        """A single-circuit job's `{"<int>": p}` (little-endian keys)."""
        return await self.request_object("GET", f"/jobs/{job_id}/results/probabilities",
                                  endpoint="GET /jobs/{id}/results/probabilities")

    async def _get_result(self, job: Mapping[str, Any]) -> tuple[Any, bool]:
        ref = result_ref(job, self._api_prefix)
        if "/artifacts/" in ref.path:
            endpoint = "GET /jobs/{id}/artifacts/{artifact}"
        elif ref.aggregated:
            endpoint = "GET /jobs/{id}/results/probabilities/aggregated"
        else:
            endpoint = "GET /jobs/{id}/results/probabilities"
        return await self.request("GET", ref.path, endpoint=endpoint), ref.aggregated

    async def get_aggregated(self, job: Mapping[str, Any]) -> list[dict[str, float]]:
        """A multi-circuit job's per-circuit distributions, in `child_job_ids` order (input order)."""
        data, aggregated = await self._get_result(job)
        if not aggregated:
            raise IonQError(f"job {job.get('id')} is not a multi-circuit job")
        children = [str(c) for c in job.get("child_job_ids") or []]
        if not isinstance(data, Mapping) or set(data) != set(children) or len(data) != len(children):
            raise IonQError(f"job {job.get('id')}: aggregated results do not match child_job_ids")
        return [data[c] for c in children]

    async def result_probabilities(self, job: Mapping[str, Any], n_qubits: int) -> np.ndarray:
        """A completed job's probabilities as dense (circuits, 2**n), URL or artifact style, in input order."""
        data, aggregated = await self._get_result(job)
        job_id = str(job.get("id"))
        if aggregated:
            return aggregated_rows(data, [str(c) for c in job.get("child_job_ids") or []], n_qubits, job_id)
        return dense_row(data, n_qubits, f"job {job_id}")[None, :]

    async def sharpened_probabilities(self, job: Mapping[str, Any], n_qubits: int) -> np.ndarray:
        """The `voting` aggregation: each circuit's `/results/probabilities?sharpen=true`, in input order.

        The spec offers sharpening on a job's probabilities only, so a multi-circuit job is read child by
        child (concurrently, within the connection pool)."""
        ids = [str(c) for c in job.get("child_job_ids") or []] or [str(job["id"])]
        sem = asyncio.Semaphore(self._pool_size)

        async def one(job_id: str) -> np.ndarray:
            async with sem:
                data = await self.request("GET", f"/jobs/{job_id}/results/probabilities", params={"sharpen": "true"},
                                          endpoint="GET /jobs/{id}/results/probabilities")
            return dense_row(data, n_qubits, f"job {job_id} (sharpened)")

        return np.stack(await asyncio.gather(*(one(i) for i in ids)))

    async def histogram_counts(self, job: Mapping[str, Any], n_qubits: int) -> np.ndarray | None:
        """Per-shot counts (circuits, 2**n) from the histogram artifacts, in input order; None when the
        job (or one of its children) lists no histogram."""
        job_id = str(job["id"])
        child_ids = [str(c) for c in job.get("child_job_ids") or []]
        if child_ids:
            children = {str(c["id"]): c async for c in self.list_jobs(parent_job_id=job_id, limit=100)}
            if set(children) != set(child_ids):
                raise IonQError(f"job {job_id}: GET /jobs?parent_job_id lists {len(children)} children, "
                                f"child_job_ids {len(child_ids)}")
            jobs: list[Mapping[str, Any]] = [children[c] for c in child_ids]
        else:
            jobs = [job]
        paths = [histogram_path(j, self._api_prefix) for j in jobs]
        if any(p is None for p in paths):
            return None
        sem = asyncio.Semaphore(self._pool_size)

        async def one(path: str, where: str) -> np.ndarray:
            async with sem:
                endpoint = ("GET /jobs/{id}/artifacts/{artifact}" if "/artifacts/" in path
                            else "GET /jobs/{id}/results/histogram")
                return dense_row(await self.request("GET", path, endpoint=endpoint), n_qubits, where)

        return np.stack(await asyncio.gather(*(one(str(p), f"job {j['id']} histogram") for p, j in zip(paths, jobs))))

    # --------------------------------------------------------------------------------------- cancel

    async def cancel(self, job_id: str) -> dict[str, Any]:
        return await self.request_object("PUT", f"/jobs/{job_id}/status/cancel", endpoint="PUT /jobs/{id}/status/cancel")

    async def cancel_many(self, job_ids: list[str]) -> dict[str, Any]:
        body = json.dumps({"ids": list(job_ids)}).encode()
        return await self.request_object("PUT", "/jobs/status/cancel", endpoint="PUT /jobs/status/cancel", content=body)

    # ------------------------------------------------------------------------------ account, costs

    async def backends(self) -> list[dict[str, Any]]:
        body = await self.request("GET", "/backends", endpoint="GET /backends")
        if not isinstance(body, list):
            raise IonQServerError(f"GET /backends: expected a JSON array, got {type(body).__name__}", status=200)
        return body

    async def characterizations(self, backend: str, *, start: str | None = None, end: str | None = None,
                                limit: int | None = None, page: int | None = None) -> dict[str, Any]:
        params = {k: v for k, v in (("start", start), ("end", end), ("limit", limit), ("page", page)) if v is not None}
        return await self.request_object("GET", f"/backends/{backend}/characterizations", params=params,
                                  endpoint="GET /backends/{backend}/characterizations")

    async def whoami(self) -> dict[str, Any]:
        """A cheap authenticated call: raises IonQAuthError for a bad key."""
        return await self.request_object("GET", "/whoami", endpoint="GET /whoami")

    async def estimate(self, backend: str, *, qubits: int, shots: int, gates_1q: int, gates_2q: int,
                       job_type: str = "ionq.circuit.v1", error_mitigation: bool = False) -> dict[str, Any]:
        params = {"backend": backend, "type": job_type, "qubits": qubits, "shots": shots, "1q_gates": gates_1q,
                  "2q_gates": gates_2q, "error_mitigation": str(error_mitigation).lower()}
        return await self.request_object("GET", "/jobs/estimate", params=params, endpoint="GET /jobs/estimate")

    async def job_cost(self, job_id: str) -> dict[str, Any]:
        return await self.request_object("GET", f"/jobs/{job_id}/cost", endpoint="GET /jobs/{id}/cost")

    # ------------------------------------------------------------------------------------- sessions

    async def create_session(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /sessions (spec CreateSessionRequest) -> Session. Not retried after it reached IonQ: an
        unknown outcome is an error, never a second session."""
        endpoint = "POST /sessions"
        content = json.dumps(dict(body), separators=(",", ":")).encode()
        try:
            resp = await self._send("POST", "/sessions", endpoint, content=content)
        except httpx.TransportError as exc:
            raise IonQConnectionError(f"{endpoint}: {type(exc).__name__}; no session was opened") from None
        if not resp.is_success:
            raise self._error_from(resp, endpoint)
        try:
            out: dict[str, Any] = resp.json()
        except ValueError:
            raise IonQServerError(f"{endpoint}: malformed JSON in a {resp.status_code} response",
                                  status=resp.status_code) from None
        return out

    async def get_session(self, session_id: str) -> dict[str, Any]:
        return await self.request_object("GET", f"/sessions/{session_id}", endpoint="GET /sessions/{id}")

    async def end_session(self, session_id: str) -> dict[str, Any]:
        """POST /sessions/{id}/end: idempotent (ending an ended session changes nothing), so retried."""
        return await self.request_object("POST", f"/sessions/{session_id}/end", endpoint="POST /sessions/{id}/end")
