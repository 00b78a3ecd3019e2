"""Fuzzing IonQ JSON circuits (issue 13): through `parse_circuit` and through `CircuitBatchManager` on the local
simulator, every case ends in success or in the documented error with a message naming the gate and the field:
`CircuitError` (malformed input), `UnsupportedGateError` (a gate the native compiler cannot lower; the manager
compiles by default), and from the manager a `TypeError` naming the list position of an item that is no circuit. Never another exception, never past its time bound (hypothesis `deadline`; derandomized,
so CI sees the same cases every run).

The cases are mostly well-shaped circuits with one thing wrong: fields IonQ's schema does not have, fields this
gate does not read, wrong types, huge and negative qubit counts and indices, NaN and infinite angles, native
gates in qis circuits, unknown gates, plus plain JSON garbage.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.backends import LocalSimulatorBackend
from engine.batch import CircuitBatchManager
from engine.circuits import Circuit, CircuitError, parse_circuit
from engine.circuits.gates import NATIVE_GATES, QIS_GATES
from engine.compiler import UnsupportedGateError
from engine.config import TrainingConfig

HUGE = (10 ** 30, -(10 ** 30), 2 ** 63, 10 ** 4000, 1000, 17, 16)  # 10**4000: repr-able (< 4,300 digits)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 20), st.sampled_from(HUGE),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
garbage = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids,
                                                                                           max_size=3), max_leaves=6)
qubit = st.one_of(st.integers(-2, 5), st.sampled_from(HUGE), st.sampled_from([1.0, 1.5, "1", None, True, [0], {}]))
qubits = st.one_of(st.lists(qubit, max_size=3), qubit)
angle = st.one_of(st.floats(-10, 10), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, "0.5", "pi", None, [0.1]]))
FIELD_VALUES = {
    "target": qubit, "control": qubit, "targets": qubits, "controls": qubits, "rotation": angle, "phase": angle,
    "angle": angle, "phases": st.one_of(st.lists(angle, max_size=3), angle), "foo": garbage, "time": angle,
    "terms": garbage,
}
NAMES = sorted(QIS_GATES) + sorted(NATIVE_GATES) + ["pauliexp", "nop", "foo", "CNOT", "RX", ""]


@st.composite
def gates(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(garbage)
    gate: dict[str, Any] = {"gate": draw(st.one_of(st.sampled_from(NAMES), scalars))}
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=4, unique=True)):
        gate[name] = draw(FIELD_VALUES[name])
    return gate


@st.composite
def circuits(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(garbage)
    body: dict[str, Any] = {"circuit": draw(st.lists(gates(), max_size=5))}
    if draw(st.booleans()):
        body["qubits"] = draw(st.one_of(st.integers(1, 6), qubit))
    if draw(st.integers(0, 3)) == 0:
        body["gateset"] = draw(st.sampled_from(["qis", "native", "clifford", None, 3]))
    if draw(st.integers(0, 5)) == 0:
        body["name"] = draw(scalars)
    if kind == 1:
        return {"type": "ionq.circuit.v1", "input": body}
    return body


def check_error(obj: Any, exc: Exception) -> None:
    """The documented errors say where: the gate index and the field (for a JSON object)."""
    text = str(exc)
    assert len(text) < 400, text
    if isinstance(exc, UnsupportedGateError):
        assert text.startswith(f"gate {exc.index} "), text
        return
    assert isinstance(exc, CircuitError), (type(exc), text)
    if isinstance(obj, dict):
        assert exc.index is not None or exc.field is not None, text
    if exc.field is not None:
        assert f"field '{exc.field}'" in text, text
    if exc.index is not None:
        assert f"gate {exc.index}" in text, text


@settings(max_examples=400, deadline=500, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(circuits())
def test_parse_circuit_succeeds_or_names_gate_and_field(obj):
    try:
        c = parse_circuit(obj)
    except CircuitError as exc:
        check_error(obj, exc)
    else:
        assert isinstance(c, Circuit) and 1 <= c.n_qubits <= 16
        c.validate()


_CONFIG = TrainingConfig(shots_per_circuit=0, seed=1)


async def _execute(items: Any) -> None:
    async with CircuitBatchManager(_CONFIG, LocalSimulatorBackend(seed=1)) as manager:
        result = await asyncio.wait_for(manager.execute_batch(items), timeout=60)  # a hang guard; the deadline is the bound
    assert result.failures == [], result.failures  # whatever got past the door must run
    assert result.n_circuits == len(items)


@pytest.fixture(scope="module")
def warm_simulator() -> None:
    """Compile the simulator's kernels once, outside the deadline of the first case."""
    asyncio.run(_execute([{"qubits": 3, "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0,
                                                                                  "target": 2}]}]))


@settings(max_examples=100, deadline=3000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(circuits(), min_size=1, max_size=3))
def test_batch_manager_runs_or_refuses_at_the_door(warm_simulator, items):
    try:
        asyncio.run(_execute(items))
    except UnsupportedGateError as exc:
        check_error(None, exc)
    except TypeError as exc:  # a list item that is no circuit at all (not a dict, Circuit or cirq.Circuit)
        bad = next(i for i, item in enumerate(items) if not isinstance(item, dict))
        assert str(exc).startswith(f"circuits[{bad}]: must be an IonQ circuit dict"), str(exc)
    except CircuitError as exc:
        # The manager names the list position first: "circuits[i]: gate j, field 'f': ..."
        bad = next(i for i, item in enumerate(items) if _refused(item))
        assert str(exc).startswith(f"circuits[{bad}]: "), str(exc)
        assert isinstance(exc.__cause__, CircuitError)
        check_error(items[bad], exc.__cause__)


def _refused(item: Any) -> bool:
    try:
        parse_circuit(item)
    except CircuitError:
        return True
    return False


def test_qubit_counts_are_refused_at_the_managers_door_with_the_limit():
    """Every input kind (JSON, Circuit, cirq.Circuit, CircuitBatch): refused at once, the limit in the message."""
    import time

    import cirq
    import numpy as np

    from engine.circuits import CircuitBatch, TemplateBuilder

    b = TemplateBuilder(17)
    b.gate("h", 16)
    cases = [[{"qubits": 10 ** 30, "circuit": []}], [{"qubits": 1000, "circuit": [{"gate": "h", "target": 0}]}],
             [{"qubits": 2, "circuit": []}, {"qubits": 17, "circuit": []}], [Circuit(17).add("h", 16)],
             [cirq.Circuit(cirq.H.on_each(*cirq.LineQubit.range(17)))],
             CircuitBatch(b.build(), np.zeros((2, 0)), np.zeros((2, 0)))]
    for items in cases:
        t0 = time.perf_counter()
        try:
            asyncio.run(_execute(items))
        except CircuitError as exc:
            assert "is more than 16, the limit of the local backend" in str(exc), str(exc)
        else:
            raise AssertionError(f"accepted {items!r:.80}")
        assert time.perf_counter() - t0 < 5
