"""Injected faults: a typed plan the emulator consumes in order, and the counters tests assert on.

Each request takes the first fault in the plan whose `endpoint` matches it (an endpoint label such as
"POST /jobs" or "GET /jobs/{id}", or "*") and still has `count` left. What a fault does:

    409 429 500 502 503 504 520   answer with that status and IonQ's error body (429 adds Retry-After);
                                  the request is not processed, so a POST creates no job
    reset                         drop the connection (TCP RST) before processing
    slow                          process, then hold the response `delay_s` seconds (past a client timeout)
    lost_response                 process (a POST creates its job), then drop the connection
    malformed_json                process, then answer with a truncated JSON body
    job_failed                    the job this POST creates ends `failed` with `code` and `message`
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

STATUS_FAULTS = ("409", "429", "500", "502", "503", "504", "520")
PROCESSING_FAULTS = ("slow", "lost_response", "malformed_json", "job_failed")
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

    def __post_init__(self) -> None:
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

    faults: list[list] = field(default_factory=list)  # [fault, remaining]
    injected: Counter = field(default_factory=Counter)  # kind -> times injected
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, faults: list[Fault] | tuple[Fault, ...]) -> None:
        with self._lock:
            self.faults = [[f, f.count] for f in faults]

    def take(self, endpoint: str) -> Fault | None:
        """The fault this request gets, if any (and use one of its count)."""
        with self._lock:
            for entry in self.faults:
                fault, left = entry
                if left > 0 and (fault.endpoint == "*" or fault.endpoint == endpoint):
                    if fault.kind == "job_failed" and endpoint != "POST /jobs":
                        continue
                    entry[1] -= 1
                    self.injected[fault.kind] += 1
                    return fault
            return None

    def pending(self) -> int:
        with self._lock:
            return sum(left for _, left in self.faults)
