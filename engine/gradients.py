"""Losses with their analytic derivatives, and the row layouts of each gradient method.

A step evaluates the circuit at several parameter rows for every sample of the minibatch. The
layouts here put all of them in one (R, P) matrix, in blocks of M rows (one per sample):

- SPSA, S perturbations:    [current | theta + c D_1 | theta - c D_1 | ... ]  -> M (2S + 1) rows
- shift methods, P params:  [current | theta + s e_1 | theta - s e_1 | ... ]  -> M (2P + 1) rows

The current block gives the reported loss and dL/dz, from which the head's gradient is exact and
the circuit's gradient follows by the chain rule (parameter shift, finite differences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PARAMETER_SHIFT = np.pi / 2
FINITE_DIFF_STEP = 1e-2  # radians: central-difference error ~ h^2/6, still usable with shot noise


@dataclass
class LossResult:
    """Minibatch loss at one set of parameters, with its derivatives (means over the minibatch)."""

    per_sample: np.ndarray  # (M,)
    loss: float  # mean of per_sample: divided once
    accuracy: float | None  # classification only
    d_z: np.ndarray  # (M, n): dloss/dz
    d_weight: np.ndarray  # (O, n)
    d_bias: np.ndarray  # (O,)


def loss_and_grads(z: np.ndarray, y: np.ndarray, weight: np.ndarray, bias: np.ndarray, n_classes: int) -> LossResult:
    """Cross-entropy of softmax(W z + b) for classification (n_classes > 0), else MSE of W z + b.

    For regression every output regresses the same target y (output_dim is normally 1).
    """
    m = z.shape[0]
    logits = z @ weight.T + bias
    if n_classes:
        if weight.shape[0] != n_classes:
            raise ValueError(f"output_dim: the model has {weight.shape[0]} outputs for {n_classes} classes")
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        labels = y.astype(np.int64)
        per_sample = -log_p[np.arange(m), labels]
        d_logits = np.exp(log_p)
        d_logits[np.arange(m), labels] -= 1.0
        accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    else:
        err = logits - y.reshape(m, 1)
        per_sample = np.mean(err * err, axis=1)
        d_logits = 2.0 * err / err.shape[1]
        accuracy = None
    d_logits /= m
    return LossResult(
        per_sample=per_sample,
        loss=float(per_sample.mean()),
        accuracy=accuracy,
        d_z=d_logits @ weight,
        d_weight=d_logits.T @ z,
        d_bias=d_logits.sum(axis=0),
    )


def mean_loss(z: np.ndarray, y: np.ndarray, weight: np.ndarray, bias: np.ndarray, n_classes: int) -> float:
    return loss_and_grads(z, y, weight, bias, n_classes).loss


# ----- SPSA -----


def spsa_gains(k: int, a: float, c: float, alpha: float, gamma: float, stability: float) -> tuple[float, float]:
    """(a_k, c_k) = (a / (k + 1 + A)^alpha, c / (k + 1)^gamma) for the 0-based step k."""
    return a / (k + 1 + stability) ** alpha, c / (k + 1) ** gamma


def rademacher(rng: np.random.Generator, samples: int, n: int) -> np.ndarray:
    """(samples, n) independent +-1 entries."""
    return rng.integers(0, 2, size=(samples, n)).astype(np.float64) * 2.0 - 1.0


def spsa_rows(theta: np.ndarray, inputs: np.ndarray, deltas: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Parameter and input rows [current | +c D_1 | -c D_1 | ...], each block M rows."""
    offsets = [np.zeros_like(theta)]
    for d in deltas:
        offsets += [c * d, -c * d]
    return _rows(theta, inputs, offsets)


def spsa_gradient(loss_plus: np.ndarray, loss_minus: np.ndarray, deltas: np.ndarray, c: float) -> np.ndarray:
    """Mean over perturbations of (L+ - L-) / (2c) * D (1/D_j = D_j for +-1 entries)."""
    diffs = (np.asarray(loss_plus) - np.asarray(loss_minus)) / (2.0 * c)
    return (diffs[:, None] * deltas).mean(axis=0)


# ----- parameter shift and finite differences -----


def shift_rows(theta: np.ndarray, inputs: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Parameter and input rows [current | +s e_1 | -s e_1 | ... | -s e_P], each block M rows."""
    offsets = [np.zeros_like(theta)]
    for j in range(theta.shape[0]):
        e = np.zeros_like(theta)
        e[j] = shift
        offsets += [e, -e]
    return _rows(theta, inputs, offsets)


def shift_jacobian(z_blocks: np.ndarray, shift: float, exact_rule: bool) -> np.ndarray:
    """dz/dtheta (P, M, n) from blocks (2P + 1, M, n) laid out by `shift_rows`.

    exact_rule: the parameter-shift rule (z+ - z-) / (2 sin s), exact for rotations exp(-i t G)
    with G of eigenvalues +-1/2; otherwise the central difference (z+ - z-) / (2 s).
    """
    plus, minus = z_blocks[1::2], z_blocks[2::2]
    return (plus - minus) / (2.0 * (np.sin(shift) if exact_rule else shift))


def chain_rule(jacobian: np.ndarray, d_z: np.ndarray) -> np.ndarray:
    """dL/dtheta_j = sum over samples and qubits of dL/dz * dz/dtheta_j."""
    return np.einsum("pmn,mn->p", jacobian, d_z)


def _rows(theta: np.ndarray, inputs: np.ndarray, offsets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    m = inputs.shape[0]
    params = (theta[None, :] + np.asarray(offsets))[:, None, :]  # (blocks, 1, P)
    params = np.broadcast_to(params, (len(offsets), m, theta.shape[0])).reshape(-1, theta.shape[0])
    return params, np.tile(inputs, (len(offsets), 1))
