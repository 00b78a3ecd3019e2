"""Which IonQ targets exist today (`GET /backends`), with a built-in list for offline use, and each
target's latest characterization (`GET /backends/{backend}/characterizations`): fidelities, timings and
the connectivity the compiler must honour.

A target that IonQ no longer lists, or lists as retired or unavailable, is flagged with a message that
names it; it is never used silently. Offline (IonQ unreachable), the built-in list is used and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from .ionq_client import IonQClient
from .ionq_errors import IonQConnectionError, IonQError, IonQServerError, IonQTimeoutError


@dataclass(frozen=True)
class TargetInfo:
    """One backend as IonQ describes it (spec Backend), reduced to what a run needs."""

    name: str
    qubits: int
    status: str  # available, unavailable, retired
    native_gates: tuple[str, ...] = ()
    error_mitigations: tuple[str, ...] = ()
    characterization_id: str | None = None
    degraded: bool = False


# IonQ's targets as of the spec (openapi-v0.4.json, September 2026) and the API notes; qubit counts from
# IonQ's published system pages (Aria 25, Forte 36) and the cloud simulator's 29.
BUILTIN_TARGETS: tuple[TargetInfo, ...] = (
    TargetInfo("simulator", 29, "available", ("gpi", "gpi2", "ms", "zz")),
    TargetInfo("qpu.aria-1", 25, "available", ("gpi", "gpi2", "ms"), ("debiasing",)),
    TargetInfo("qpu.aria-2", 25, "available", ("gpi", "gpi2", "ms"), ("debiasing",)),
    TargetInfo("qpu.forte-1", 36, "available", ("gpi", "gpi2", "zz"), ("debiasing",)),
    TargetInfo("qpu.forte-enterprise-1", 36, "available", ("gpi", "gpi2", "zz"), ("debiasing",)),
)


@dataclass(frozen=True)
class TargetList:
    targets: tuple[TargetInfo, ...]
    source: Literal["ionq", "builtin"]
    note: str = ""  # why the built-in list is used

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.targets)

    def get(self, name: str) -> TargetInfo | None:
        return next((t for t in self.targets if t.name == name), None)

    def problem(self, name: str) -> str | None:
        """Why `name` cannot be used, or None when it can."""
        info = self.get(name)
        where = "IonQ's /backends" if self.source == "ionq" else "the built-in target list"
        if info is None:
            return f"target {name!r} is not listed by {where} (listed: {', '.join(self.names)})"
        if info.status in ("retired", "unavailable"):
            return f"target {name!r} is {info.status} according to {where}"
        return None


def _target(body: Mapping[str, Any]) -> TargetInfo:
    def strings(key: str) -> tuple[str, ...]:
        value = body.get(key) or []
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    cid = body.get("characterization_id")
    return TargetInfo(str(body["backend"]), int(body.get("qubits") or 0), str(body.get("status", "available")),
                      strings("supported_native_gates"), strings("supported_error_mitigations"),
                      str(cid) if cid else None, bool(body.get("degraded", False)))


async def target_list(client: IonQClient | None) -> TargetList:
    """IonQ's current list when reachable; the built-in list (saying why) when not."""
    if client is None:
        return TargetList(BUILTIN_TARGETS, "builtin", "no IonQ client (offline)")
    try:
        bodies = await client.backends()
    except (IonQConnectionError, IonQTimeoutError, IonQServerError) as e:
        return TargetList(BUILTIN_TARGETS, "builtin", f"IonQ's /backends unreachable: {e}")
    if not isinstance(bodies, list):
        raise IonQError("GET /backends did not return an array")
    return TargetList(tuple(_target(b) for b in bodies if isinstance(b, Mapping) and "backend" in b), "ionq")


@dataclass(frozen=True)
class Characterization:
    """A backend's measured figures (spec Characterization); None where IonQ gave none."""

    id: str
    backend: str
    date: str
    qubits: int | None
    connectivity: tuple[tuple[int, int], ...] | None  # unordered pairs; None: all-to-all
    spam: float | None
    f1q: float | None
    f2q: float | None
    body: Mapping[str, Any]  # the body as read, for the noise model builder

    def coupling_set(self) -> frozenset[tuple[int, int]] | None:
        """Both orders of every coupled pair, or None for all-to-all."""
        if self.connectivity is None:
            return None
        return frozenset({(a, b) for a, b in self.connectivity} | {(b, a) for a, b in self.connectivity})


def _median(fid: Mapping[str, Any], key: str) -> float | None:
    part = fid.get(key)
    value = part.get("median") if isinstance(part, Mapping) else None
    return float(value) if isinstance(value, (int, float)) else None


def parse_characterization(body: Mapping[str, Any]) -> Characterization:
    """One characterization object; a bad connectivity entry names its index."""
    pairs: list[tuple[int, int]] | None = None
    raw: Sequence[Any] | None = body.get("connectivity")
    if raw is not None:
        pairs = []
        for i, pair in enumerate(raw):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(q, int) for q in pair)
                    and pair[0] != pair[1]):
                raise IonQError(f"characterization {body.get('id')}: connectivity[{i}] is not a pair of "
                                f"distinct qubits: {pair!r}")
            pairs.append((int(pair[0]), int(pair[1])))
    fid = body.get("fidelity") or {}
    qubits = body.get("qubits")
    return Characterization(str(body.get("id", "")), str(body.get("backend", "")), str(body.get("date", "")),
                            int(qubits) if isinstance(qubits, int) else None,
                            tuple(pairs) if pairs is not None else None,
                            _median(fid, "spam"), _median(fid, "1q"), _median(fid, "2q"), body)


async def latest_characterization(client: IonQClient, backend: str) -> Characterization | None:
    """The newest characterization of `backend` (IonQ lists newest first), or None when it has none."""
    page = await client.characterizations(backend, limit=1)
    items = page.get("characterizations") if isinstance(page, Mapping) else None
    if not items:
        return None
    return parse_characterization(items[0])
