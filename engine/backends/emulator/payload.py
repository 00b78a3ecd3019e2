"""Reading a create-job body the way IonQ does: the same limits, IonQ's error body, field names in `keys`.

Circuits are parsed with our own IonQ JSON parser (engine.circuits.parse_circuit), so a gate the
emulator accepts is one the rest of the engine can build and simulate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...circuits.errors import CircuitError, shown
from ...circuits.ionq_json import parse_circuit
from ...circuits.ir import Circuit
from ...sim.noise import MODEL_NAMES, NoiseModel

SINGLE = "ionq.circuit.v1"
MULTI = "ionq.multi-circuit.v1"
BACKENDS = ("simulator", "qpu.aria-1", "qpu.forte-1", "qpu.forte-enterprise-1")
MAX_CIRCUITS = 5000
MAX_GATES = 150_000
MAX_BODY_BYTES = 10 * 1024 * 1024
TOP_LEVEL_KEYS = {"type", "backend", "shots", "name", "metadata", "noise", "settings", "dry_run", "session_id",
                  "input", "lang"}  # "lang": the stray key cirq-ionq sends
# Native two-qubit gate of each hardware family; the ideal simulator accepts both.
NATIVE_2Q = {"qpu.aria-1": "ms", "aria-1": "ms", "qpu.forte-1": "zz", "forte-1": "zz",
             "qpu.forte-enterprise-1": "zz", "forte-enterprise-1": "zz"}


class PayloadError(Exception):
    """A 400 with IonQ's body: `message` and the offending `keys`."""

    def __init__(self, message: str, keys: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.keys = keys


@dataclass
class ParsedJob:
    job_type: str
    backend: str
    shots: int
    noise_model: str  # "ideal" unless a noisy model or a QPU target
    noise_seed: int | None
    noise_echo: dict[str, Any] | None
    metadata: dict[str, str]
    name: str | None
    settings: dict[str, Any]
    dry_run: bool
    circuits: list[Circuit] = field(default_factory=list)
    failure: tuple[str, str] | None = None  # (code, message) the job will end with
    session_id: str | None = None
    debiasing: bool = False  # the effective setting: IonQ's default or the job's own
    noise_override: NoiseModel | None = None  # a backend's model read from a characterization file
    device_qubits: int | None = None  # the qubits the backend advertises (GET /backends): debiasing maps onto these
    body: dict[str, Any] = field(default_factory=dict)  # the create-job body as sent (clone and move reuse it)

    @property
    def shot_based(self) -> bool:
        """Noisy models and QPU targets return shot-sampled results (and histogram / per-shot artifacts)."""
        return self.noise_model != "ideal"

    @property
    def n_qubits(self) -> int:
        return max(c.n_qubits for c in self.circuits)

    def gate_counts(self) -> tuple[int, int]:
        one = sum(c.counts()[0] for c in self.circuits)
        return one, sum(len(c.gates) for c in self.circuits) - one


def _int(value: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(value, str):  # cirq-ionq sends shots as a string of digits; int() would also take "1_000", " 7\n"
        if not (value.isascii() and value.isdigit()):
            raise PayloadError(f'"{key}" must be an integer', (key,))
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f'"{key}" must be an integer', (key,))
    if not lo <= value <= hi:
        raise PayloadError(f'"{key}" must be between {lo} and {hi}', (key,))
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError('"metadata" must be an object', ("metadata",))
    if len(value) > 10:
        raise PayloadError('"metadata" may have at most 10 keys', ("metadata",))
    for k, v in value.items():
        if len(k) > 40:
            raise PayloadError(f'metadata key "{k[:40]}..." is longer than 40 characters', (f"metadata.{k}",))
        if not isinstance(v, str):
            raise PayloadError(f'"metadata.{k}" must be a string', (f"metadata.{k}",))
        if len(v) > 40_000:
            raise PayloadError(f'"metadata.{k}" is longer than 40000 characters', (f"metadata.{k}",))
    return dict(value)


_NUMBER_FIELDS = ("rotation", "phase", "angle")
UNSUPPORTED_GATES = ("pauliexp", "nop")  # in the spec's gate enums; not simulated here
SINGLE_INPUT_KEYS = {"qubits", "circuit", "gateset"}  # QisCircuitInput / NativeCircuitInput
CIRCUIT_KEYS = {"name", "circuit", "qubits", "registers", "gateset"}  # QISCircuit / NativeCircuit
COMPILATION_FIELDS: dict[str, type | tuple[type, ...]] = {"gate_basis": str, "precision": str, "opt": (int, float)}


def _strict_gates(gates: Any, where: str) -> None:
    """What IonQ's API refuses and our circuit-file parser forgives: a gate name not in lower case (the spec's enums
    are), an angle sent as a string (the spec's numbers are numbers)."""
    if not isinstance(gates, list):
        return  # parse_circuit says what is wrong with it
    for i, g in enumerate(gates):
        if not isinstance(g, dict):
            continue
        name = g.get("gate")
        if isinstance(name, str) and name != name.lower():
            key = f"{where}.circuit[{i}].gate"
            raise PayloadError(f'"{key}": gate names are lower case, got {name[:40]!r}', (key,))
        if name in UNSUPPORTED_GATES:
            key = f"{where}.circuit[{i}].gate"
            raise PayloadError(f'"{key}": {name!r} is not supported by this emulator', (key,))
        phases = g.get("phases")
        if isinstance(phases, list) and any(isinstance(v, str) for v in phases):
            key = f"{where}.circuit[{i}].phases"
            raise PayloadError(f'"{key}" must be numbers, not strings', (key,))
        for field in _NUMBER_FIELDS:
            if isinstance(g.get(field), str):
                key = f"{where}.circuit[{i}].{field}"
                raise PayloadError(f'"{key}" must be a number, not a string', (key,))


def _phase(g: dict[str, Any]) -> list[dict[str, Any]]:
    """IonQ's z with a rotation is the phase gate P(a) = diag(1, e^{ia}) (qiskit-ionq sends p, cp and mcp so), in
    gates the engine has: P_C(a) on t = C-RZ(a) on t, then P_{C minus its last}(a/2) on that last control, down to
    RZ (P up to a global phase). A gate not of that shape goes on as an rz, for the parser to name its fault."""
    controls = [g["control"]] if "control" in g else g.get("controls", [])
    targets = [g["target"]] if "target" in g else g.get("targets")  # qiskit-ionq sends "targets": [t]
    a = g["rotation"]
    if (set(g) - {"gate", "target", "targets", "control", "controls", "rotation"} or "control" in g and "controls" in g
            or "target" in g and "targets" in g or not isinstance(targets, list) or len(targets) != 1
            or not isinstance(controls, list) or isinstance(a, bool) or not isinstance(a, (int, float))):
        return [{**g, "gate": "rz"}]
    pieces: list[dict[str, Any]] = []
    target, angle = targets[0], float(a)
    while True:
        pieces.append({"gate": "rz", "target": target, "rotation": angle,
                       **({"controls": controls} if controls else {})})
        if not controls:
            return pieces
        target, controls, angle = controls[-1], controls[:-1], angle / 2


def _with_phases(gates: Any) -> tuple[Any, list[int]]:
    """The gate list with each phase gate translated (see _phase), and the sent index of every gate of it."""
    if not isinstance(gates, list):
        return gates, []
    out: list[Any] = []
    origin: list[int] = []
    for i, g in enumerate(gates):
        pieces = _phase(g) if isinstance(g, dict) and g.get("gate") == "z" and "rotation" in g else [g]
        out += pieces
        origin += [i] * len(pieces)
    return out, origin


def _registers(value: Any, where: str, n_qubits: int) -> None:
    """QISCircuit.registers: named lists of qubit indices of the circuit."""
    key = f"{where}.registers"
    if not isinstance(value, dict):
        raise PayloadError(f'"{key}" must be an object of qubit index lists', (key,))
    for name, qs in value.items():
        if not isinstance(qs, list):
            raise PayloadError(f'"{key}.{name}" must be a list of qubit indices', (f"{key}.{name}",))
        for q in qs:
            if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q < n_qubits:
                raise PayloadError(f'"{key}.{name}": {shown(q)} is not a qubit index of the circuit\'s {n_qubits} '
                                   "qubits", (f"{key}.{name}",))


def _circuit(obj: Any, where: str, gateset: str, qubits: Any, max_qubits: int, allowed: set[str]) -> Circuit:
    if not isinstance(obj, dict):
        raise PayloadError(f'"{where}" must be an object', (where,))
    unknown = sorted(str(k) for k in set(obj) - allowed)
    if unknown:
        raise PayloadError(f'"{where}.{unknown[0][:40]}" is not allowed', (f"{where}.{unknown[0][:40]}",))
    if obj.get("name") is not None and not isinstance(obj["name"], str):
        raise PayloadError(f'"{where}.name" must be a string', (f"{where}.name",))
    g = obj.get("gateset", gateset)
    if "circuit" not in obj:
        raise PayloadError(f'"{where}.circuit" is required', (f"{where}.circuit",))
    _strict_gates(obj.get("circuit"), where)
    gates, origin = _with_phases(obj["circuit"]) if g == "qis" else (obj["circuit"], [])
    spec = {"gateset": g, "circuit": gates}
    if obj.get("qubits", qubits) is not None:
        spec["qubits"] = obj.get("qubits", qubits)
    try:
        c = parse_circuit(spec)
    except CircuitError as e:
        key = where
        if e.index is not None:
            key += f".circuit[{origin[e.index] if e.index < len(origin) else e.index}]"
        if e.field is not None:
            key += f".{e.field}"
        raise PayloadError(f'"{key}": {e.reason}', (key,)) from None
    if c.n_qubits > max_qubits:
        raise PayloadError(f'"{where}" uses {c.n_qubits} qubits; the emulator simulates at most {max_qubits}',
                           (f"{where}.qubits",))
    if "registers" in obj:
        _registers(obj["registers"], where, c.n_qubits)
    return c


def _unsupported_native(circuits: list[Circuit], target: str | None) -> tuple[str, str] | None:
    allowed = NATIVE_2Q.get(target or "")
    if allowed is None:
        return None
    for i, c in enumerate(circuits):
        if c.gateset != "native":
            continue
        for g in c.gates:
            if g.name in ("ms", "zz") and g.name != allowed:
                return ("UnsupportedGate", f"circuit {i}: native gate '{g.name}' is not supported on {target} "
                                           f"(use '{allowed}')")
    return None


def parse_job_body(body: Any, *, max_qubits: int) -> ParsedJob:
    """Validate a create-job body; raise PayloadError with IonQ's message and keys."""
    if not isinstance(body, dict):
        raise PayloadError("the request body must be a JSON object")
    unknown = sorted(set(body) - TOP_LEVEL_KEYS)
    if unknown:
        raise PayloadError(f'"{unknown[0]}" is not allowed', tuple(unknown))
    if "lang" in body and not isinstance(body["lang"], str):
        raise PayloadError('"lang" must be a string', ("lang",))
    job_type = body.get("type")
    if job_type not in (SINGLE, MULTI):
        raise PayloadError(f'"type" must be one of [{SINGLE}, {MULTI}] (the emulator runs JSON circuits only)',
                           ("type",))
    backend = body.get("backend")
    if backend not in BACKENDS:
        raise PayloadError(f'"backend" must be one of [{", ".join(BACKENDS)}]', ("backend",))
    shots = _int(body.get("shots", 100), "shots", 1, 1_000_000)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise PayloadError('"name" must be a string', ("name",))
    metadata = _metadata(body.get("metadata"))
    settings = body.get("settings")
    settings = {} if settings is None else settings
    if not isinstance(settings, dict):
        raise PayloadError('"settings" must be an object', ("settings",))
    noise = body.get("noise")
    model, seed, echo = "ideal", None, None
    if noise is not None:
        if not isinstance(noise, dict) or "model" not in noise:
            raise PayloadError('"noise" must be an object with a "model"', ("noise",))
        if noise["model"] not in MODEL_NAMES:
            raise PayloadError(f'"noise.model" must be one of [{", ".join(MODEL_NAMES)}] in the emulator',
                               ("noise.model",))
        unknown_noise = sorted(set(noise) - {"model", "seed"})
        if unknown_noise:
            raise PayloadError(f'"noise.{unknown_noise[0]}" is not allowed', (f"noise.{unknown_noise[0]}",))
        if noise.get("seed") is not None:  # qiskit-ionq sends "seed": null by default; IonQ accepts it
            if isinstance(noise["seed"], str):  # the spec's integer; unlike shots, no client sends it as a string
                raise PayloadError('"noise.seed" must be an integer', ("noise.seed",))
            seed = _int(noise["seed"], "noise.seed", 0, 2**31 - 1)
    if backend == "simulator":
        model = noise["model"] if noise is not None else "ideal"
        echo = {"model": model, **({"seed": seed} if seed is not None else {})}
    else:
        model = backend.removeprefix("qpu.")
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise PayloadError('"input" is required and must be an object', ("input",))
    gateset = inp.get("gateset", "qis")
    if gateset not in ("qis", "native"):
        raise PayloadError('"input.gateset" must be "qis" or "native"', ("input.gateset",))
    qubits = inp.get("qubits")
    if job_type == SINGLE:
        if "circuits" in inp:
            raise PayloadError('"input.circuits" needs type ionq.multi-circuit.v1', ("input.circuits",))
        gates = inp.get("circuit")
        if isinstance(gates, list) and len(gates) > MAX_GATES:  # counted before parsing: validation scales with it
            raise PayloadError(f"a job may contain at most {MAX_GATES} gates, got {len(gates)}", ("input.circuit",))
        circuits = [_circuit(inp, "input", gateset, qubits, max_qubits, SINGLE_INPUT_KEYS)]
    else:
        if "circuit" in inp:
            raise PayloadError('"input.circuit" cannot be combined with "input.circuits"', ("input.circuit",))
        items = inp.get("circuits")
        if not isinstance(items, list) or not items:
            raise PayloadError('"input.circuits" must be a non-empty array', ("input.circuits",))
        if len(items) > MAX_CIRCUITS:
            raise PayloadError(f"a multi-circuit job may contain at most {MAX_CIRCUITS} circuits, got {len(items)}",
                               ("input.circuits",))
        total = sum(len(c["circuit"]) for c in items if isinstance(c, dict) and isinstance(c.get("circuit"), list))
        if total > MAX_GATES:
            raise PayloadError(f"a multi-circuit job may contain at most {MAX_GATES} gates in total, got {total}",
                               ("input.circuits",))
        circuits = [_circuit(c, f"input.circuits[{i}]", gateset, qubits, max_qubits, CIRCUIT_KEYS)
                    for i, c in enumerate(items)]
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise PayloadError('"dry_run" must be a boolean', ("dry_run",))
    session_id = body.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise PayloadError('"session_id" must be a string', ("session_id",))
    debiasing = _debiasing(settings, backend, shots, circuits)
    parsed = ParsedJob(job_type, backend, shots, model, seed, echo, metadata, name, settings, dry_run, circuits,
                       session_id=session_id, debiasing=debiasing, body=body)
    parsed.failure = _unsupported_native(circuits, backend if backend != "simulator" else model)
    return parsed


def check_connectivity(job: ParsedJob, model: NoiseModel | None) -> None:
    """A native circuit runs as written (IonQ's compiler does not touch it), so on a device whose
    characterization lists its couplings, a two-qubit gate on a pair it does not couple is refused, naming the
    gate and the pair. QIS circuits are compiled, and routed, by IonQ: they are not checked."""
    if model is None or model.connectivity is None:
        return
    multi = job.job_type == MULTI
    for ci, c in enumerate(job.circuits):
        if c.gateset != "native":
            continue
        for gi, g in enumerate(c.gates):
            qs = g.qubits
            if len(qs) == 2 and not model.couples(qs[0], qs[1]):
                where = f"input.circuits[{ci}].circuit[{gi}].targets" if multi else f"input.circuit[{gi}].targets"
                raise PayloadError(f'"{where}": qubits {qs[0]} and {qs[1]} are not coupled on {job.backend} '
                                   f'(its characterization lists {len(model.connectivity)} pairs)', (where,))


DEBIASING_MIN_SHOTS = 500


def _debiasing(settings: dict[str, Any], backend: str, shots: int, circuits: list[Circuit]) -> bool:
    """The effective debiasing setting, with IonQ's rules (docs.ionq.com, error-mitigation-debiasing):
    QPUs only (not the simulator, noisy or not); at least 500 shots; on by default for QIS jobs with
    500 or more shots, off by default for native-gate jobs."""
    unknown = sorted(set(settings) - {"compilation", "error_mitigation"})
    if unknown:
        raise PayloadError(f'"settings.{unknown[0]}" is not allowed', (f"settings.{unknown[0]}",))
    em = settings.get("error_mitigation")
    if em is None:
        em = {}
    if not isinstance(em, dict):
        raise PayloadError('"settings.error_mitigation" must be an object', ("settings.error_mitigation",))
    for key, value in em.items():
        if key not in ("debiasing", "symmetry_verification"):
            raise PayloadError(f'"settings.error_mitigation.{key}" is not allowed',
                               (f"settings.error_mitigation.{key}",))
        if not isinstance(value, bool):
            raise PayloadError(f'"settings.error_mitigation.{key}" must be a boolean',
                               (f"settings.error_mitigation.{key}",))
    compilation = settings.get("compilation")
    if compilation is not None and not isinstance(compilation, dict):
        raise PayloadError('"settings.compilation" must be an object', ("settings.compilation",))
    for key, kind in COMPILATION_FIELDS.items():
        value = (compilation or {}).get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            what = "a number" if key == "opt" else "a string"
            raise PayloadError(f'"settings.compilation.{key}" must be {what}', (f"settings.compilation.{key}",))
    if em.get("symmetry_verification") is True:
        raise PayloadError('"settings.error_mitigation.symmetry_verification": symmetry verification is not emulated '
                           "(the emulator cannot know which symmetry your circuit preserves); send false or omit it",
                           ("settings.error_mitigation.symmetry_verification",))
    asked = em.get("debiasing")
    key = ("settings.error_mitigation.debiasing",)
    if asked is True and backend == "simulator":
        raise PayloadError('"settings.error_mitigation.debiasing": debiasing is not available on the simulator '
                           "(noisy or not); IonQ offers it on QPUs only", key)
    if asked is True and shots < DEBIASING_MIN_SHOTS:
        raise PayloadError(f'"settings.error_mitigation.debiasing": debiasing needs at least '
                           f'{DEBIASING_MIN_SHOTS} shots, got shots={shots}', key)
    if asked is not None:
        return bool(asked)
    native = all(c.gateset == "native" for c in circuits)
    return backend != "simulator" and shots >= DEBIASING_MIN_SHOTS and not native
