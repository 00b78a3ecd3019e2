"""QN-SPSA (Gacon et al. 2021): SPSA preconditioned by a stochastic estimate of the Fubini-Study metric.

The update follows PennyLane's `QNSPSAOptimizer` (pennylane/optimize/qnspsa.py):

- gradient: the SPSA estimate from L(theta + c D) and L(theta - c D);
- metric: from four overlaps F(a, b) = |<psi(theta)|psi(theta + a)>|^2 with two Rademacher directions
  D1, D2:  g_hat = -(D1 D2^T + D2 D1^T) / 2 * dF / (4 c^2),
  dF = F(c(D1 + D2)) - F(c D1) - F(c(-D1 + D2)) + F(-c D1);
- averaging: g_k = k/(k+1) g_{k-1} + 1/(k+1) g_hat, starting from the identity (k = 1);
- regularization: g_k <- (sqrt(g_k g_k) + beta I) / (1 + beta), kept as the running metric;
- step: theta' = theta - a_k g_k^+ grad (pseudo-inverse);
- blocking (optional): a step whose loss on the same minibatch exceeds the current loss by more than twice
  the standard deviation of the last `HISTORY` losses is refused.

An overlap is measured as the all-zero probability of the compute-uncompute circuit U(x, theta) U(x, theta')^+,
so the same rows run on the simulator and on IonQ hardware. For a data-encoding model the state depends on
the input; the metric sample is the mean over the minibatch of the per-sample estimates (the metric of
the average fidelity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..circuits.template import Angle, Template, TemplateBuilder
from ..circuits.gates import spec

HISTORY = 5  # losses kept for the blocking tolerance (PennyLane's history_length)
N_OVERLAPS = 4


_OVERLAPS: dict[str, Template] = {}  # by the model template's structure hash


def overlap_template(t: Template) -> Template:
    """U(x, theta_a) followed by U(x, theta_b)^+: P_a = P_b = t.n_trainable slots, the same D inputs.

    Every gate of the model's template is a rotation whose inverse is the same gate at the negated angle,
    or a self-inverse CNOT; anything else is refused (the overlap would be wrong)."""
    cached = _OVERLAPS.get(t.structure_hash)
    if cached is None:
        cached = _OVERLAPS[t.structure_hash] = _build_overlap(t)
    return cached


def _build_overlap(t: Template) -> Template:
    p = t.n_trainable
    b = TemplateBuilder(t.n_qubits, n_inputs=t.n_inputs, gateset=t.gateset)
    b.n_trainable = 2 * p
    angles = [_angle(t, col, 0) for col in range(t.n_angles)]
    for op, off in zip(t.ops, t.param_offsets):
        k = spec(t.gateset, op.name).n_params
        b.gate(op.name, *op.targets, controls=op.controls, angles=tuple(angles[off:off + k]))
    for op, off in zip(reversed(t.ops), reversed(t.param_offsets)):
        if op.name in ("cnot", "x", "y", "z", "h", "not", "swap"):
            b.gate(op.name, *op.targets, controls=op.controls)
        elif op.name in ("rx", "ry", "rz"):
            b.gate(op.name, *op.targets, controls=op.controls, angles=(-_angle(t, off, p),))
        else:
            raise ValueError(f"overlap_template: gate {op.name!r} has no known inverse")
    return b.build(f"{t.label or 'template'}-overlap")


def _angle(t: Template, col: int, slot_offset: int) -> Angle:
    w, v = t.weights[:, col], t.input_weights[:, col]
    return Angle(float(t.const[col]),
                 tuple((int(j) + slot_offset, float(w[j])) for j in np.flatnonzero(w)),
                 tuple((int(i), float(v[i])) for i in np.flatnonzero(v)))


def overlap_offsets(d1: np.ndarray, d2: np.ndarray, c: float) -> np.ndarray:
    """(4, P) shifts of the second state, in PennyLane's order: c(D1 + D2), c D1, c(-D1 + D2), -c D1."""
    return np.stack([c * (d1 + d2), c * d1, c * (-d1 + d2), -c * d1])


def overlap_rows(theta: np.ndarray, inputs: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the overlap template: for each offset, M rows [theta | theta + offset] with the M inputs."""
    m, p = inputs.shape[0], theta.shape[0]
    first = np.broadcast_to(theta, (offsets.shape[0] * m, p))
    second = np.repeat(theta[None, :] + offsets, m, axis=0)
    return np.hstack([first, second]), np.tile(inputs, (offsets.shape[0], 1))


def metric_sample(fidelities: np.ndarray, d1: np.ndarray, d2: np.ndarray, c: float) -> np.ndarray:
    """The (P, P) metric estimate from the four mean overlaps (order of `overlap_offsets`)."""
    f = np.asarray(fidelities, dtype=np.float64)
    diff = f[0] - f[1] - f[2] + f[3]
    return -(np.outer(d1, d2) + np.outer(d2, d1)) * diff / (8.0 * c * c)


@dataclass
class QNSPSAMetric:
    """The running, regularized metric and the blocking history; a checkpoint holds `state_dict()`."""

    n: int
    regularization: float
    metric: np.ndarray = field(init=False)
    k: int = 1
    losses: np.ndarray = field(default_factory=lambda: np.zeros(HISTORY))

    def __post_init__(self) -> None:
        self.metric = np.eye(self.n)

    def update(self, sample: np.ndarray) -> None:
        """Average in one metric sample, then regularize: |g| = sqrt(g g), plus beta I, over 1 + beta."""
        avg = self.k / (self.k + 1) * self.metric + sample / (self.k + 1)
        sym = 0.5 * (avg + avg.T)
        vals, vecs = np.linalg.eigh(sym)
        absolute = (vecs * np.abs(vals)) @ vecs.T
        self.metric = (absolute + self.regularization * np.eye(self.n)) / (1.0 + self.regularization)
        self.k += 1

    def natural_gradient(self, grad: np.ndarray) -> np.ndarray:
        """g^+ grad: the step direction (theta' = theta - a_k * this)."""
        return np.asarray(np.linalg.pinv(self.metric) @ grad, dtype=np.float64)

    def accept(self, loss_now: float, loss_next: float) -> bool:
        """Blocking: record the current loss; False when the proposed step's loss is worse by more than the
        tolerance (twice the std of the recent losses)."""
        idx = (self.k - 2) % HISTORY
        self.losses[idx] = loss_now
        seen = self.losses if self.k > HISTORY else self.losses[: self.k - 1]
        tol = 2.0 * float(np.std(seen)) if seen.size else 0.0
        return not loss_now + tol < loss_next

    def state_dict(self) -> dict[str, list[list[float]] | list[float] | int | float]:
        return {"metric": self.metric.tolist(), "k": self.k, "losses": self.losses.tolist(),
                "regularization": self.regularization}

    def load_state_dict(self, state: dict[str, object]) -> None:
        metric = np.asarray(state["metric"], dtype=np.float64)
        if metric.shape != (self.n, self.n):
            raise ValueError(f"qnspsa: checkpoint metric has shape {metric.shape}; the model has {self.n} "
                             "circuit parameters")
        self.metric = metric
        self.k = int(state["k"])  # type: ignore[call-overload]  # an int in every checkpoint we write
        self.losses = np.asarray(state["losses"], dtype=np.float64)
