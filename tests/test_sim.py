"""The batched simulator against cirq: every gate, random circuits, bit order, sampling."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.circuits import Circuit, CircuitBatch
from engine.circuits.gates import NATIVE_GATES, QIS_GATES
from engine.sim import circuit_probabilities, circuit_state, expectations_z, probabilities, sample_counts, states, unitary
from engine.sim.measure import counts_to_histogram, probabilities_to_json
from helpers import cirq_state, equal_up_to_phase, model_template

ONE_Q = ["x", "y", "z", "h", "s", "si", "v", "vi", "t", "ti"]
ROT_1Q = ["rx", "ry", "rz"]
TWO_Q = ["swap", "xx", "yy", "zz"]


def _cirq_unitary_le(c: Circuit) -> np.ndarray:
    """cirq's unitary in our little-endian basis."""
    import cirq

    from engine.circuits.cirq_interop import to_cirq

    qs = cirq.LineQubit.range(c.n_qubits)
    return to_cirq(c).unitary(qubit_order=qs[::-1], dtype=np.complex128)


@pytest.mark.parametrize("name", ONE_Q + ROT_1Q)
def test_one_qubit_gate_matrices_equal_cirq(name):
    c = Circuit(1).add(name, 0, params=(0.737,) if name in ROT_1Q else ())
    assert np.max(np.abs(unitary(c) - _cirq_unitary_le(c))) < 1e-12


@pytest.mark.parametrize("name", TWO_Q + ["cnot"])
@pytest.mark.parametrize("targets", [(0, 1), (1, 0)])
def test_two_qubit_gate_matrices_equal_cirq(name, targets):
    c = Circuit(2)
    if name == "cnot":
        c.add("cnot", targets[1], controls=(targets[0],))
    else:
        c.add(name, *targets, params=(1.234,) if QIS_GATES[name].n_params else ())
    assert np.max(np.abs(unitary(c) - _cirq_unitary_le(c))) < 1e-12


@pytest.mark.parametrize("name,params,targets", [
    ("gpi", (0.123,), (0,)), ("gpi2", (0.877,), (1,)), ("ms", (0.1, 0.35, 0.2), (0, 1)), ("ms", (0.6, 0.2, 0.25), (1, 0)),
    ("zz", (0.15,), (0, 1)), ("zz", (-0.3,), (1, 0)),
])
def test_native_gate_matrices_equal_cirq_ionq(name, params, targets):
    c = Circuit(2, gateset="native").add(name, *targets, params=params)
    assert np.max(np.abs(unitary(c) - _cirq_unitary_le(c))) < 1e-12


def test_controlled_gates_with_one_and_two_controls_equal_cirq():
    c = Circuit(3).add("h", 0).add("h", 1).add("rx", 2, controls=(0,), params=(0.4,)).add("x", 2, controls=(0, 1))
    c.add("z", 0, controls=(2,)).add("h", 1, controls=(2,))
    assert np.max(np.abs(unitary(c) - _cirq_unitary_le(c))) < 1e-12


def test_bit_order_is_little_endian_with_an_asymmetric_state():
    # X on qubit 0 only: IonQ key "1" (qubit 0 is bit 2**0)
    p = circuit_probabilities(Circuit(3).add("x", 0))
    assert p[1] == pytest.approx(1.0) and probabilities_to_json(p) == {"1": 1.0}
    # X on qubit 2 and RY on qubit 1: keys 4 (q2) and 6 (q1+q2)
    p = circuit_probabilities(Circuit(3).add("x", 2).add("ry", 1, params=(np.pi / 3,)))
    assert p[4] == pytest.approx(np.cos(np.pi / 6) ** 2) and p[6] == pytest.approx(np.sin(np.pi / 6) ** 2)
    z = expectations_z(p[None, :])[0]
    assert z == pytest.approx([1.0, np.cos(np.pi / 3), -1.0])


def _gate_strategy(n: int):
    names = ONE_Q + ROT_1Q + (TWO_Q + ["cnot", "cx2"] if n >= 2 else [])

    @st.composite
    def gate(draw):
        name = draw(st.sampled_from(names))
        angle = draw(st.floats(-7, 7, allow_nan=False))
        qs = draw(st.permutations(range(n)))
        if name in ONE_Q:
            controls = (qs[1],) if n >= 2 and draw(st.booleans()) and draw(st.booleans()) else ()
            return (name, (qs[0],), controls, ())
        if name in ROT_1Q:
            return (name, (qs[0],), (), (angle,))
        if name == "cnot":
            return ("cnot", (qs[0],), (qs[1],), ())
        if name == "cx2":
            return ("x", (qs[0],), tuple(qs[1:3]), ()) if n >= 3 else ("cnot", (qs[0],), (qs[1],), ())
        return (name, (qs[0], qs[1]), (), (angle,) if QIS_GATES[name].n_params else ())

    return gate()


@st.composite
def random_circuit(draw):
    n = draw(st.integers(1, 6))
    gates = draw(st.lists(_gate_strategy(n), min_size=0, max_size=25))
    c = Circuit(n)
    for name, targets, controls, params in gates:
        c.add(name, *targets, controls=controls, params=params)
    return c.validate()


@settings(max_examples=200, deadline=None)
@given(random_circuit())
def test_random_circuits_match_cirq_to_1e9(c):
    ours = circuit_state(c)
    ref = cirq_state(c)
    assert np.max(np.abs(ours - ref)) < 1e-9


@st.composite
def random_native_circuit(draw):
    n = draw(st.integers(1, 5))
    c = Circuit(n, gateset="native")
    for _ in range(draw(st.integers(0, 15))):
        qs = draw(st.permutations(range(n)))
        phase = draw(st.floats(-1, 1))
        kind = draw(st.sampled_from(["gpi", "gpi2"] + (["ms", "zz"] if n >= 2 else [])))
        if kind in ("gpi", "gpi2"):
            c.add(kind, qs[0], params=(phase,))
        elif kind == "ms":
            c.add("ms", qs[0], qs[1], params=(phase, draw(st.floats(-1, 1)), draw(st.floats(0.01, 0.25))))
        else:
            c.add("zz", qs[0], qs[1], params=(phase / 2,))
    return c.validate()


@settings(max_examples=60, deadline=None)
@given(random_native_circuit())
def test_random_native_circuits_match_cirq_ionq(c):
    assert np.max(np.abs(circuit_state(c) - cirq_state(c))) < 1e-9


def test_model_template_batch_matches_cirq_row_by_row():
    t = model_template(5, 3)
    rng = np.random.default_rng(3)
    batch = CircuitBatch(t, rng.normal(size=(7, t.n_trainable)), rng.random((7, 5)))
    got = states(t, batch.angles())
    probs = probabilities(t, batch.angles())
    for i, c in enumerate(t.bind(batch.params, batch.inputs)):
        ref = cirq_state(c)
        assert np.max(np.abs(got[i] - ref)) < 1e-9
        assert np.max(np.abs(probs[i] - np.abs(ref) ** 2)) < 1e-12


def test_chunked_and_parallel_runs_equal_a_single_chunk():
    t = model_template(6, 2)
    rng = np.random.default_rng(4)
    a = t.bind_angles(rng.normal(size=(300, t.n_trainable)), rng.random((300, 6)))
    whole = probabilities(t, a, chunk_bytes=2**40)
    chunked = probabilities(t, a, chunk_bytes=16 * 64 * 7)  # 7 rows per chunk
    assert np.array_equal(whole, chunked) or np.max(np.abs(whole - chunked)) < 1e-15


def test_the_thread_count_comes_from_qstore_sim_threads_and_a_bad_one_is_named(monkeypatch):
    from engine.sim import statevector

    for value, expected in (("1", 1), ("3", 3), ("", max(1, min(4, __import__("os").cpu_count() or 1)))):
        monkeypatch.setenv(statevector.THREADS_ENV, value)
        statevector._workers.cache_clear()
        assert statevector._workers() == expected
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(statevector.THREADS_ENV, bad)
        statevector._workers.cache_clear()
        with pytest.raises(ValueError, match=f"QSTORE_SIM_THREADS={bad!r}"):
            statevector._workers()
    monkeypatch.delenv(statevector.THREADS_ENV)
    statevector._workers.cache_clear()
    t = model_template(6, 2)  # one thread or several: the same probabilities
    a = t.bind_angles(np.random.default_rng(5).normal(size=(600, t.n_trainable)), np.full((600, 6), 0.3))
    many = probabilities(t, a)
    monkeypatch.setenv(statevector.THREADS_ENV, "1")
    statevector._workers.cache_clear()
    assert np.array_equal(probabilities(t, a), many)
    statevector._workers.cache_clear()


def test_probabilities_drop_only_gates_that_cannot_change_them():
    # trailing rz is dead; an rz followed by h is not
    c = Circuit(2).add("h", 0).add("rz", 0, params=(0.7,)).add("h", 0).add("rz", 1, params=(1.1,)).add("cnot", 1, controls=(0,))
    assert np.max(np.abs(circuit_probabilities(c) - np.abs(circuit_state(c)) ** 2)) < 1e-15
    assert circuit_probabilities(c)[0] == pytest.approx(np.cos(0.35) ** 2)


def test_unitary_is_unitary_and_matches_cirq():
    c = Circuit(3).add("h", 0).add("cnot", 2, controls=(0,)).add("ry", 1, params=(0.3,)).add("yy", 1, 2, params=(0.9,))
    u = unitary(c)
    assert np.allclose(u.conj().T @ u, np.eye(8), atol=1e-12)
    assert equal_up_to_phase(u[:, 0], cirq_state(c)) < 1e-12


def test_sampling_is_seeded_sums_to_shots_and_matches_probabilities():
    t = model_template(4, 1)
    rng = np.random.default_rng(5)
    p = probabilities(t, t.bind_angles(rng.normal(size=(3, t.n_trainable)), rng.random((3, 4))))
    a = sample_counts(p, 20000, np.random.default_rng(42))
    b = sample_counts(p, 20000, np.random.default_rng(42))
    c = sample_counts(p, 20000, np.random.default_rng(43))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.sum(axis=1).tolist() == [20000] * 3
    # each frequency within 5 standard deviations of its probability
    sd = np.sqrt(p * (1 - p) / 20000)
    assert np.all(np.abs(a / 20000 - p) <= 5 * sd + 1e-12)
    hist = counts_to_histogram(a[0])
    assert sum(hist.values()) == 20000 and all(int(k) < 16 for k in hist)


def test_refuses_more_than_16_qubits_and_bad_angle_shapes():
    t = model_template(2, 1)
    with pytest.raises(ValueError, match="angles has 3 columns; the template has 6 angles"):
        probabilities(t, np.zeros((1, 3)))
    big = Circuit(17).add("h", 0)
    with pytest.raises(ValueError, match="up to 16 qubits"):
        circuit_probabilities(big)


def test_native_gate_set_names_match_ionq():
    assert set(NATIVE_GATES) == {"gpi", "gpi2", "ms", "zz"}
    assert set(QIS_GATES) == {"x", "y", "z", "rx", "ry", "rz", "h", "s", "si", "v", "vi", "t", "ti", "not", "cnot",
                              "swap", "xx", "yy", "zz"}


async def test_async_probabilities_equal_the_sync_ones_and_propagate_errors(monkeypatch):
    from engine.sim import probabilities_async
    import engine.sim.statevector as sv

    t = model_template(8, 2)
    rng = np.random.default_rng(6)
    a = t.bind_angles(rng.normal(size=(300, t.n_trainable)), rng.random((300, 8)))
    assert np.array_equal(await probabilities_async(t, a), probabilities(t, a))

    def broken(*args, **kw):
        raise FloatingPointError("chunk failed")

    monkeypatch.setattr(sv, "_simulate_chunk", broken)
    with pytest.raises(FloatingPointError, match="chunk failed"):
        await probabilities_async(t, a)


@pytest.mark.parametrize("n_amps,rows", [(2, 1), (4, 3), (8, 1), (12, 5), (16, 7), (256, 50), (4096, 9)])
def test_abs2_transposed_is_every_amplitudes_square_modulus_in_row_order(n_amps, rows):
    """The blocked transpose (eight amplitudes at a time, a remainder below eight) against numpy, bit for bit."""
    from engine.sim.kernels import abs2_transposed

    rng = np.random.default_rng(n_amps + rows)
    psi = rng.normal(size=(n_amps, rows)) + 1j * rng.normal(size=(n_amps, rows))
    out = np.full((rows, n_amps), np.nan)
    abs2_transposed(psi, out)
    assert np.array_equal(out, (psi.real * psi.real + psi.imag * psi.imag).T)


def test_sync_chunks_run_once_each_on_the_caller_and_the_pool_and_errors_wait_for_every_chunk(monkeypatch):
    import threading
    import time

    import engine.sim.statevector as sv

    monkeypatch.setenv(sv.THREADS_ENV, "2")
    sv._workers.cache_clear()
    try:
        ran: list[tuple[int, int]] = []

        def run(s: int) -> None:
            time.sleep(0.01)
            ran.append((s, threading.get_ident()))

        sv._run_jobs(run, range(0, 80, 10))
        assert sorted(s for s, _ in ran) == list(range(0, 80, 10))
        assert threading.get_ident() in {t for _, t in ran} and len({t for _, t in ran}) == 2

        done: list[int] = []

        def failing(s: int) -> None:
            time.sleep(0.01)
            if s in (30, 50):
                raise FloatingPointError(f"chunk {s} failed")
            done.append(s)

        with pytest.raises(FloatingPointError, match="chunk 30 failed"):
            sv._run_jobs(failing, range(0, 80, 10))
        assert sorted(done) == [0, 10, 20, 40, 60, 70]
    finally:
        sv._workers.cache_clear()


def test_sync_chunks_called_from_a_pool_thread_run_there_instead_of_waiting_on_the_pool(monkeypatch):
    """A fork-join nested in a pool job must not wait for pool threads that may all be busy waiting likewise."""
    import threading

    import engine.sim.statevector as sv

    monkeypatch.setenv(sv.THREADS_ENV, "2")
    sv._workers.cache_clear()
    try:
        pool = sv._pool_for(2)
        names: list[str] = []

        def outer() -> None:
            sv._run_jobs(lambda s: names.append(threading.current_thread().name), range(4))

        for f in [pool.submit(outer) for _ in range(4)]:  # more nested callers than pool threads
            f.result(timeout=10)
        assert len(names) == 16 and all(n.startswith(sv.POOL_PREFIX + "_") for n in names)
    finally:
        sv._workers.cache_clear()


# ----- monomial gather tables: bounded memory

def _cnot_ladder_between_rotations(n: int, layers: int, seed: int = 0) -> Circuit:
    """Parameter-free two-qubit gates (CNOT, SWAP, CZ) between rotations: each one a new monomial block."""
    rng = np.random.default_rng(seed)
    c = Circuit(n)
    for _ in range(layers):
        a, b = (int(q) for q in rng.choice(n, 2, replace=False))
        kind = int(rng.integers(3))
        if kind == 0:
            c.add("cnot", b, controls=(a,))
        elif kind == 1:
            c.add("swap", a, b)
        else:
            c.add("z", b, controls=(a,))
        c.add("rx", int(rng.integers(n)), params=(float(rng.uniform(-3, 3)),))
    return c.validate()


def _fresh_plans(monkeypatch, table_bytes: int | None = None) -> None:
    from collections import OrderedDict

    from engine.sim import plan, statevector

    monkeypatch.setattr(statevector, "_plans", OrderedDict())
    if table_bytes is not None:
        monkeypatch.setattr(plan, "PERM_TABLE_BYTES", table_bytes)


def test_gates_past_the_gather_table_budget_run_in_place_with_the_same_states(monkeypatch):
    from engine.circuits.template import Template
    from engine.sim.plan import Monomial, build_plan

    c = _cnot_ladder_between_rotations(5, 40)
    t, _ = Template.from_circuit(c)
    assert sum(isinstance(s, Monomial) for s in build_plan(t).steps) > 10
    _fresh_plans(monkeypatch, table_bytes=2 * 24 * 2**5)  # two blocks, then generic steps
    assert sum(isinstance(s, Monomial) for s in build_plan(t).steps) == 2
    assert np.max(np.abs(circuit_state(c) - cirq_state(c))) < 1e-9
    assert np.max(np.abs(circuit_probabilities(c) - np.abs(cirq_state(c)) ** 2)) < 1e-9


def test_a_16_qubit_circuit_of_thousands_of_cnots_plans_within_its_table_budget():
    # unbounded, each CNOT between two rotations was a 1.5 MB table: 150,000 gates asked for ~35 GB
    from engine.circuits.template import Template
    from engine.sim.plan import PERM_TABLE_BYTES, build_plan

    t, _ = Template.from_circuit(_cnot_ladder_between_rotations(16, 3000))
    assert build_plan(t).table_bytes <= 2 * PERM_TABLE_BYTES


def test_the_plan_cache_drops_old_plans_past_its_table_bytes(monkeypatch):
    from engine.circuits.template import Template
    from engine.sim import statevector

    _fresh_plans(monkeypatch)
    monkeypatch.setattr(statevector, "PLAN_CACHE_TABLE_BYTES", 3 * 2 * 24 * 2**10)
    for seed in range(6):
        t, _ = Template.from_circuit(_cnot_ladder_between_rotations(10, 1, seed))  # one block: 48 KB each
        statevector.plan_for(t)
    assert len(statevector._plans) == 3
