"""Gradient-variance preflight: is the circuit trainable at all before a run spends shots on it?

McClean et al. (2018): for deep random circuits the gradient's variance over random parameters vanishes
exponentially in the qubit count (a barren plateau), and no optimizer can then find a direction from
sampled estimates. The preflight draws `initializations` parameter vectors uniformly from [0, 2 pi), computes
the exact gradient of the cost C(theta) = mean over a few training inputs and all qubits of <Z_i> with the
adjoint method (one statevector pass per qubit, no shots), and reports Var_theta[dC/dtheta_j] per parameter:
mean, min, max. A mean below BARREN_PLATEAU_VARIANCE is the warning.

The cost is the readout the head sees, not the loss: the head is random at the start, and the plateau is a
property of the circuit.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .events import GradientPreflight, GradientVarianceFigures
from .model import QuantumModel

if TYPE_CHECKING:
    from .config import TrainingConfig

BARREN_PLATEAU_VARIANCE = 1e-4  # about 2^-13: what a 2-design reaches near 13 qubits; shallow circuits sit far above
MAX_SAMPLES = 8  # training inputs the cost averages over (more changes the variance little, costs linearly)


def gradient_samples(model: QuantumModel, inputs: np.ndarray, initializations: int, seed: int) -> np.ndarray:
    """(initializations, P) exact gradients of C at random theta ~ U[0, 2 pi)^P; `inputs` are encoded (B, D)."""
    from .sim.adjoint import jacobian

    if initializations < 2:
        raise ValueError(f"preflight_initializations: a variance needs >= 2 initializations, got {initializations}")
    x = np.asarray(inputs, dtype=np.float64)[:MAX_SAMPLES]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"preflight: needs at least one encoded input row, got shape {np.shape(inputs)}")
    rng = np.random.default_rng(seed)
    p, b = model.n_circuit_params, x.shape[0]
    thetas = rng.uniform(0.0, 2.0 * np.pi, size=(initializations, p))
    params = np.repeat(thetas, b, axis=0)  # row r * b + i: initialization r, input i
    _, jac = jacobian(model.template, params, np.tile(x, (initializations, 1)))  # (P, R b, n)
    per_row = jac.mean(axis=2)  # d mean_i <Z_i>
    return np.asarray(per_row.reshape(p, initializations, b).mean(axis=2).T, dtype=np.float64)


def gradient_variance(model: QuantumModel, inputs: np.ndarray, initializations: int, seed: int = 0,
                      threshold: float = BARREN_PLATEAU_VARIANCE) -> GradientVarianceFigures:
    """The preflight's figures (see the module docstring)."""
    t0 = time.perf_counter()
    grads = gradient_samples(model, inputs, initializations, seed)
    var = grads.var(axis=0)
    mean = float(var.mean())
    return GradientVarianceFigures(
        initializations=initializations, samples=min(len(inputs), MAX_SAMPLES), n_params=grads.shape[1],
        method="adjoint", mean_variance=mean, min_variance=float(var.min()), max_variance=float(var.max()),
        threshold=threshold, barren_plateau=mean < threshold, wall_ms=(time.perf_counter() - t0) * 1e3,
    )


def preflight_text(f: GradientVarianceFigures) -> str:
    """One line for the Config screen and the log."""
    verdict = (f"barren plateau: mean variance below {f.threshold:g}; use fewer layers or qubits, a local cost, or "
               "a smaller initialization" if f.barren_plateau else "trainable")
    return (f"gradient variance over {f.initializations} initializations: mean {f.mean_variance:.3g} "
            f"(min {f.min_variance:.3g}, max {f.max_variance:.3g}, {f.n_params} parameters): {verdict}")


def preflight_event(config: "TrainingConfig", model: QuantumModel, train_x: np.ndarray) -> GradientPreflight:
    """The preflight of a run (config.preflight_initializations, seeded by config.seed) as its event; the
    inputs are scaled as the trainer scales them (a Scaler fitted on the training split)."""
    from .data import Scaler

    figures = gradient_variance(model, Scaler.fit(train_x).transform(train_x), config.preflight_initializations,
                                config.seed)
    return GradientPreflight(**figures.model_dump())
