"""The body of a cloned (or moved) job: the source job's own body with the clone payload's fields in place.

`POST /jobs/{id}/clone` and `/move` take a partial job (spec `Partial_BaseChildJobCreationPayload_`: name,
metadata, shots, backend, session_id, settings, dry_run, noise) and create a new job; the new body goes
through the same validation as any `POST /jobs`. A child job of a multi-circuit job clones as a
single-circuit job of its own circuit. The emulator's convention for `move`, which the spec does not
describe: the new job is created as for a clone and the source job is canceled if it has not finished.
"""

from __future__ import annotations

import copy
from typing import Any

from .jobs import EmuJob
from .payload import MULTI, SINGLE, PayloadError

OVERRIDABLE = ("name", "metadata", "shots", "backend", "session_id", "settings", "dry_run", "noise")


def _own_body(job: EmuJob) -> dict[str, Any]:
    body = copy.deepcopy(job.job.body)
    if job.parent_id is None or body.get("type") != MULTI:
        return body
    inp = body.get("input") or {}
    circuit = (inp.get("circuits") or [])[job.index]
    single_input = {"gateset": circuit.get("gateset", inp.get("gateset", "qis")),
                    "qubits": circuit.get("qubits", inp.get("qubits")), "circuit": circuit["circuit"]}
    if single_input["qubits"] is None:
        del single_input["qubits"]
    return {**{k: v for k, v in body.items() if k != "input"}, "type": SINGLE, "input": single_input}


def clone_body(job: EmuJob, payload: Any) -> dict[str, Any]:
    """The create-job body for a clone of `job` with `payload`'s fields; PayloadError naming a bad field."""
    if not isinstance(payload, dict):
        raise PayloadError("the request body must be a JSON object")
    if "parent" in payload:
        raise PayloadError('"parent" is not supported by the emulator (clone the job you want)', ("parent",))
    unknown = sorted(set(payload) - set(OVERRIDABLE))
    if unknown:
        raise PayloadError(f'"{unknown[0]}" is not allowed', (unknown[0],))
    body = _own_body(job)
    body.update(copy.deepcopy(payload))
    return body
