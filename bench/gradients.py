"""Exact gradients: our adjoint pass vs our parameter shift, JAX, PennyLane lightning and qulacs, in one run.

Workload: the model's circuit, 8 qubits, 3 layers, linear CNOT chain (RY(pi x) encoding, then RZ(theta)
RY(theta) on every qubit and the chain, per layer); 20 rows with different inputs. Every method computes,
for every row, the full gradient over the 48 circuit parameters of h . <Z> (h: a fixed readout vector,
standing for the loss's dL/dz, which is how the trainer uses it). Peers at their best settings:

- JAX: `jit(vmap(grad(f)))` over a hand-written statevector in complex128 (`jax_enable_x64`): our
  precision, which the 1e-9 agreement needs (complex64 would be faster and agree to ~1e-6 only);
  gates written elementwise (bench/_peers.py), faster than `tensordot` gates or gather CNOTs; compile
  time (the first call) reported apart.
- lightning.qubit, diff_method="adjoint": all rows as one batch of tapes through the device's
  `compute_derivatives` (the least overhead PennyLane offers: a QNode per row, or
  `execute_and_compute_derivatives`, was slower here).
- qulacs: `ParametricQuantumCircuit.backprop(observable)` per row (its reverse-mode API), parameters
  set in place with `set_parameter`; `GradCalculator` is timed too and the faster one reported.

Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.gradients import PARAMETER_SHIFT, shift_jacobian, shift_rows  # noqa: E402
from engine.model import QuantumModel  # noqa: E402
from engine.sim import adjoint, expectations_z, probabilities  # noqa: E402
from _timing import best_rate  # noqa: E402
import _peers  # noqa: E402

N_QUBITS, LAYERS, ROWS = 8, 3, 20


def workload(seed: int = 0):
    model = QuantumModel(N_QUBITS, N_QUBITS, 2, circuit_depth=LAYERS, entanglement="linear", seed=seed)
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-np.pi, np.pi, model.n_circuit_params)
    x = rng.random((ROWS, N_QUBITS))
    h = rng.normal(size=N_QUBITS)
    return model, theta, x, h


def ours_adjoint(model, theta, x, h):
    t = model.template
    params = np.tile(theta, (ROWS, 1))
    cot = np.tile(h, (ROWS, 1))
    return lambda: adjoint.value_and_grad(t, params, x, lambda z: cot).grad


def ours_parameter_shift(model, theta, x, h):
    """The trainer's parameter-shift path: 2P + 1 blocks in one batch, then the chain rule, per row."""
    t = model.template
    cot = np.tile(h, (ROWS, 1))

    def run():
        rows, row_inputs = shift_rows(theta, x, PARAMETER_SHIFT)
        blocks = expectations_z(probabilities(t, t.bind_angles(rows, row_inputs))).reshape(-1, ROWS, N_QUBITS)
        return np.einsum("pmn,mn->mp", shift_jacobian(blocks, PARAMETER_SHIFT, True), cot)

    return run


def jax_peer(model, theta, x, h):
    """jit(vmap(grad)) of h . <Z> over theta, the circuit from bench/_peers.py (elementwise gates)."""
    import jax
    import jax.numpy as jnp

    t = model.template
    z_of = _peers.jax_z_function(t)
    const, w, v, hh = (jnp.asarray(a) for a in (t.const, t.weights, t.input_weights, h))

    def f(th, xi):
        return z_of(const + th @ w + xi @ v) @ hh

    g = jax.jit(jax.vmap(jax.grad(f), in_axes=(None, 0)))
    th, xs = jnp.asarray(theta), jnp.asarray(x)
    t0 = time.perf_counter()
    g(th, xs).block_until_ready()
    compile_s = time.perf_counter() - t0
    return (lambda: g(th, xs).block_until_ready()), compile_s, (lambda: np.asarray(g(th, xs)))


def lightning_peer(theta, x, h):
    import pennylane as qml
    from pennylane.devices import ExecutionConfig

    dev = qml.device("lightning.qubit", wires=N_QUBITS)
    obs = qml.Hamiltonian(list(h), [qml.PauliZ(i) for i in range(N_QUBITS)])
    tapes = []
    for xi in x:
        ops = [qml.RY(np.pi * xi[q], wires=q) for q in range(N_QUBITS)]
        for layer in range(LAYERS):
            for q in range(N_QUBITS):
                k = 2 * (layer * N_QUBITS + q)
                ops += [qml.RZ(theta[k], wires=q), qml.RY(theta[k + 1], wires=q)]
            ops += [qml.CNOT(wires=[q, q + 1]) for q in range(N_QUBITS - 1)]
        tapes.append(qml.tape.QuantumScript(ops, [qml.expval(obs)]))
    config = dev.setup_execution_config(ExecutionConfig(gradient_method="adjoint"))
    tapes_t = tuple(tapes)

    def run():
        return dev.compute_derivatives(tapes_t, config)

    def grads():
        # every tape parameter is differentiated: the 8 input angles, the 48 circuit angles, then
        # the observable's 8 coefficients (marking only the 48 trainable was slower here)
        return np.array([np.asarray(d) for d in run()])[:, N_QUBITS:N_QUBITS + theta.shape[0]]

    return run, grads


def qulacs_peer(theta, x, h):
    from qulacs import GradCalculator, Observable, ParametricQuantumCircuit

    n = N_QUBITS
    obs = Observable(n)
    for q in range(n):
        obs.add_operator(float(h[q]), f"Z {q}")
    c = ParametricQuantumCircuit(n)
    for q in range(n):
        c.add_parametric_RY_gate(q, 0.0)
    for layer in range(LAYERS):
        for q in range(n):
            c.add_parametric_RZ_gate(q, 0.0)
            c.add_parametric_RY_gate(q, 0.0)
        for q in range(n - 1):
            c.add_CNOT_gate(q, q + 1)
    # qulacs' rotations are exp(+i a P / 2): every angle enters negated, every derivative flips sign
    def set_row(xi):
        for q in range(n):
            c.set_parameter(q, -np.pi * xi[q])
        for k in range(theta.shape[0]):
            c.set_parameter(n + k, -theta[k])

    def backprop():
        out = []
        for xi in x:
            set_row(xi)
            out.append(c.backprop(obs))
        return out

    calc = GradCalculator()

    def grad_calculator():
        out = []
        for xi in x:
            set_row(xi)
            out.append(calc.calculate_grad(c, obs))
        return out

    def grads(fn):
        return -np.array([np.real(np.asarray(r))[n:] for r in fn()])

    return backprop, grad_calculator, grads


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    model, theta, x, h = workload()
    out: dict[str, float | str | None] = {}
    adj, ps = ours_adjoint(model, theta, x, h), ours_parameter_shift(model, theta, x, h)
    g_adj, g_ps = adj(), ps()
    out["adjoint_rows_s"] = best_rate(adj, ROWS)
    out["parameter_shift_rows_s"] = best_rate(ps, ROWS, repeat=3)
    out["max_abs_diff_vs_parameter_shift"] = float(np.max(np.abs(g_adj - g_ps)))

    peers_diff = {}
    jax_run, out["jax_compile_s"], jax_grads = jax_peer(model, theta, x, h)
    out["jax_rows_s"] = best_rate(jax_run, ROWS)
    peers_diff["jax"] = float(np.max(np.abs(jax_grads() - g_adj)))
    light_run, light_grads = lightning_peer(theta, x, h)
    out["lightning_adjoint_rows_s"] = best_rate(light_run, ROWS, repeat=3)
    peers_diff["lightning"] = float(np.max(np.abs(light_grads() - g_adj)))
    q_backprop, q_calc, q_grads = qulacs_peer(theta, x, h)
    rate_bp, rate_calc = best_rate(q_backprop, ROWS, repeat=3), best_rate(q_calc, ROWS, repeat=3)
    out["qulacs_backprop_rows_s"] = max(rate_bp, rate_calc)
    out["qulacs_api"] = "backprop" if rate_bp >= rate_calc else "GradCalculator"
    peers_diff["qulacs"] = float(np.max(np.abs(q_grads(q_backprop) - g_adj)))
    out["max_abs_diff_peers_vs_adjoint"] = max(peers_diff.values())

    a = float(out["adjoint_rows_s"])  # type: ignore[arg-type]
    print(f"full gradient, {N_QUBITS} qubits x {LAYERS} layers, linear, {ROWS} rows, "
          f"{model.n_circuit_params} parameters")
    print(f"{'method':<34}{'rows/s':>12}{'adjoint is':>12}")
    for name, key in [("ours, adjoint", "adjoint_rows_s"), ("ours, parameter shift", "parameter_shift_rows_s"),
                      ("JAX jit(vmap(grad)), complex128", "jax_rows_s"),
                      ("lightning.qubit adjoint", "lightning_adjoint_rows_s"),
                      (f"qulacs {out['qulacs_api']}", "qulacs_backprop_rows_s")]:
        v = float(out[key])  # type: ignore[arg-type]
        print(f"{name:<34}{v:>12,.0f}{a / v:>11.1f}x")
    print(f"JAX compile {out['jax_compile_s']:.2f} s; max |adjoint - parameter shift| = "
          f"{out['max_abs_diff_vs_parameter_shift']:.1e}; peers vs adjoint: "
          + ", ".join(f"{k} {v:.1e}" for k, v in peers_diff.items()))
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
