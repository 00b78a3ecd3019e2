"""Input circuits into structure groups: a CircuitBatch as it is, a list grouped by structure hash.

List items may be IonQ circuit dicts, `Circuit`s or `cirq.Circuit`s; errors name the item's index. Each group
keeps the input positions of its rows, so results go back in input order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import numpy as np

from ..circuits.errors import CircuitError
from ..circuits.ionq_json import parse_circuit
from ..circuits.ir import Circuit
from ..circuits.template import CircuitBatch, Template
from ..circuits.validate import DEFAULT_MAX_QUBITS, validate_n_qubits

if TYPE_CHECKING:
    import cirq

InputCircuit: TypeAlias = Union[Circuit, Mapping[str, Any], "cirq.Circuit"]


@dataclass
class Group:
    """Rows of one structure; `indices` are their input positions."""

    template: Template
    params: np.ndarray
    inputs: np.ndarray
    indices: np.ndarray
    in_order: bool = False
    whole: CircuitBatch | None = None  # the input batch itself, when it is one



def group_circuits(circuits: CircuitBatch | Sequence[CircuitBatch] | Sequence[InputCircuit], *, max_qubits: int = DEFAULT_MAX_QUBITS,
                   limit_of: str = "the local simulator") -> list[Group]:
    """One group for a CircuitBatch (rows already in input order); for a list, one group per structure.

    Every circuit is checked at this door against `max_qubits` (the backend's limit, named `limit_of`), so that
    no count reaches code that sizes arrays by 2**n."""
    if isinstance(circuits, CircuitBatch):
        if len(circuits) == 0:
            raise ValueError("circuits: the batch is empty")
        validate_n_qubits(circuits.template.n_qubits, "circuits.template.n_qubits", max_qubits, limit_of)
        return [Group(circuits.template, circuits.params, circuits.inputs, np.arange(len(circuits)), True, circuits)]
    if isinstance(circuits, Sequence) and circuits and all(isinstance(c, CircuitBatch) for c in circuits):
        return _batch_groups([c for c in circuits if isinstance(c, CircuitBatch)], max_qubits, limit_of)
    if isinstance(circuits, (str, bytes, dict)) or not isinstance(circuits, Sequence):
        raise TypeError(f"circuits: must be a CircuitBatch or a list of circuits, got {type(circuits).__name__}")
    if not circuits:
        raise ValueError("circuits: the list is empty")
    by_hash: dict[str, tuple[Template, list[np.ndarray], list[int]]] = {}
    for i, item in enumerate(circuits):
        template, row = Template.from_circuit(to_circuit(item, i, max_qubits, limit_of))
        entry = by_hash.setdefault(template.structure_hash, (template, [], []))
        entry[1].append(row)
        entry[2].append(i)
    return [Group(t, np.array(rows).reshape(len(idx), -1), np.zeros((len(idx), 0)), np.array(idx))
            for t, rows, idx in by_hash.values()]


def _batch_groups(batches: Sequence[CircuitBatch], max_qubits: int, limit_of: str) -> list[Group]:
    """Several CircuitBatches (e.g. a QN-SPSA step's loss rows and its overlap rows, two structures) as one call:
    one group per batch, rows numbered in list order."""
    groups, start = [], 0
    for i, b in enumerate(batches):
        if len(b) == 0:
            raise ValueError(f"circuits[{i}]: the batch is empty")
        validate_n_qubits(b.template.n_qubits, f"circuits[{i}].template.n_qubits", max_qubits, limit_of)
        groups.append(Group(b.template, b.params, b.inputs, np.arange(start, start + len(b)), False, b))
        start += len(b)
    return groups


def to_circuit(item: object, index: int, max_qubits: int = DEFAULT_MAX_QUBITS,
               limit_of: str = "the local simulator") -> Circuit:
    """A list item as a Circuit within `max_qubits`; errors name the item's index."""
    try:
        if isinstance(item, Circuit):
            validate_n_qubits(item.n_qubits, "qubits", max_qubits, limit_of)
            return item.validate()
        if isinstance(item, dict):
            return parse_circuit(item, max_qubits=max_qubits, limit_of=limit_of)
        if type(item).__module__.split(".")[0] == "cirq":
            from ..circuits.cirq_interop import from_cirq

            circuit = from_cirq(item)
            validate_n_qubits(circuit.n_qubits, "qubits", max_qubits, limit_of)
            return circuit
    except CircuitError as exc:
        raise CircuitError(f"circuits[{index}]: {exc}") from exc
    raise TypeError(f"circuits[{index}]: must be an IonQ circuit dict, a Circuit or a cirq.Circuit, "
                    f"got {type(item).__name__}")
