"""Our native gate matrices (engine/circuits/gates.py) against cirq_ionq's GPIGate, GPI2Gate, MSGate, ZZGate,
and the identities of API_NOTES section 2 that the compiler relies on."""

import numpy as np
import pytest

from engine.circuits.gates import gpi, gpi2, ms, rx, ry, rz, two_qubit_rotation, zz_diag_turns
from engine.compiler.twoqubit import _ARIA_CNOT, _FORTE_CNOT

PHASES = [0.0, 0.125, 0.25, 0.5, 0.75, -0.3, 0.9137, 1.0, -1.0, 0.3333]
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)  # big-endian, control first


def up_to_phase(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - e^{i p} b| with the best global phase p."""
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    p = a[k] / b[k]
    return float(np.max(np.abs(a - p / abs(p) * b)))


@pytest.mark.parametrize("phi", PHASES)
def test_gpi_matches_cirq_ionq(phi):
    import cirq
    import cirq_ionq

    assert np.max(np.abs(gpi(phi) - cirq.unitary(cirq_ionq.GPIGate(phi=phi)))) < 1e-12


@pytest.mark.parametrize("phi", PHASES)
def test_gpi2_matches_cirq_ionq(phi):
    import cirq
    import cirq_ionq

    assert np.max(np.abs(gpi2(phi) - cirq.unitary(cirq_ionq.GPI2Gate(phi=phi)))) < 1e-12


@pytest.mark.parametrize("phi0,phi1,theta", [(0, 0, 0.25), (0.25, 0.25, 0.25), (0.1, -0.4, 0.13), (0.7, 0.2, 0.0),
                                             (-0.9, 0.55, 0.25), (0.3, 0.3, 0.01)])
def test_ms_matches_cirq_ionq(phi0, phi1, theta):
    import cirq
    import cirq_ionq

    ours = ms(phi0, phi1, theta)  # targets[0] is the most significant factor, as in cirq
    assert np.max(np.abs(ours - cirq.unitary(cirq_ionq.MSGate(phi0=phi0, phi1=phi1, theta=theta)))) < 1e-12


@pytest.mark.parametrize("theta", [0.0, 0.25, -0.25, 0.1, 0.5, -0.37])
def test_zz_matches_cirq_ionq_in_turns(theta):
    import cirq
    import cirq_ionq

    ours = np.diag(zz_diag_turns(theta))
    assert np.max(np.abs(ours - cirq.unitary(cirq_ionq.ZZGate(theta=theta)))) < 1e-12


def test_gpi2_special_values_and_identities():
    assert up_to_phase(gpi2(0.0), rx(np.pi / 2)) < 1e-12
    assert up_to_phase(gpi2(0.25), ry(np.pi / 2)) < 1e-12
    assert up_to_phase(gpi2(0.5), rx(-np.pi / 2)) < 1e-12
    assert up_to_phase(gpi2(0.75), ry(-np.pi / 2)) < 1e-12
    for phi in PHASES:
        assert np.max(np.abs(gpi2(phi + 0.5) @ gpi2(phi) - np.eye(2))) < 1e-12  # GPI2(phi)^-1 = GPI2(phi + 0.5)
        assert np.max(np.abs(gpi2(phi) @ gpi2(phi) - (-1j) * gpi(phi))) < 1e-12  # GPI2^2 = -i GPI


def test_ms_and_zz_identities():
    assert up_to_phase(ms(0, 0, 0.25), two_qubit_rotation("xx", np.pi / 2)) < 1e-12
    assert up_to_phase(ms(0.25, 0.25, 0.25), two_qubit_rotation("yy", np.pi / 2)) < 1e-12
    assert np.max(np.abs(ms(0.5, 0.2, 0.2) - ms(0, 0.2, -0.2))) < 1e-12  # sign of theta <-> phi0 + 0.5
    assert np.max(np.abs(ms(0.5, 0.2, 0.2) @ ms(0, 0.2, 0.2) - np.eye(4))) < 1e-12
    for a in (0.3, -1.2, 2.0):
        assert np.max(np.abs(np.diag(zz_diag_turns(a / (2 * np.pi))) - two_qubit_rotation("zz", a))) < 1e-12


@pytest.mark.parametrize("t", [0.3, -1.1])
def test_virtual_z_identities(t):
    """G(phi) RZ(t) = RZ(t) G(phi - t/2pi), and MS phases absorb frames the same way."""
    for g in (gpi, gpi2):
        assert np.max(np.abs(g(0.2) @ rz(t) - rz(t) @ g(0.2 - t / (2 * np.pi)))) < 1e-12
    frame = np.kron(rz(t), rz(0.7))
    assert np.max(np.abs(ms(0.1, 0.4, 0.2) @ frame - frame @ ms(0.1 - t / (2 * np.pi), 0.4 - 0.7 / (2 * np.pi), 0.2))) < 1e-12


def _sequence(ops, n=2):
    """Big-endian unitary of [(matrix, qubits)] applied in order."""
    u = np.eye(2 ** n, dtype=complex)
    for m, qs in ops:
        full = np.kron(m, np.eye(2)) if qs == (0,) else np.kron(np.eye(2), m) if qs == (1,) else m
        u = full @ u
    return u


def test_textbook_cnot_tables_equal_cnot_and_cirq_ionq():
    """The naive translation's CNOTs (API_NOTES 2.1) are CNOT, and are cirq_ionq's own sequences."""
    import cirq
    import cirq_ionq

    a = _ARIA_CNOT
    aria = _sequence([(a[0], (0,)), (ms(0, 0, 0.25), (0, 1)), (a[1], (1,)), (a[2], (0,)), (a[3], (0,))])
    assert up_to_phase(aria, CNOT) < 1e-12
    f = _FORTE_CNOT
    forte = _sequence([(f[0], (1,)), (f[1], (1,)), (f[2], (1,)), (np.diag(zz_diag_turns(0.25)), (0, 1)),
                       (f[3], (0,)), (f[4], (0,)), (f[5], (0,)), (f[6], (1,)), (f[7], (1,)), (f[8], (1,))])
    assert up_to_phase(forte, CNOT) < 1e-12
    q = cirq.LineQubit.range(2)
    for gs, ours in ((cirq_ionq.AriaNativeGateset(), aria), (cirq_ionq.ForteNativeGateset(), forte)):
        theirs = cirq.unitary(cirq.Circuit(gs._cnot(*q)))
        assert up_to_phase(theirs, ours) < 1e-12


def test_native_gates_are_defined_once_with_their_matrices():
    """The spec table carries each native gate's matrix; the simulator's and the compiler's GPI2 are that one."""
    import ast
    from pathlib import Path

    import cirq
    import cirq_ionq

    from engine.circuits.gates import NATIVE_GATES, one_qubit_matrix, two_qubit_matrix

    classes = {"gpi": cirq_ionq.GPIGate(phi=0.3), "gpi2": cirq_ionq.GPI2Gate(phi=0.3),
               "ms": cirq_ionq.MSGate(phi0=0.3, phi1=0.3, theta=0.3), "zz": cirq_ionq.ZZGate(theta=0.3)}
    for name, s in NATIVE_GATES.items():
        assert s.matrix is not None, name
        m = s.matrix(np.full(s.n_params, 0.3))
        assert np.max(np.abs(m - cirq.unitary(classes[name]))) < 1e-12, name
        lookup = one_qubit_matrix if s.n_targets == 1 else two_qubit_matrix
        assert np.array_equal(lookup("native", name, np.full(s.n_params, 0.3)), m)
    # No second definition of a native gate's matrix in the compiler.
    for path in (Path(__file__).resolve().parents[1] / "engine" / "compiler").glob("*.py"):
        defined = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
        assert not defined & {"gpi", "gpi2", "ms", "zz", "gpi_matrix", "gpi2_matrix", "ms_matrix"}, path
