"""SmartCircuitCache: templates by computed structure hash, their compiled forms, and bound angles.

What the v3.4 cache got wrong and this one does not: keys are never caller-chosen names or values
rounded to a few digits. A template is found by `Template.structure_hash` (gates, wiring, slot
table); a bound batch by the exact float64 bytes of its params and inputs; a caller's
`structure_key` is only a label. Binding goes through the template's own table, so inputs can only
land in input slots and trainables in trainable slots.

Three levels, one byte budget (measured from the numpy arrays held):
- templates (`max_templates`), each with its compiled native forms and its runnable form;
- bound batches, keyed by the whole batch's exact bytes (`max_bound_circuits` counts rows): a repeated
  validation pass skips binding. Hashing the bytes costs about what a qis matmul bind costs, so by
  default only native binds are remembered, and `lookup_ms` is reported beside `time_saved_ms`;
  bench/cache_batch.py measures both, and a per-row key (slower than binding: not offered).
- `get_or_build`, the v3.4 single-circuit shape, keyed by (builder, n_qubits, exact bytes).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .circuits.ionq_json import circuit_to_json, parse_circuit
from .circuits.ir import Circuit
from .circuits.template import CircuitBatch, Template, is_identity
from .events import CacheStats

if TYPE_CHECKING:
    from .compiler import CompiledTemplate, NativeGateCompiler


CacheKey = tuple[object, ...]  # hashable parts: names, shapes, exact bytes


def compiler_key(compiler: NativeGateCompiler) -> CacheKey:
    """Compiled forms differ by compiler class, target and optimisation switch."""
    return (type(compiler).__qualname__, compiler.target, compiler.optimize)


def array_bytes(obj: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Bytes of the distinct numpy arrays reachable from `obj` (attributes, containers), each counted once."""
    seen = set() if _seen is None else _seen
    if _depth > 6 or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return 0
    if isinstance(obj, np.ndarray):
        owner = obj if obj.base is None or not isinstance(obj.base, np.ndarray) else obj.base
        if id(owner) in seen:
            return 0
        seen.add(id(owner))
        return int(owner.nbytes)
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, dict):
        items: Any = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = obj
    else:
        items = list(getattr(obj, "__dict__", {}).values())
        items += [getattr(obj, s) for s in getattr(type(obj), "__slots__", ()) if hasattr(obj, s)]
    return sum(array_bytes(x, seen, _depth + 1) for x in items)


def executable(template: Template) -> Template:
    """The same gates with every angle a free slot, so a (B, K) angle matrix runs as it is."""
    k = template.n_angles
    if (template.n_inputs == 0 and template.n_trainable == k and not template.const.any()
            and (template.slot_weights is None or is_identity(template.slot_weights))):
        return template
    # an implicit identity: np.eye(k) was k**2 floats, 180 GB for a 150,000-angle circuit
    return Template(template.n_qubits, template.ops, np.zeros(k), None, np.zeros((0, k)),
                    template.gateset, template.label)


@dataclass(frozen=True)
class CircuitCacheStats:
    """Counters since the cache was made, or since a `counters()` mark; the held levels are current."""

    template_hits: int = 0
    template_misses: int = 0
    compile_hits: int = 0
    compile_misses: int = 0
    bound_hits: int = 0
    bound_misses: int = 0
    bound_skipped: int = 0  # batches larger than the budget, bound but not stored
    bound_unremembered: int = 0  # binds that skipped the bound LRU (qis binds by default)
    template_evictions: int = 0
    bound_evictions: int = 0
    time_saved_ms: float = 0.0  # on each hit: the build / compile / bind time measured on its miss
    miss_ms: float = 0.0  # time spent building, compiling and binding on misses
    lookup_ms: float = 0.0  # time spent hashing exact bytes for bound lookups
    # levels, not counters:
    bytes_held: int = 0
    templates_held: int = 0
    bound_circuits_held: int = 0

    @property
    def template_lookups(self) -> int:
        return self.template_hits + self.template_misses

    @property
    def bound_lookups(self) -> int:
        return self.bound_hits + self.bound_misses

    @property
    def evictions(self) -> int:
        return self.template_evictions + self.bound_evictions

    @staticmethod
    def _rate(hits: int, misses: int) -> float:
        return hits / (hits + misses) if hits + misses else 0.0

    @property
    def template_hit_rate(self) -> float:
        return self._rate(self.template_hits, self.template_misses)

    @property
    def compile_hit_rate(self) -> float:
        return self._rate(self.compile_hits, self.compile_misses)

    @property
    def bound_hit_rate(self) -> float:
        return self._rate(self.bound_hits, self.bound_misses)

    def text(self) -> str:
        """The report's "Circuit Cache" lines."""
        return "\n".join([
            f"  Template Hit Rate: {self.template_hit_rate:.1%} ({self.template_hits} of {self.template_lookups})",
            f"  Compile Hit Rate: {self.compile_hit_rate:.1%} ({self.compile_hits} of {self.compile_hits + self.compile_misses})",
            f"  Bound Hit Rate: {self.bound_hit_rate:.1%} ({self.bound_hits} of {self.bound_lookups}; "
            f"{self.bound_unremembered} binds not looked up)",
            f"  Time Saved: {self.time_saved_ms:,.1f}ms (lookups cost {self.lookup_ms:,.1f}ms)",
            f"  Evictions: {self.evictions:,} ({self.template_evictions} templates, {self.bound_evictions} bound)",
            f"  Held: {self.templates_held} templates, {self.bound_circuits_held:,} bound circuits, "
            f"{self.bytes_held / 2**20:,.2f} MiB",
        ])

    def to_event(self) -> CacheStats:
        return CacheStats(template_hits=self.template_hits, template_misses=self.template_misses,
                          bound_hits=self.bound_hits, bound_misses=self.bound_misses, evictions=self.evictions,
                          bytes_held=self.bytes_held, time_saved_ms=self.time_saved_ms)


@dataclass(eq=False)
class _Compiled:
    compiled: CompiledTemplate
    compile_ms: float
    run_template: Template | None = None  # the native template it binds to, made runnable on first bind


@dataclass(eq=False)
class _TemplateEntry:
    template: Template
    build_ms: float
    labels: set[str] = field(default_factory=set)
    runnable: Template | None = None
    compiled: dict[CacheKey, _Compiled] = field(default_factory=dict)
    bound_keys: set[CacheKey] = field(default_factory=set)
    nbytes: int = 0


@dataclass(eq=False)
class _BoundEntry:
    owner: str  # structure hash of the template it belongs to
    angles: np.ndarray  # read-only (B, K); for get_or_build one row of the circuit's own template
    cost_ms: float
    extra: tuple[bool, str | None] = (False, None)  # get_or_build: (returned a dict?, circuit name)
    nbytes: int = 0  # angles plus the key's bytes


@dataclass(frozen=True)
class BoundBatch:
    """A bound batch: the template to run (qis or native, every angle a free slot) and its (B, K) angles.

    `angles` is read-only: it may be shared with the cache. `compiled` is the CompiledTemplate when the
    angles are native (its `undo_permutation` maps results back to the source's qubits). `compile_ms`
    is the compile time spent in this call (0 when the compiled form was cached).
    """

    template: Template
    angles: np.ndarray
    compiled: CompiledTemplate | None = None
    hit: bool = False
    compile_ms: float = 0.0

    def batch(self, start: int = 0, stop: int | None = None) -> CircuitBatch:
        rows = self.angles[start:stop]
        return CircuitBatch(self.template, rows, np.zeros((rows.shape[0], 0)))


def _exact_key(*arrays: np.ndarray) -> CacheKey:
    """Shapes and the exact float64 bytes: no rounding, no digest collisions. Python caches the hash
    of the bytes, and a hit compares them in full (memcmp): measured cheaper than sha256 here."""
    arrays = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in arrays)
    return tuple(a.shape for a in arrays) + (b"".join(a.data for a in arrays),)


class SmartCircuitCache:
    """Templates, compiled templates and bound circuits, within count and byte bounds (the template in use stays even
    when it alone is over max_bytes: evicting it would rebuild it at every call). Thread-safe."""

    def __init__(self, max_templates: int = 100, max_bound_circuits: int = 1000, max_bytes: int = 256 * 2**20):
        for name, value in (("max_templates", max_templates), ("max_bound_circuits", max_bound_circuits),
                            ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        self.max_templates = max_templates
        self.max_bound_circuits = max_bound_circuits
        self.max_bytes = max_bytes
        self._lock = threading.RLock()
        self._templates: OrderedDict[str, _TemplateEntry] = OrderedDict()
        self._bound: OrderedDict[Any, _BoundEntry] = OrderedDict()
        self._bound_rows = 0
        self._bytes = 0
        self._counts: dict[str, float] = {f.name: 0 for f in fields(CircuitCacheStats)}

    # ----- stats -----

    def stats(self, since: dict[str, float] | None = None) -> CircuitCacheStats:
        """A snapshot; with `since` (from `counters()`), the counts of what happened after it."""
        with self._lock:
            counts = self._counts if since is None else {k: v - since[k] for k, v in self._counts.items()}
            levels = {"bytes_held": self._bytes, "templates_held": len(self._templates),
                      "bound_circuits_held": self._bound_rows}
            return CircuitCacheStats(**{**counts, **levels})  # type: ignore[arg-type]  # ints and floats by field

    def counters(self) -> dict[str, float]:
        """The raw counters, cheap to take before an operation and pass to `stats(since=...)`."""
        with self._lock:
            return dict(self._counts)

    def _count(self, **increments: float) -> None:
        for k, v in increments.items():
            self._counts[k] += v

    def labels(self, template: Template) -> set[str]:
        """The caller labels seen for this structure (labels never decide identity)."""
        with self._lock:
            entry = self._templates.get(template.structure_hash)
            return set(entry.labels) if entry else set()

    def __contains__(self, template: Template) -> bool:
        with self._lock:
            return template.structure_hash in self._templates

    # ----- templates -----

    def template(self, template: Template, *, label: str | None = None, build_ms: float = 0.0) -> Template:
        """The cached template with this structure (a hit), or `template`, stored (a miss).

        `build_ms` is what building it cost the caller; later hits count it as time saved.
        """
        return self._entry(template, label=label, build_ms=build_ms).template

    def _entry(self, template: Template, *, label: str | None = None, build_ms: float = 0.0) -> _TemplateEntry:
        key = template.structure_hash
        with self._lock:
            entry = self._templates.get(key)
            if entry is not None:
                self._templates.move_to_end(key)
                self._count(template_hits=1, time_saved_ms=entry.build_ms)
            else:
                entry = _TemplateEntry(template, build_ms)
                entry.nbytes = array_bytes(template)
                self._templates[key] = entry
                self._bytes += entry.nbytes
                self._count(template_misses=1, miss_ms=build_ms)
                self._enforce(keep=key)
            if label is not None:
                entry.labels.add(label)
            return entry

    def runnable(self, template: Template) -> Template:
        """`executable(template)`, made once per structure."""
        return self._runnable(self._entry(template))

    def _runnable(self, entry: _TemplateEntry) -> Template:
        with self._lock:
            if entry.runnable is None:
                entry.runnable = executable(entry.template)
                self._grow(entry, array_bytes(entry.runnable) if entry.runnable is not entry.template else 0)
            return entry.runnable

    def compiled(self, template: Template, compiler: NativeGateCompiler) -> CompiledTemplate:
        """The template compiled by `compiler`, compiled once per (structure, compiler target and options)."""
        return self._compiled(self._entry(template), compiler)[0].compiled

    def _compiled(self, entry: _TemplateEntry, compiler: NativeGateCompiler) -> tuple[_Compiled, float]:
        """The compiled form and the compile time spent now (0.0 on a hit)."""
        ckey = compiler_key(compiler)
        with self._lock:
            found = entry.compiled.get(ckey)
            if found is not None:
                self._count(compile_hits=1, time_saved_ms=found.compile_ms)
                return found, 0.0
        t0 = time.perf_counter()
        compiled = compiler.compile_template(entry.template)
        ms = (time.perf_counter() - t0) * 1e3
        with self._lock:
            found = entry.compiled.get(ckey)
            if found is not None:  # compiled meanwhile by another thread: keep the first
                self._count(compile_hits=1, time_saved_ms=found.compile_ms)
                return found, ms
            found = entry.compiled[ckey] = _Compiled(compiled, ms)
            self._count(compile_misses=1, miss_ms=ms)
            seen: set[int] = set()
            array_bytes(entry.template, seen)  # the compiled form refers to its source: count that once
            self._grow(entry, array_bytes(compiled, seen))
            return found, ms

    def _grow(self, entry: _TemplateEntry, nbytes: int) -> None:
        entry.nbytes += nbytes
        if self._templates.get(entry.template.structure_hash) is entry:
            self._bytes += nbytes
            self._enforce(keep=entry.template.structure_hash)

    # ----- binding -----

    def bind(self, template: Template, params: np.ndarray, inputs: np.ndarray | None = None, *,
             compiler: NativeGateCompiler | None = None, remember: bool | None = None) -> BoundBatch:
        """Bind a batch: (B, P) params and (B, D) inputs to (B, K) angles of the template to run.

        With `compiler`, the angles are those of the compiled native template. With `remember`, the
        batch is looked up and stored by its exact bytes, so a repeat (a validation pass) skips
        binding. Default: remember native binds only. A qis bind is one matmul, which costs what
        hashing the bytes costs (bench/cache_batch.py), so remembering it would save nothing.
        """
        params, inputs = template.check_shapes(params, inputs)
        entry = self._entry(template)
        owner = entry.template.structure_hash
        comp, compile_ms = self._compiled(entry, compiler) if compiler is not None else (None, 0.0)
        remember = comp is not None if remember is None else remember
        key = None
        if remember:
            t0 = time.perf_counter()
            key = ("batch", owner, compiler_key(compiler) if compiler else None) + _exact_key(params, inputs)
            t1 = time.perf_counter()
            with self._lock:
                self._count(lookup_ms=(t1 - t0) * 1e3)
                run = self._runnable(entry) if comp is None else comp.run_template
                hit = self._bound.get(key)
                if hit is not None and run is not None:
                    self._bound.move_to_end(key)
                    self._count(bound_hits=1, time_saved_ms=hit.cost_ms)
                    return BoundBatch(run, hit.angles, comp.compiled if comp else None, True, compile_ms)
        t0 = time.perf_counter()
        if comp is None:
            angles = entry.template.bind_angles(params, inputs)
            run = self._runnable(entry)
        else:
            native, angles = comp.compiled.bind(params, inputs)
            angles = np.array(angles, dtype=np.float64)
            if comp.run_template is None:
                with self._lock:
                    comp.run_template = executable(native)
                    self._grow(entry, array_bytes(comp.run_template) if comp.run_template is not native else 0)
            run = comp.run_template
        angles.flags.writeable = False
        ms = (time.perf_counter() - t0) * 1e3
        with self._lock:
            if key is None:
                self._count(bound_unremembered=1)
            else:
                self._count(bound_misses=1, miss_ms=ms)
                self._store_bound(key, _BoundEntry(owner, angles, ms))
        return BoundBatch(run, angles, comp.compiled if comp else None, False, compile_ms)

    # ----- the v3.4 single-circuit shape -----

    def get_or_build(self, structure_key: str, parameters: np.ndarray, input_data: np.ndarray | None,
                     builder_func: Callable[[np.ndarray, np.ndarray | None], Any], n_qubits: int) -> Any:
        """One circuit as `builder_func(parameters, input_data)` builds it, built once per exact arguments.

        The key is (builder_func, n_qubits, exact bytes of parameters and input_data): a different
        input with the same parameters is a different circuit. `structure_key` is a label only; the
        built circuit's own structure hash files it with its template. The builder must be
        deterministic. Returns what the builder returns: an IonQ circuit dict (as a fresh, normalised
        dict) or a Circuit (a copy), so callers can never edit the cached one.
        """
        params = np.asarray(parameters, dtype=np.float64)
        inputs = np.zeros(0) if input_data is None else np.asarray(input_data, dtype=np.float64)
        t0 = time.perf_counter()
        key = ("circuit", builder_func, int(n_qubits), input_data is None) + _exact_key(params, inputs)
        t1 = time.perf_counter()
        with self._lock:
            self._count(lookup_ms=(t1 - t0) * 1e3)
            hit = self._bound.get(key)
            if hit is not None:
                self._bound.move_to_end(key)
                self._count(bound_hits=1, time_saved_ms=hit.cost_ms)
                template = self._templates[hit.owner].template
                as_dict, name = hit.extra
                circuit = template.circuit_from_angles(hit.angles, name)
                return circuit_to_json(circuit) if as_dict else circuit
        t0 = time.perf_counter()
        built = builder_func(parameters, input_data)
        as_dict = isinstance(built, dict)
        if as_dict:
            circuit = parse_circuit(built if "qubits" in built else {**built, "qubits": n_qubits})
        elif isinstance(built, Circuit):
            circuit = Circuit(built.n_qubits, list(built.gates), built.gateset, built.name).validate()
        else:
            raise TypeError(f"builder_func: must return an IonQ circuit dict or a Circuit, got {type(built).__name__}")
        if circuit.n_qubits != n_qubits:
            raise ValueError(f"n_qubits: the builder made a {circuit.n_qubits}-qubit circuit, n_qubits is {n_qubits}")
        template, row = Template.from_circuit(circuit)
        ms = (time.perf_counter() - t0) * 1e3
        owner = self._entry(template, label=structure_key).template.structure_hash
        row.flags.writeable = False
        with self._lock:
            self._count(bound_misses=1, miss_ms=ms)
            self._store_bound(key, _BoundEntry(owner, row, ms, (as_dict, circuit.name)))
        return circuit_to_json(circuit) if as_dict else Circuit(circuit.n_qubits, list(circuit.gates),
                                                                    circuit.gateset, circuit.name)

    # ----- bounds -----

    def _store_bound(self, key: CacheKey, entry: _BoundEntry) -> None:
        rows = entry.angles.shape[0] if entry.angles.ndim == 2 else 1
        data = key[-1]
        entry.nbytes = entry.angles.nbytes + (len(data) if isinstance(data, bytes) else 0)
        owner = self._templates.get(entry.owner)
        if owner is None or rows > self.max_bound_circuits or entry.nbytes > self.max_bytes:
            self._count(bound_skipped=1)
            return
        if key in self._bound:
            self._drop_bound(key)
        self._bound[key] = entry
        owner.bound_keys.add(key)
        self._bound_rows += rows
        self._bytes += entry.nbytes
        self._enforce(keep=entry.owner)

    def _drop_bound(self, key: Any) -> None:
        old = self._bound.pop(key)
        self._bound_rows -= old.angles.shape[0] if old.angles.ndim == 2 else 1
        self._bytes -= old.nbytes
        owner = self._templates.get(old.owner)
        if owner is not None:
            owner.bound_keys.discard(key)

    def _enforce(self, keep: str | None) -> None:
        """Evict least recently used entries until every bound holds: bound circuits first, then templates
        (a template takes its bound circuits with it)."""
        while self._bound and (self._bound_rows > self.max_bound_circuits or self._bytes > self.max_bytes):
            self._drop_bound(next(iter(self._bound)))
            self._count(bound_evictions=1)
        while len(self._templates) > self.max_templates or self._bytes > self.max_bytes:
            victim = next((k for k in self._templates if k != keep), None)
            if victim is None:
                break
            for key in list(self._templates[victim].bound_keys):
                self._drop_bound(key)
                self._count(bound_evictions=1)
            self._bytes -= self._templates.pop(victim).nbytes
            self._count(template_evictions=1)
