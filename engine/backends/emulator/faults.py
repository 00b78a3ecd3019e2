"""Injected faults: a typed plan the emulator consumes in order, and the counters tests assert on.

Each request takes the first fault in the plan whose `endpoint` matches it (an endpoint label such as
"POST /jobs" or "GET /jobs/{id}", or "*") and still has `count` left. What a fault does:

    409 429 500 502 503 504 520   answer with that status and IonQ's error body (429 adds Retry-After);
                                  the request is not processed, so a POST creates no job
    reset                         drop the connection (TCP RST) before processing
    slow                          process, then hold the response `delay_s` seconds (past a client timeout)
    late_post                     POSTs only: hold the request `delay_s` seconds, then process it (a job is
                                  created late, after the client gave up) and answer (to a client now gone)
    lost_response                 process (a POST creates its job), then drop the connection
    malformed_json                process, then answer with a truncated JSON body
    job_failed                    the job this POST creates ends `failed` with `code` and `message`

A fault with a `probability` is a standing rule instead (the command line's `--fault 429:0.1`): each
matching request gets it with that probability, drawn from the plan's seeded generator; `count` is unused.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

STATUS_FAULTS = ("409", "429", "500", "502", "503", "504", "520")
PROCESSING_FAULTS = ("slow", "lost_response", "malformed_json", "job_failed", "late_post")
FAULT_KINDS = (*STATUS_FAULTS, "reset", *PROCESSING_FAULTS)
FAILURE_CODES = (
    "InvalidInput", "CompilationError", "ContractExpiredError", "DebiasingError", "InternalError", "NotEnoughQubits",
    "OptimizationError", "PreflightError", "QuantumCircuitComplexityError", "QuantumComputerError",
    "QuotaExhaustedError", "SimulationError", "SimulationTimeout", "SystemCancel", "TooLongPredictedExecutionTime",
    "TooManyControls", "TooManyGates", "TooManyShots", "UnknownBillingError", "UnsupportedGate",
)


@dataclass(frozen=True)
class Fault:
    kind: str
    endpoint: str = "*"
    count: int = 1
    retry_after: float = 1.0  # seconds, for 429
    delay_s: float = 2.0  # for slow
    code: str = "QuantumComputerError"  # for job_failed
    message: str = "injected failure"
    probability: float | None = None  # a standing rule: each matching request gets it with this probability

    def __post_init__(self) -> None:
        if self.probability is not None and not 0.0 < self.probability <= 1.0:
            raise ValueError(f"fault probability must be in (0, 1], got {self.probability}")
        if self.delay_s < 0 or self.retry_after < 0:
            raise ValueError("fault delay_s and retry_after must be >= 0")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.count < 1:
            raise ValueError(f"fault count must be at least 1, got {self.count}")
        if self.kind == "job_failed" and self.code not in FAILURE_CODES:
            raise ValueError(f"unknown IonQ failure code {self.code!r}")
        if self.kind == "job_failed" and self.endpoint not in ("*", "POST /jobs"):
            raise ValueError("job_failed applies to 'POST /jobs'")


@dataclass
class FaultPlan:
    """Faults still to inject, consumed in order; thread-safe (tests set it from their own thread)."""

    faults: list[list[Any]] = field(default_factory=list)  # [fault, remaining]
    injected: Counter[str] = field(default_factory=Counter)  # kind -> times injected
    rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, faults: Sequence[Fault], seed: int | None = None) -> None:
        with self._lock:
            self.faults = [[f, f.count] for f in faults]
            if seed is not None:
                self.rng = np.random.default_rng(seed)

    def take(self, endpoint: str) -> Fault | None:
        """The fault this request gets, if any (and use one of its count)."""
        with self._lock:
            for entry in self.faults:
                fault, left = entry
                if not (fault.endpoint == "*" or fault.endpoint == endpoint):
                    continue
                if fault.kind == "job_failed" and endpoint != "POST /jobs":
                    continue
                if fault.kind == "late_post" and not endpoint.startswith("POST "):
                    continue
                if fault.probability is not None:
                    if self.rng.random() >= fault.probability:
                        continue
                elif left <= 0:
                    continue
                else:
                    entry[1] -= 1
                self.injected[fault.kind] += 1
                return fault
            return None

    def pending(self) -> int:
        """Counted faults not injected yet (standing rules are not counted)."""
        with self._lock:
            return sum(left for f, left in self.faults if f.probability is None)


def parse_fault_spec(spec: str, *, delay_s: float = 2.0, retry_after: float = 1.0) -> Fault:
    """`KIND:PROBABILITY[:ENDPOINT]` from the command line, e.g. "429:0.1", "late-post:0.05:POST /jobs".
    Dashes in the kind are underscores ("late-post" is `late_post`). ValueError naming the part at fault."""
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise ValueError(f"--fault {spec!r}: expected KIND:PROBABILITY[:ENDPOINT], e.g. 429:0.1")
    kind = parts[0].strip().replace("-", "_")
    if kind not in FAULT_KINDS:
        raise ValueError(f"--fault {spec!r}: unknown kind {parts[0]!r}; expected one of "
                         f"{', '.join(k.replace('_', '-') for k in FAULT_KINDS)}")
    try:
        probability = float(parts[1])
    except ValueError:
        raise ValueError(f"--fault {spec!r}: probability {parts[1]!r} is not a number") from None
    if not 0.0 < probability <= 1.0:
        raise ValueError(f"--fault {spec!r}: probability must be in (0, 1], got {probability:g}")
    endpoint = parts[2].strip() if len(parts) == 3 else "*"
    if endpoint != "*" and (" " not in endpoint or not endpoint.split(" ", 1)[1].startswith("/")):
        raise ValueError(f"--fault {spec!r}: endpoint {endpoint!r} must look like 'POST /jobs' or '*'")
    return Fault(kind, endpoint, probability=probability, delay_s=delay_s, retry_after=retry_after)
