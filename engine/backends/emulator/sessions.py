"""IonQ sessions in the emulator: create, get, list, end, and the limits a job is checked against.

A session is `created` until its first job, `started` from then, and `ended` when it is ended or its
duration limit passes. Reaching the cost or job-count limit does not end it: the job that would pass a
limit is refused, with a 400 naming `session_id`. Spend is what the session's jobs have committed (see
`EmulatorBase._job_cost`): a job's estimated cost, nothing for a dry run, a failed job or one canceled
before it started; deleting a job does not give its spend back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .jobs import PROJECT_ID
from .payload import BACKENDS, PayloadError

ORGANIZATION_ID = "8c1f6a2e-3b4d-4e5f-9a6b-7c8d9e0f1a2b"
CREATOR_ID = "qstore-emulator"


@dataclass
class EmuSession:
    id: str
    backend: str
    created: float
    job_count_limit: int | None
    duration_limit_min: int | None
    cost_limit: float | None
    cost_unit: str
    started: float | None = None
    ended: float | None = None
    job_ids: list[str] = field(default_factory=list)
    spent_deleted: float = 0.0  # committed cost of the session's jobs deleted since

    def expires_at(self) -> float | None:
        return None if self.duration_limit_min is None else self.created + 60.0 * self.duration_limit_min

    def end_time(self, now: float) -> float | None:
        """When the session ended (by request or by its duration limit), or None while it is active."""
        expiry = self.expires_at()
        if self.ended is not None:
            return self.ended if expiry is None else min(self.ended, expiry)
        if expiry is not None and now >= expiry:
            return expiry
        return None

    def status(self, now: float) -> str:
        if self.end_time(now) is not None:
            return "ended"
        return "started" if self.started is not None else "created"


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise PayloadError(f'"{key}" must be a positive integer', (key,))
    return value


def parse_session_body(body: Any) -> tuple[str, int | None, int | None, float | None, str]:
    """(backend, job_count_limit, duration_limit_min, cost_limit, unit) from a create-session body."""
    if not isinstance(body, dict):
        raise PayloadError("the request body must be a JSON object")
    unknown = sorted(set(body) - {"backend", "settings"})
    if unknown:
        raise PayloadError(f'"{unknown[0]}" is not allowed', (unknown[0],))
    backend = body.get("backend")
    if backend not in BACKENDS:
        raise PayloadError(f'"backend" must be one of [{", ".join(BACKENDS)}]', ("backend",))
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise PayloadError('"settings" must be an object', ("settings",))
    unknown = sorted(set(settings) - {"job_count_limit", "duration_limit_min", "cost_limit"})
    if unknown:
        raise PayloadError(f'"settings.{unknown[0]}" is not allowed', (f"settings.{unknown[0]}",))
    jobs = settings.get("job_count_limit")
    minutes = settings.get("duration_limit_min")
    jobs = None if jobs is None else _positive_int(jobs, "settings.job_count_limit")
    minutes = None if minutes is None else _positive_int(minutes, "settings.duration_limit_min")
    cost, unit = None, "usd"
    raw = settings.get("cost_limit")
    if raw is not None:
        if not isinstance(raw, dict) or set(raw) - {"unit", "value"} or "value" not in raw:
            raise PayloadError('"settings.cost_limit" must be {"unit": "usd", "value": <number>}',
                               ("settings.cost_limit",))
        value = raw["value"]
        if isinstance(value, str):  # qiskit-ionq passes max_cost through as given (int or str)
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise PayloadError('"settings.cost_limit.value" must be a positive number',
                               ("settings.cost_limit.value",))
        unit = raw.get("unit", "usd")
        if unit != "usd":
            raise PayloadError('"settings.cost_limit.unit" must be "usd" in the emulator',
                               ("settings.cost_limit.unit",))
        cost = float(value)
    return backend, jobs, minutes, cost, unit


class SessionStore:
    """All sessions, oldest first."""

    def __init__(self, clock: Callable[[], float], iso: Callable[[float], str]):
        self.clock = clock
        self.iso = iso
        self.sessions: dict[str, EmuSession] = {}

    def create(self, body: Any) -> EmuSession:
        backend, jobs, minutes, cost, unit = parse_session_body(body)
        s = EmuSession(str(uuid.uuid4()), backend, self.clock(), jobs, minutes, cost, unit)
        self.sessions[s.id] = s
        return s

    def end(self, s: EmuSession) -> None:
        if s.end_time(self.clock()) is None:
            s.ended = self.clock()

    def admit(self, session_id: str, backend: str, cost: float, spent: float) -> EmuSession:
        """The session a new job joins, or a PayloadError naming `session_id` and the limit it would pass."""
        key = ("session_id",)
        s = self.sessions.get(session_id)
        if s is None:
            raise PayloadError(f'"session_id": no session {session_id!r}', key)
        now = self.clock()
        if s.status(now) == "ended":
            raise PayloadError(f'"session_id": session {session_id} has ended', key)
        if backend != s.backend:
            raise PayloadError(f'"session_id": session {session_id} is for backend {s.backend!r}, '
                               f'the job asks for {backend!r}', key)
        if s.job_count_limit is not None and len(s.job_ids) >= s.job_count_limit:
            raise PayloadError(f'"session_id": session {session_id} has reached its job_count_limit of '
                               f'{s.job_count_limit} jobs', key)
        if s.cost_limit is not None and spent + cost > s.cost_limit + 1e-12:
            raise PayloadError(f'"session_id": this job (estimated {cost:.2f} {s.cost_unit}) would take session '
                               f'{session_id} past its cost_limit of {s.cost_limit:g} {s.cost_unit} '
                               f'({spent:.2f} spent)', key)
        return s

    def join(self, s: EmuSession, job_id: str) -> None:
        s.job_ids.append(job_id)
        if s.started is None:
            s.started = self.clock()

    def render(self, s: EmuSession) -> dict[str, Any]:
        now = self.clock()
        settings: dict[str, Any] = {}
        if s.job_count_limit is not None:
            settings["job_count_limit"] = s.job_count_limit
        if s.duration_limit_min is not None:
            settings["duration_limit_min"] = s.duration_limit_min
            settings["expires_at"] = self.iso(s.created + 60.0 * s.duration_limit_min)
        if s.cost_limit is not None:
            settings["cost_limit"] = {"unit": s.cost_unit, "value": s.cost_limit}
        end = s.end_time(now)
        return {
            "id": s.id, "created_at": self.iso(s.created), "organization_id": ORGANIZATION_ID,
            "backend": s.backend, "project_id": PROJECT_ID, "creator_id": CREATOR_ID,
            "ended_at": self.iso(end) if end is not None else None,
            "ender_id": CREATOR_ID if end is not None else None,
            "settings": settings, "active": end is None, "status": s.status(now),
            "started_at": self.iso(s.started) if s.started is not None else None,
        }
