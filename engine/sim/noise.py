"""Noise models from characterizations: global depolarizing, idle decoherence and readout bit flips.

A model is built from a characterization body (IonQ's `GET /backends/{b}/characterizations` object:
`fidelity.1q/2q/spam.median`, `timing.t1/t2/1q/2q` in seconds, `connectivity`), so the emulator's
aria-1 and forte-1 models and a researcher's `noise_model = "characterization"` share one builder, and
every figure says where it comes from (`NoiseModel.sources`).

A circuit with n1 one-qubit and n2 two-qubit gates keeps the ideal distribution with probability
lambda = f1q**n1 * f2q**n2 * exp(-n * D * (1/T1 + 1/T2) / 2), where D = n1*t1q + n2*t2q is the circuit's
serial duration (an upper bound: gates on different qubits may overlap) and n the qubit count; it is
otherwise uniformly mixed; then every qubit's readout flips with probability 1 - spam. This is a coarse
approximation (no coherent errors, no crosstalk), good enough to see a training run degrade the way it
does on hardware. Like IonQ's noisy simulators, noisy models return probabilities estimated from `shots`
samples; `ideal` returns exact probabilities.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np

from ..circuits.errors import shown
from .measure import n_qubits_of, sample_counts

JSONValue = Union[str, int, float, bool, None, Sequence["JSONValue"], Mapping[str, "JSONValue"]]


class CharacterizationError(ValueError):
    """A characterization body that cannot become a noise model; the message names the field (and file)."""


@dataclass(frozen=True)
class NoiseModel:
    name: str
    f1q: float  # one-qubit gate fidelity
    f2q: float  # two-qubit gate fidelity
    spam: float  # state preparation and measurement fidelity, per qubit
    source: str  # where the model as a whole comes from
    t1_s: float | None = None
    t2_s: float | None = None
    gate_1q_s: float | None = None
    gate_2q_s: float | None = None
    connectivity: tuple[tuple[int, int], ...] | None = None  # None: all-to-all
    n_qubits: int | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # figure -> where it comes from

    def couples(self, a: int, b: int) -> bool:
        """Whether a two-qubit gate may act on the pair (unordered)."""
        if self.connectivity is None:
            return True
        return (a, b) in self.connectivity or (b, a) in self.connectivity

    def survival(self, n_1q: np.ndarray, n_2q: np.ndarray, n_qubits: int) -> np.ndarray:
        """lambda per circuit: the probability that no gate error and no idle decoherence happened."""
        one = np.asarray(n_1q, dtype=np.float64)
        two = np.asarray(n_2q, dtype=np.float64)
        lam = self.f1q ** one * self.f2q ** two
        rate = sum(1.0 / t for t in (self.t1_s, self.t2_s) if t) / 2.0
        if rate and (self.gate_1q_s or self.gate_2q_s):
            duration = one * (self.gate_1q_s or 0.0) + two * (self.gate_2q_s or 0.0)
            lam = lam * np.exp(-n_qubits * duration * rate)
        return np.asarray(lam, dtype=np.float64)


def _get(body: Mapping[str, JSONValue], path: str) -> JSONValue:
    """The value at `path`, None when absent; a section there that is not an object is refused, never taken for
    absent (that would silently replace a mistyped figure with a published default)."""
    node: JSONValue = body
    parts = path.split(".")
    for i, part in enumerate(parts):
        if node is None:
            return None
        if not isinstance(node, Mapping):
            section = ".".join(parts[:i])
            raise CharacterizationError(f"characterization field {section!r}: expected an object, got {shown(node)}")
        node = node.get(part)
    return node


def _number(body: Mapping[str, JSONValue], path: str, *, lo: float, hi: float, lo_open: bool = False) -> float | None:
    value = _get(body, path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CharacterizationError(f"characterization field {path!r}: expected a number, got {shown(value)}")
    ok = (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        raise CharacterizationError(f"characterization field {path!r}: {value!r} is outside "
                                    f"{'(' if lo_open else '['}{lo:g}, {hi:g}]")
    return float(value)


def _connectivity(body: Mapping[str, JSONValue], n_qubits: int | None) -> tuple[tuple[int, int], ...] | None:
    raw = body.get("connectivity")
    if raw is None:
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise CharacterizationError("characterization field 'connectivity': expected an array of qubit pairs")
    pairs: list[tuple[int, int]] = []
    for i, pair in enumerate(raw):
        if (not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2
                or not all(isinstance(q, int) and not isinstance(q, bool) and q >= 0 for q in pair)):
            raise CharacterizationError(f"characterization field 'connectivity[{i}]': expected two qubit "
                                        f"indices, got {pair!r}")
        a, b = int(pair[0]), int(pair[1])  # type: ignore[arg-type]
        if a == b:
            raise CharacterizationError(f"characterization field 'connectivity[{i}]': a qubit cannot couple "
                                        f"to itself ({a})")
        if n_qubits is not None and max(a, b) >= n_qubits:
            raise CharacterizationError(f"characterization field 'connectivity[{i}]': qubit {max(a, b)} is "
                                        f"outside the {n_qubits} qubits")
        pairs.append((min(a, b), max(a, b)))
    return tuple(sorted(set(pairs)))


def _first(body: Mapping[str, JSONValue]) -> Mapping[str, JSONValue]:
    """A characterization object from itself or from a page `{"characterizations": [...]}` (first = newest)."""
    page = body.get("characterizations")
    if page is None:
        return body
    if not isinstance(page, Sequence) or isinstance(page, str) or not page:
        raise CharacterizationError("characterization field 'characterizations': the page holds no "
                                    "characterization")
    item = page[0]
    if not isinstance(item, Mapping):
        raise CharacterizationError("characterization field 'characterizations[0]': expected an object")
    return item


FIDELITY_KEYS = ("spam", "1q", "2q")
TIMING_KEYS = ("t1", "t2", "1q", "2q")


def _fidelity(char: Mapping[str, JSONValue], key: str) -> float | None:
    return _number(char, f"fidelity.{key}.median", lo=0.0, hi=1.0, lo_open=True)


def _timing(char: Mapping[str, JSONValue], key: str) -> float | None:
    """A duration in seconds; 0 (IonQ's "not measured") reads as absent."""
    return _number(char, f"timing.{key}", lo=0.0, hi=1e6, lo_open=key in ("t1", "t2")) or None


def _qubits(char: Mapping[str, JSONValue]) -> int | None:
    raw = char.get("qubits")
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or raw < 1):
        raise CharacterizationError(f"characterization field 'qubits': expected a positive integer, got {shown(raw)}")
    return raw


def _backend(char: Mapping[str, JSONValue]) -> str | None:
    raw = char.get("backend")
    if raw is not None and not isinstance(raw, str):
        raise CharacterizationError(f"characterization field 'backend': expected a target name, got {shown(raw)}")
    return raw or None


def check_characterization(body: Mapping[str, JSONValue]) -> None:
    """Refuse any figure present with a wrong type or range, even one this use does not read (missing ones are
    allowed): a file is judged the same whether it feeds the noise model, readout mitigation or the compiler."""
    char = _first(body)
    _backend(char)
    for key in FIDELITY_KEYS:
        _fidelity(char, key)
    for key in TIMING_KEYS:
        _timing(char, key)
    _connectivity(char, _qubits(char))


def spam_fidelity(body: Mapping[str, JSONValue]) -> float | None:
    """`fidelity.spam.median` (None when absent), for readout mitigation; a mistyped one is refused."""
    return _fidelity(_first(body), "spam")


def noise_model_from_characterization(body: Mapping[str, JSONValue], *, name: str | None = None,
                                      defaults: NoiseModel | None = None,
                                      origin: str | None = None) -> NoiseModel:
    """The noise model a characterization describes.

    `fidelity.spam.median` is required (the spec requires it); a missing 1q or 2q fidelity is taken from
    `defaults` (and its source says so) or is an error. A section present with the wrong type (e.g. a number
    where `fidelity.2q` should be an object) is an error, never a default. `origin` (e.g. a file name or URL)
    is added to every source. Times are in seconds as the spec states.
    """
    if not isinstance(body, Mapping):
        raise CharacterizationError("a characterization must be a JSON object")
    char = _first(body)
    backend = _backend(char)
    cid, date = char.get("id"), char.get("date")
    label = f"characterization {cid or '(no id)'} of {backend or '(no backend)'}"
    if date:
        label += f", {date}"
    if origin:
        label += f", from {origin}"
    model_name = name or (backend.removeprefix("qpu.") if backend else "characterization")
    sources: dict[str, str] = {}

    def fidelity(key: str) -> float:
        path = f"fidelity.{key}.median"
        value = _fidelity(char, key)
        if value is not None:
            sources[key] = f"{label} ({path})"
            return value
        if defaults is None or key == "spam":
            raise CharacterizationError(f"characterization field {path!r}: missing")
        sources[key] = f"{defaults.sources.get(key, defaults.source)} (not in {label})"
        return float({"1q": defaults.f1q, "2q": defaults.f2q}[key])

    spam = fidelity("spam")
    f1q = fidelity("1q")
    f2q = fidelity("2q")
    n_qubits = _qubits(char)
    times: dict[str, float | None] = {}
    for key in TIMING_KEYS:
        times[key] = _timing(char, key)
        if times[key] is not None:
            sources[f"timing.{key}"] = f"{label} (timing.{key})"
    connectivity = _connectivity(char, n_qubits)
    if connectivity is not None:
        sources["connectivity"] = f"{label} (connectivity)"
    return NoiseModel(model_name, f1q, f2q, spam, label, times["t1"], times["t2"], times["1q"], times["2q"],
                      connectivity, n_qubits, sources)


def load_characterization(path: str | Path, *, name: str | None = None,
                          defaults: NoiseModel | None = None) -> NoiseModel:
    """A noise model from a JSON file holding a characterization (or a page of them); errors name the file."""
    p = Path(path)
    try:
        body = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise CharacterizationError(f"{p}: cannot read the characterization: {e.strerror or e}") from None
    except ValueError as e:
        raise CharacterizationError(f"{p}: not valid JSON: {e}") from None
    except RecursionError:  # the parser's own limit; never a traceback
        raise CharacterizationError(f"{p}: nested too deeply to be a characterization") from None
    if not isinstance(body, dict):
        raise CharacterizationError(f"{p}: a characterization must be a JSON object")
    try:
        return noise_model_from_characterization(body, name=name, defaults=defaults, origin=str(p))
    except CharacterizationError as e:
        raise CharacterizationError(f"{p}: {e}") from None


# Built-in characterization bodies. Aria: IonQ's published averages (API_NOTES 2.2: 1q 99.95%, 2q 99.6%,
# SPAM 99.61%, 1q gate ~135 us, MS ~600 us, T1 10-100 s (10 used), T2 ~1 s). Forte: no verified published
# figures in our sources, so Aria's stand in, marked PLACEHOLDER, until a live characterization is read.
ARIA_1_CHARACTERIZATION: dict[str, JSONValue] = {
    "id": "00000000-0000-4000-8000-0000000a1a01", "backend": "qpu.aria-1", "date": "published averages",
    "qubits": 25, "fidelity": {"spam": {"median": 0.9961}, "1q": {"median": 0.9995}, "2q": {"median": 0.996}},
    "timing": {"t1": 10, "t2": 1, "1q": 135e-6, "2q": 600e-6, "readout": 0, "reset": 0},
}
FORTE_1_CHARACTERIZATION: dict[str, JSONValue] = {
    "id": "00000000-0000-4000-8000-0000000f0f01", "backend": "qpu.forte-1", "date": "PLACEHOLDER",
    "qubits": 36, "fidelity": {"spam": {"median": 0.9961}, "1q": {"median": 0.9995}, "2q": {"median": 0.996}},
    "timing": {"readout": 0, "reset": 0},
}
FORTE_ENTERPRISE_1_CHARACTERIZATION: dict[str, JSONValue] = {
    **FORTE_1_CHARACTERIZATION, "id": "00000000-0000-4000-8000-0000000fe001", "backend": "qpu.forte-enterprise-1"}
_BUILTIN_ORIGIN = {
    "aria-1": "IonQ-published Aria averages (API_NOTES 2.2)",
    "forte-1": "PLACEHOLDER: Aria's published values; no verified Forte figures until a live characterization",
    "forte-enterprise-1": "PLACEHOLDER: Aria's published values; no verified Forte Enterprise figures until a live "
                          "characterization",
}
NOISE_MODELS: dict[str, NoiseModel] = {
    "aria-1": noise_model_from_characterization(ARIA_1_CHARACTERIZATION, name="aria-1",
                                                origin=_BUILTIN_ORIGIN["aria-1"]),
    "forte-1": noise_model_from_characterization(FORTE_1_CHARACTERIZATION, name="forte-1",
                                                 origin=_BUILTIN_ORIGIN["forte-1"]),
    "forte-enterprise-1": noise_model_from_characterization(FORTE_ENTERPRISE_1_CHARACTERIZATION,
                                                            name="forte-enterprise-1",
                                                            origin=_BUILTIN_ORIGIN["forte-enterprise-1"]),
}
BUILTIN_CHARACTERIZATIONS: dict[str, dict[str, JSONValue]] = {
    "aria-1": ARIA_1_CHARACTERIZATION, "forte-1": FORTE_1_CHARACTERIZATION,
    "forte-enterprise-1": FORTE_ENTERPRISE_1_CHARACTERIZATION}
MODEL_NAMES: tuple[str, ...] = ("ideal", *NOISE_MODELS)


def noise_model(name: str) -> NoiseModel | None:
    """The model called `name` (None for "ideal"); a clear error for anything else."""
    if name == "ideal":
        return None
    try:
        return NOISE_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown noise model {name!r}; expected one of {', '.join(MODEL_NAMES)}") from None


def readout_flips(probs: np.ndarray, spam: float) -> np.ndarray:
    """Every qubit's readout flips with probability 1 - spam (rows of a little-endian distribution)."""
    n = n_qubits_of(probs)
    e = 1.0 - spam
    # Little-endian index k: in C order the axes of shape (B, 2, ..., 2) are bits n-1 .. 0.
    cube = np.asarray(probs, dtype=np.float64).reshape((probs.shape[0],) + (2,) * n)
    for axis in range(1, n + 1):
        cube = (1.0 - e) * cube + e * np.flip(cube, axis=axis)
    return cube.reshape(probs.shape)


def noisy_distribution(probs: np.ndarray, model: NoiseModel, n_1q: np.ndarray, n_2q: np.ndarray) -> np.ndarray:
    """The exact distribution (B, 2**n) under the model: depolarized, then readout bit flips."""
    probs = np.asarray(probs, dtype=np.float64)
    n = n_qubits_of(probs)
    lam = model.survival(n_1q, n_2q, n)
    out = lam[:, None] * probs + (1.0 - lam)[:, None] / probs.shape[1]
    return readout_flips(out, model.spam)


def apply_noise(probs: np.ndarray, model: str | NoiseModel, n_1q: np.ndarray, n_2q: np.ndarray,
                rng: np.random.Generator, shots: int) -> np.ndarray:
    """What IonQ's simulator returns for `model`: exact probabilities for "ideal", else counts / shots."""
    m = noise_model(model) if isinstance(model, str) else model
    if m is None:
        return np.asarray(probs, dtype=np.float64)
    counts = sample_counts(noisy_distribution(probs, m, n_1q, n_2q), shots, rng)
    return np.asarray(counts / float(shots), dtype=np.float64)
