"""NativeGateCompiler: output format, virtual Z, fusion, two-qubit lowering, templates, stats, estimates, bad input."""

import numpy as np
import pytest

from engine.circuits import Circuit, TemplateBuilder, circuit_to_json, parse_circuit
from engine.circuits.errors import CircuitError
from engine.compiler import (
    ARIA_DEFAULT, FORTE_DEFAULT, Characterization, CompilationError, NativeGateCompiler, UnsupportedGateError,
    default_characterization, estimate, verify,
)
from engine.sim import circuit_probabilities, probabilities
from engine.circuits.library import ry_rz_ladder

TARGETS = ("aria", "forte")
ENTANGLER = {"aria": "ms", "forte": "zz"}
EXACT = 1e-9


model_template = ry_rz_ladder  # the issues' benchmark workload


def names(c: Circuit) -> list[str]:
    return [g.name for g in c.gates]


def compiled(target: str, c: Circuit):
    r = NativeGateCompiler(target).compile(c)
    assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT
    return r


# -- output format ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_output_is_native_json_with_parameters_in_range(target):
    c = (Circuit(3).add("h", 0).add("cnot", 1, controls=(0,)).add("xx", 1, 2, params=(-2.6,))
         .add("zz", 0, 2, params=(5.0,)).add("yy", 0, 1, params=(0.4,)).add("ry", 2, params=(-7.0,)))
    r = compiled(target, c)
    doc = circuit_to_json(r.circuit)
    assert doc["gateset"] == "native"
    assert {g["gate"] for g in doc["circuit"]} <= {"gpi", "gpi2", ENTANGLER[target]}
    for g in doc["circuit"]:
        if g["gate"] in ("gpi", "gpi2"):
            assert 0.0 <= g["phase"] < 1.0
        elif g["gate"] == "ms":
            assert all(0.0 <= p < 1.0 for p in g["phases"])
            assert 0.0 < g["angle"] <= 0.25
        else:
            assert 0.0 < g["angle"] <= 0.25
    again = parse_circuit(doc)
    assert 1 - verify(c, again, r.permutation, r.frames) < EXACT


# -- virtual Z ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_z_rotations_are_frames_never_pulses(target):
    c = Circuit(2)
    for name in ("z", "s", "si", "t", "ti"):
        c.add(name, 0).add(name, 1)
    c.add("rz", 0, params=(0.37,)).add("rz", 1, params=(-2.0,))
    r = compiled(target, c)
    assert r.circuit.gates == []
    assert not np.allclose(r.frames, 0)  # the rotations went into the frames, which are dropped


@pytest.mark.parametrize("target", TARGETS)
def test_frames_are_dropped_before_measurement_but_shift_later_phases(target):
    c = Circuit(1).add("rz", 0, params=(0.9,)).add("h", 0)
    r = compiled(target, c)
    assert names(r.circuit) == ["gpi2"]
    assert np.allclose(circuit_probabilities(r.circuit), circuit_probabilities(c))


# -- fusion ------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_single_qubit_gates_get_their_minimal_pulses(target):
    cases = {
        ("h",): ["gpi2"], ("x",): ["gpi"], ("y",): ["gpi"], ("v",): ["gpi2"],
        ("rx:1.1",): ["gpi2", "gpi2"], ("rx:3.141592653589793",): ["gpi"], ("ry:1.5707963267948966",): ["gpi2"],
        ("h", "h"): [], ("s", "si"): [], ("h", "z", "h"): ["gpi"], ("x", "y"): [], ("h", "s", "h", "t", "h", "rx:0.3"): ["gpi2", "gpi2"],
    }
    for gates, expected in cases.items():
        c = Circuit(1)
        for g in gates:
            name, _, angle = g.partition(":")
            c.add(name, 0, params=(float(angle),) if angle else ())
        assert names(compiled(target, c).circuit) == expected, gates


@pytest.mark.parametrize("target", TARGETS)
def test_inverse_pairs_cancel(target):
    c = (Circuit(2).add("cnot", 1, controls=(0,)).add("cnot", 1, controls=(0,))
         .add("xx", 0, 1, params=(0.8,)).add("xx", 0, 1, params=(-0.8,)).add("h", 1).add("h", 1))
    assert compiled(target, c).circuit.gates == []


@pytest.mark.parametrize("target", TARGETS)
def test_consecutive_entanglers_on_one_pair_fuse(target):
    c = Circuit(2).add("zz", 0, 1, params=(0.3,)).add("rz", 0, params=(1.0,)).add("zz", 1, 0, params=(0.4,))
    assert names(compiled(target, c).circuit).count(ENTANGLER[target]) == 1
    c = (Circuit(2).add("rx", 1, controls=(0,), params=(0.5,)).add("rz", 0, params=(0.2,))
         .add("cnot", 1, controls=(0,)))
    assert names(compiled(target, c).circuit).count(ENTANGLER[target]) == 1
    # commuting gates between two CNOTs move out of the way, and the pair cancels
    c = (Circuit(2).add("cnot", 1, controls=(0,)).add("rz", 0, params=(0.2,)).add("rx", 1, params=(0.5,))
         .add("cnot", 1, controls=(0,)))
    assert names(compiled(target, c).circuit).count(ENTANGLER[target]) == 0


@pytest.mark.parametrize("target", TARGETS)
def test_parametric_inverse_pair_cancels_in_a_template(target):
    b = TemplateBuilder(1)
    th = b.trainable()
    b.gate("rx", 0, angles=(th,)).gate("rx", 0, angles=(-th,))
    ct = NativeGateCompiler(target).compile_template(b.build())
    assert ct.native_template.ops == ()


# -- two-qubit gates ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_each_two_qubit_gate_is_one_entangler(target):
    for c in (Circuit(2).add("cnot", 1, controls=(0,)), Circuit(2).add("cnot", 0, controls=(1,)),
              Circuit(2).add("xx", 0, 1, params=(0.3,)), Circuit(2).add("yy", 0, 1, params=(-2.9,)),
              Circuit(2).add("zz", 0, 1, params=(4.0,)), Circuit(2).add("z", 1, controls=(0,)),
              Circuit(2).add("rx", 1, controls=(0,), params=(0.6,)), Circuit(2).add("h", 0, controls=(1,))):
        assert names(compiled(target, c).circuit).count(ENTANGLER[target]) == 1


@pytest.mark.parametrize("target", TARGETS)
def test_cz_on_forte_is_one_zz_and_no_pulses(target):
    r = compiled(target, Circuit(2).add("z", 1, controls=(0,)))
    if target == "forte":
        assert names(r.circuit) == ["zz"]


@pytest.mark.parametrize("target", TARGETS)
def test_swap_is_compiled_away_and_undone_on_results(target):
    c = Circuit(3).add("x", 0).add("h", 1).add("swap", 0, 2).add("cnot", 1, controls=(2,))
    r = compiled(target, c)
    assert r.permutation == (2, 1, 0)
    assert names(r.circuit).count(ENTANGLER[target]) == 1
    measured = circuit_probabilities(r.circuit)
    assert np.allclose(r.undo_permutation(measured), circuit_probabilities(c))
    assert not np.allclose(measured, circuit_probabilities(c))


@pytest.mark.parametrize("target", TARGETS)
def test_toffoli_is_decomposed_into_five_entanglers(target):
    c = Circuit(3).add("h", 0).add("h", 1).add("cnot", 2, controls=(0, 1))
    assert names(compiled(target, c).circuit).count(ENTANGLER[target]) == 5


def test_optimize_false_is_the_gate_by_gate_translation():
    c = Circuit(2).add("h", 0).add("cnot", 1, controls=(0,)).add("cnot", 1, controls=(0,))
    for target, per_cnot in (("aria", 4), ("forte", 9)):
        r = NativeGateCompiler(target, optimize=False).compile(c)
        assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT
        assert r.stats.n2q_out == 2 and r.stats.n1q_out == 1 + 2 * per_cnot


# -- templates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_template_binds_a_batch_without_recompiling(target):
    t = model_template(4, 2)
    ct = NativeGateCompiler(target).compile_template(t)
    rng = np.random.default_rng(1)
    params, inputs = rng.uniform(-np.pi, np.pi, (16, t.n_trainable)), rng.uniform(-1, 1, (16, 4))
    native, angles = ct.bind(params, inputs)
    assert native is ct.native_template and native.gateset == "native"
    assert angles.shape == (16, native.n_angles)
    probs = ct.undo_permutation(probabilities(native, angles))
    expected = np.array([circuit_probabilities(c) for c in t.bind(params, inputs)])
    assert np.max(np.abs(probs - expected)) < 1e-12
    batch = ct.batch(params, inputs)
    assert batch.template is native and np.array_equal(batch.angles(), angles)


@pytest.mark.parametrize("target", TARGETS)
def test_template_with_parametric_entanglers_and_swaps(target):
    """Angles of either sign and any size: MS and ZZ stay within [0, 0.25], signs and folds become phases and pulses."""
    b = TemplateBuilder(4, n_inputs=1)
    b.gate("h", 0).gate("zz", 0, 1, angles=(b.trainable(),)).gate("xx", 1, 2, angles=(b.trainable(),))
    b.gate("yy", 2, 3, angles=(b.input(0, 3.0),)).gate("rx", 3, controls=(0,), angles=(b.trainable(),))
    b.gate("rz", 2, controls=(0, 1), angles=(b.trainable(2.0),)).gate("swap", 0, 3)
    b.gate("zz", 0, 1, angles=(b.trainable(),)).gate("zz", 1, 0, angles=(b.trainable() + 0.5,))
    t = b.build()
    ct = NativeGateCompiler(target, verify_every_compile=True).compile_template(t)
    rng = np.random.default_rng(5)
    params, inputs = rng.uniform(-13, 13, (24, t.n_trainable)), rng.uniform(-3, 3, (24, 1))
    params[1], params[2] = np.pi, -np.pi / 2  # fold boundaries
    native, angles = ct.bind(params, inputs)  # verify_every_compile checks each row
    for op, off in zip(native.ops, native.param_offsets):
        if op.name in ("ms", "zz"):
            a = angles[:, off + (2 if op.name == "ms" else 0)]
            assert np.all((a >= 0) & (a <= 0.25))
    phases = [angles[:, off + k] for op, off in zip(native.ops, native.param_offsets)
              for k in ((0, 1) if op.name == "ms" else (0,) if op.name in ("gpi", "gpi2") else ())]
    assert all(np.all((p >= 0) & (p < 1)) for p in phases)


def test_template_shape_errors_name_the_mismatch():
    ct = NativeGateCompiler("aria").compile_template(model_template(3, 1))
    with pytest.raises(ValueError, match="params has 5 columns"):
        ct.bind(np.zeros((2, 5)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="inputs has shape"):
        ct.bind(np.zeros((2, 6)), np.zeros((2, 2)))


# -- debug verification ------------------------------------------------------------------------

def test_verify_every_compile_raises_on_a_wrong_result(monkeypatch):
    """Inject a bug into the synthesis: the debug switch must catch it, the default compiler must not look."""
    from engine.compiler import onequbit, program

    real = onequbit.synthesize_parts

    def off_by_a_little(*args):
        gamma, phases = real(*args)
        return gamma, phases + 0.01

    monkeypatch.setattr(program, "synthesize_parts", off_by_a_little)
    monkeypatch.setattr(onequbit, "synthesize_parts", off_by_a_little)
    c = Circuit(2).add("h", 0).add("rx", 1, params=(0.4,)).add("cnot", 1, controls=(0,))
    NativeGateCompiler("aria").compile(c)
    with pytest.raises(CompilationError, match="fidelity"):
        NativeGateCompiler("aria", verify_every_compile=True).compile(c)
    b = TemplateBuilder(1)
    b.gate("rx", 0, angles=(b.trainable(),))
    ct = NativeGateCompiler("forte", verify_every_compile=True).compile_template(b.build())
    with pytest.raises(CompilationError, match="row 0"):
        ct.bind(np.array([[0.3]]))


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_unsupported_gates_are_refused_by_name_index_and_target(target):
    comp = NativeGateCompiler(target)
    too_many = Circuit(6).add("h", 0).add("x", 5, controls=(0, 1, 2, 3, 4))
    with pytest.raises(UnsupportedGateError) as e:
        comp.compile(too_many)
    assert (e.value.gate, e.value.index, e.value.target) == ("x", 1, target)
    assert "gate 1 'x'" in str(e.value) and target in str(e.value)
    native = Circuit(1, gateset="native").add("gpi", 0, params=(0.1,))
    with pytest.raises(UnsupportedGateError, match="'gpi'.*already a native circuit"):
        comp.compile(native)
    unknown = Circuit(1).add("h", 0).add("pauliexp", 0)
    with pytest.raises(UnsupportedGateError, match="gate 1 'pauliexp'"):
        comp.compile(unknown)


def test_malformed_circuits_and_targets_are_refused():
    with pytest.raises(CircuitError, match="gate 0"):
        NativeGateCompiler().compile(Circuit(2).add("cnot", 1))
    with pytest.raises(ValueError, match="target must be one of aria, forte"):
        NativeGateCompiler("harmony")


# -- stats and estimates -----------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_stats_are_counted_from_the_circuits(target):
    comp = NativeGateCompiler(target)
    c = Circuit(3).add("h", 0).add("cnot", 1, controls=(0,)).add("cnot", 2, controls=(1,)).add("rz", 2, params=(0.1,))
    r = comp.compile(c)
    s = r.stats
    one, two = r.circuit.counts()
    assert (s.gates_in, s.n1q_in, s.n2q_in, s.depth_in) == (4, 2, 2, c.depth())
    assert (s.gates_out, s.n1q_out, s.n2q_out, s.depth_out) == (one + two, one, two, r.circuit.depth())
    naive = NativeGateCompiler(target, optimize=False).compile(c)
    assert s.naive_gates_out == naive.stats.gates_out
    assert s.reduction_pct == pytest.approx(100 * (1 - s.gates_out / naive.stats.gates_out))
    assert s.reduction_pct > 0 and s.compile_time_ms > 0
    comp.compile_template(model_template(3, 1))
    assert comp.totals.compiles == 2 and comp.totals.gates_in == 4 + 3 + 2 * 3 + 2


def test_estimate_uses_the_characterization():
    r = NativeGateCompiler("aria").compile(Circuit(2).add("h", 0).add("cnot", 1, controls=(0,)))
    one, two = r.circuit.counts()
    e = estimate(r.circuit, ARIA_DEFAULT)
    assert e.duration_s == pytest.approx(one * 135e-6 + two * 600e-6)
    assert e.success_probability == pytest.approx(0.9995 ** one * 0.996 ** two * 0.9961 ** 2)
    unknown = estimate(r.circuit, FORTE_DEFAULT)
    assert unknown.duration_s is None and unknown.success_probability is None
    assert default_characterization("forte") is FORTE_DEFAULT


def test_characterization_from_ionq_body():
    body = {"characterizations": [
        {"id": "a", "backend": "qpu.forte-1", "date": "2026-01-01T00:00:00Z",
         "fidelity": {"spam": {"median": 0.99}, "1q": {"median": 0.9998}, "2q": {"median": 0.995}},
         "timing": {"1q": 0.0001, "2q": 0.0009, "readout": 0.0003, "reset": 0.00002, "t1": 100, "t2": 1}},
        {"id": "b", "backend": "qpu.forte-1", "date": "2025-01-01T00:00:00Z", "fidelity": {"spam": {"median": 0.9}},
         "timing": {"readout": 1, "reset": 1}},
    ], "pages": 1}
    ch = Characterization.from_ionq(body)
    assert (ch.fidelity_1q, ch.fidelity_2q, ch.fidelity_spam, ch.time_2q_s) == (0.9998, 0.995, 0.99, 0.0009)
    assert "a" in ch.source
    c = Circuit(1, gateset="native").add("gpi", 0, params=(0.0,))
    assert estimate(c, ch).duration_s == pytest.approx(0.0001 + 0.0003 + 0.00002)
    only_spam = Characterization.from_ionq(body["characterizations"][1])
    assert estimate(c, only_spam).success_probability is None
    with pytest.raises(ValueError, match="fidelity.2q.median"):
        Characterization.from_ionq({"backend": "qpu.forte-1", "fidelity": {"spam": {"median": 1}, "2q": {"median": 1.5}}})
    with pytest.raises(ValueError, match="timing.1q"):
        Characterization.from_ionq({"backend": "qpu.forte-1", "timing": {"1q": "fast"}})
    with pytest.raises(ValueError, match="backend"):
        Characterization.from_ionq({"fidelity": {}})


# -- connectivity (issue 15) --------------------------------------------------------------------

LINE = [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("target", TARGETS)
def test_a_gate_on_an_uncoupled_pair_is_refused_naming_the_pair(target):
    from engine.compiler import ConnectivityError

    c = Circuit(4).add("h", 0).add("cnot", 1, controls=(0,)).add("rx", 3, controls=(0,), params=(0.4,))
    with pytest.raises(ConnectivityError) as err:
        NativeGateCompiler(target, coupling=LINE).compile(c)
    assert err.value.pair == (0, 3) and err.value.index == 2
    assert "needs qubits 0 and 3 coupled" in str(err.value) and str(err.value).startswith("gate 2 'rx'")
    b = TemplateBuilder(4)
    b.gate("zz", 3, 1, angles=(b.trainable(),))
    with pytest.raises(ConnectivityError, match=r"no pair \(1, 3\)"):
        NativeGateCompiler(target, coupling=LINE).compile_template(b.build())


@pytest.mark.parametrize("target", TARGETS)
def test_coupled_circuits_compile_and_a_swap_becomes_gates_when_relabelling_would_leave_the_map(target):
    c = Circuit(4).add("h", 0).add("cnot", 1, controls=(0,)).add("swap", 1, 2).add("cnot", 3, controls=(2,))
    free = compiled(target, c)
    assert free.stats.n2q_out == 2  # the SWAP is a relabelling when every pair is coupled ...
    r = NativeGateCompiler(target, coupling=LINE).compile(c)
    assert r.stats.n2q_out == 5 and r.permutation == (0, 1, 2, 3)  # ... and three CNOTs on a line
    assert 1 - verify(c, r.circuit, r.permutation, r.frames) < EXACT
    assert all({g.targets[0], g.targets[1]} in [set(p) for p in LINE] for g in r.circuit.gates if len(g.targets) == 2)
    every = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    assert NativeGateCompiler(target, coupling=every).compile(c).stats.n2q_out == 2


def test_a_malformed_coupling_map_is_refused():
    for bad in ([(0, 0)], [(0, 1, 2)], [(-1, 2)], [(0, True)]):
        with pytest.raises(ValueError, match="coupling: .* is not a pair of two different qubit indices"):
            NativeGateCompiler("aria", coupling=bad)
