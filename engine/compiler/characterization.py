"""Backend characterization (gate times and fidelities) and the duration / success estimate it gives.

Aria defaults are IonQ's published averages (API_NOTES 2.2: Azure provider page). No Forte figures
are published in our sources, so its default is all unknown: values come from
`GET /backends/{backend}/characterizations` (`Characterization.from_ionq`) or are shown as unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..circuits.ir import Circuit
from ..circuits.template import Template
from .stats import op_counts


@dataclass(frozen=True)
class Characterization:
    """Median fidelities (0..1) and times (seconds); None where unknown."""

    backend: str
    source: str
    fidelity_1q: float | None = None
    fidelity_2q: float | None = None
    fidelity_spam: float | None = None
    time_1q_s: float | None = None
    time_2q_s: float | None = None
    readout_s: float | None = None
    reset_s: float | None = None
    t1_s: float | None = None
    t2_s: float | None = None
    date: str | None = None

    @classmethod
    def from_ionq(cls, body: Any) -> "Characterization":
        """From a characterization object, or the list endpoint's `{"characterizations": [...]}` (newest wins)."""
        if isinstance(body, dict) and "characterizations" in body:
            items = body["characterizations"]
            if not isinstance(items, list) or not items:
                raise ValueError("field 'characterizations': expected a non-empty list")
            for k, it in enumerate(items):
                if not isinstance(it, dict):
                    raise ValueError(f"field 'characterizations[{k}]': expected an object")
            body = max(items, key=lambda it: str(it.get("date") or ""))
        if not isinstance(body, dict):
            raise ValueError(f"a characterization must be a JSON object, got {type(body).__name__}")
        backend = body.get("backend")
        if not isinstance(backend, str) or not backend:
            raise ValueError("field 'backend': expected a backend name")
        fid = _section(body, "fidelity")
        tim = _section(body, "timing")
        date = body.get("date")
        ident = body.get("id")
        return cls(
            backend=backend,
            source=f"IonQ characterization {ident or '(no id)'} of {date or '(no date)'}",
            fidelity_1q=_prob(_median(fid, "1q"), "fidelity.1q.median"),
            fidelity_2q=_prob(_median(fid, "2q"), "fidelity.2q.median"),
            fidelity_spam=_prob(_median(fid, "spam"), "fidelity.spam.median"),
            time_1q_s=_time(tim.get("1q"), "timing.1q"),
            time_2q_s=_time(tim.get("2q"), "timing.2q"),
            readout_s=_time(tim.get("readout"), "timing.readout"),
            reset_s=_time(tim.get("reset"), "timing.reset"),
            t1_s=_time(tim.get("t1"), "timing.t1"),
            t2_s=_time(tim.get("t2"), "timing.t2"),
            date=date if isinstance(date, str) else None,
        )


def _section(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"field '{name}': expected an object")
    return value


def _median(section: dict[str, Any], key: str) -> Any:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"field 'fidelity.{key}': expected an object with 'median'")
    return value.get("median")


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"field '{field}': expected a finite number, got {value!r}")
    return float(value)


def _prob(value: Any, field: str) -> float | None:
    v = _number(value, field)
    if v is not None and not 0.0 <= v <= 1.0:
        raise ValueError(f"field '{field}': a fidelity must be within [0, 1], got {v}")
    return v


def _time(value: Any, field: str) -> float | None:
    v = _number(value, field)
    if v is not None and v < 0:
        raise ValueError(f"field '{field}': a time must not be negative, got {v}")
    return v


ARIA_DEFAULT = Characterization(
    backend="qpu.aria-1",
    source="IonQ published Aria averages (Azure IonQ provider page)",
    fidelity_1q=0.9995, fidelity_2q=0.996, fidelity_spam=0.9961,
    time_1q_s=135e-6, time_2q_s=600e-6, t2_s=1.0,
)
FORTE_DEFAULT = Characterization(backend="qpu.forte-1", source="no published Forte figures: unknown until read from IonQ")


def default_characterization(target: str) -> Characterization:
    return {"aria": ARIA_DEFAULT, "forte": FORTE_DEFAULT}[target]


@dataclass(frozen=True)
class Estimate:
    """Serial gate time (plus readout and reset when known) and the product of gate and SPAM fidelities."""

    duration_s: float | None
    success_probability: float | None


def estimate(native: Circuit | Template, ch: Characterization) -> Estimate:
    """Estimate one native circuit (or the structure of a compiled template) on a characterized backend."""
    items = native.gates if isinstance(native, Circuit) else native.ops
    n1, n2, _ = op_counts((g.qubits for g in items), native.n_qubits)
    duration = None
    if ch.time_1q_s is not None and ch.time_2q_s is not None:
        duration = n1 * ch.time_1q_s + n2 * ch.time_2q_s + (ch.readout_s or 0.0) + (ch.reset_s or 0.0)
    success = None
    f1, f2, spam = ch.fidelity_1q, ch.fidelity_2q, ch.fidelity_spam
    if f1 is not None and f2 is not None and spam is not None:
        success = f1 ** n1 * f2 ** n2 * spam ** native.n_qubits
    return Estimate(duration, success)
