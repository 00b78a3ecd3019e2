"""Optimizers over one flat parameter vector: Adam and SGD with momentum.

The learning rate is passed to every `step` (a float, or one rate per parameter) because SPSA's
gain a_k changes with the step and applies only to the circuit's parameters. Weight decay is an
L2 penalty: `weight_decay * params` is added to the gradient before the update. The state is a
plain dict of arrays and ints, so a checkpoint restores it exactly.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np


class Optimizer(Protocol):
    def step(self, params: np.ndarray, grad: np.ndarray, lr: float | np.ndarray) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


_DIVERGED = "(diverged: lower learning_rate or weight_decay)"


def _check(params: np.ndarray, grad: np.ndarray, step: int) -> None:
    if params.shape != grad.shape:
        raise ValueError(f"gradient has shape {grad.shape}; parameters have {params.shape}")
    if not np.isfinite(grad).all():
        raise ValueError(f"optimizer: the gradient is not finite at step {step} {_DIVERGED}")


def _finite(step: int, *arrays: np.ndarray) -> None:
    """The new parameters and state, checked before they are kept: inf or NaN would only surface later, as a
    checkpoint that cannot be written."""
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError(f"optimizer: the update is not finite at step {step} {_DIVERGED}")


class SGD:
    """v <- momentum * v + g;  params <- params - lr * v (plain SGD when momentum is 0)."""

    def __init__(self, n_params: int, momentum: float = 0.0):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.velocity = np.zeros(n_params)
        self.t = 0  # steps taken, for the step an error names (absent from checkpoints before it: 0)

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float | np.ndarray) -> np.ndarray:
        t = self.t + 1
        _check(params, grad, t)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by name just below
            velocity = self.momentum * self.velocity + grad
            proposed = params - lr * velocity
        _finite(t, proposed, velocity)
        self.velocity, self.t = velocity, t
        return proposed

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "sgd", "velocity": self.velocity.copy(), "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _expect(state, "sgd", self.velocity.shape)
        self.velocity = np.array(state["velocity"], dtype=np.float64)
        self.t = int(state.get("t", 0))


class Adam:
    """Adam (Kingma and Ba) with bias correction; beta1 is the config's `momentum`."""

    def __init__(self, n_params: int, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"momentum: Adam's beta1 must be in [0, 1), got {beta1}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = np.zeros(n_params)
        self.v = np.zeros(n_params)
        self.t = 0

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float | np.ndarray) -> np.ndarray:
        t = self.t + 1
        _check(params, grad, t)
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by name just below
            m = self.beta1 * self.m + (1.0 - self.beta1) * grad
            v = self.beta2 * self.v + (1.0 - self.beta2) * grad * grad
            m_hat = m / (1.0 - self.beta1 ** t)
            v_hat = v / (1.0 - self.beta2 ** t)
            proposed = params - lr * m_hat / (np.sqrt(v_hat) + self.eps)
        _finite(t, proposed, m, v)  # grad * grad can overflow v to inf while the update itself stays finite
        self.m, self.v, self.t = m, v, t
        return proposed

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "adam", "m": self.m.copy(), "v": self.v.copy(), "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _expect(state, "adam", self.m.shape)
        self.m = np.array(state["m"], dtype=np.float64)
        self.v = np.array(state["v"], dtype=np.float64)
        self.t = int(state["t"])


def _expect(state: dict[str, Any], kind: str, shape: tuple[int, ...]) -> None:
    if state.get("kind") != kind:
        raise ValueError(f"optimizer: checkpoint holds {state.get('kind')!r} state, this run uses {kind!r}")
    key = "velocity" if kind == "sgd" else "m"
    got = np.shape(state[key]) if key in state else None
    if got != shape:
        raise ValueError(f"optimizer: checkpoint state has shape {got}; the model has {shape} parameters")


def make_optimizer(name: str, n_params: int, momentum: float) -> Adam | SGD:
    """The optimizer a config names ('adam' or 'sgd')."""
    if name == "adam":
        return Adam(n_params, beta1=momentum)
    if name == "sgd":
        return SGD(n_params, momentum=momentum)
    raise ValueError(f"optimizer: must be 'adam' or 'sgd', got {name!r}")


def clip_by_norm(grad: np.ndarray, max_norm: float) -> np.ndarray:
    """The gradient scaled down to norm `max_norm` when it is longer; unchanged otherwise."""
    with np.errstate(over="ignore", invalid="ignore"):  # squares past the float range: measured scaled below
        norm = float(np.linalg.norm(grad))
        if math.isinf(norm) and np.isfinite(grad).all():  # a finite gradient this long must still be clipped,
            big = float(np.abs(grad).max())  # not multiplied by max_norm / inf = 0
            return (grad / big) * (max_norm / float(np.linalg.norm(grad / big)))
        return grad * (max_norm / norm) if norm > max_norm else grad
