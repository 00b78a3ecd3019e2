"""The emulator's settings, rate cards and the records tests read (exchanges, counters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ...circuits.errors import shown
from ...sim import MAX_QUBITS
from ...sim.noise import NOISE_MODELS, NoiseModel, noise_model_from_characterization
from .faults import Fault
from .jobs import Timing
from .payload import BACKENDS

DEFAULT_KEY = "emulator-key"
HARDWARE_QUBITS = {"simulator": 29, "qpu.aria-1": 25, "qpu.forte-1": 36, "qpu.forte-enterprise-1": 36}


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
            if body.get("backend", backend) != backend:  # its figures would pass for this backend's
                raise ValueError(f"characterizations[{backend!r}]: the body is a characterization of "
                                 f"{shown(body.get('backend'))}, not of {backend!r}")
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
