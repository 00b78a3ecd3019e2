"""Shot-adaptive parameter-shift gradients: Rosalin (Arrasmith et al. 2020), the iCANS shot rule (Kübler et al.
2020) with its shots spent by weighted random sampling of the loss's terms (PennyLane's `ShotAdaptiveOptimizer`).

Each circuit parameter j has its own shot count s_j. From each step's gradient g_j and per-shot variance
sigma_j^2, running averages chi (gradient) and xi (variance), bias-corrected by 1 - mu^(k+1), give the next counts

    s_j = ceil(2 L lr xi_j / ((2 - L lr) (chi_j^2 + b mu^k)))

bounded below by the minimum shots and above by the s of the parameter with the largest expected gain
per shot gamma_j = ((lr - L lr^2 / 2) chi_j^2 - L lr^2 xi_j / (2 s_j)) / s_j.

The terms. By the chain rule dL/dtheta_j = sum_m c_m . dz_m/dtheta_j with c_m = dL/dz_m (n,), one term per
minibatch row m: a row's qubits are measured on the same shots, so a row, not a (row, qubit) pair, is what a
shot buys. Rosalin's weighted random sampling (WRS) spends parameter j's shots as u_j = ceil(s_j / s_min) units
(s_min = shots_per_circuit, the one shot count a batch runs at), each unit one row m drawn with probability
p_m = |c_m|_1 / sum |c|_1 and measured at theta +- s e_j; the unit's estimate X = c_m . dz_m / p_m is unbiased
for g_j, g_j is the mean of its u_j units (u_j >= 2, which also gives the variance sigma_j^2 = s_min var(X)).
Rows whose coefficients are 0 are never run. The coefficients come from the current rows' measured <Z>, so a
step is two batches: the current rows (loss, c), then every parameter's units. (`replica_rows` /
`replica_estimates`, every row for every parameter, are the un-sampled layout the tests compare with.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MU = 0.99  # running-average constant (PennyLane's default)
BIAS = 1e-6  # b: keeps s finite while chi is still near 0
MIN_REPLICAS = 2  # a variance needs two estimates
MAX_REPLICAS = 16  # units per parameter, in minibatches (16 M row pairs at most): bounds one step's batch


def replica_rows(theta: np.ndarray, inputs: np.ndarray, replicas: np.ndarray,
                 shift: float) -> tuple[np.ndarray, np.ndarray]:
    """[current | for each j, r_j times (theta + s e_j, theta - s e_j)], each block M rows."""
    offsets = [np.zeros_like(theta)]
    for j, r in enumerate(replicas):
        e = np.zeros_like(theta)
        e[j] = shift
        offsets += [e, -e] * int(r)
    m = inputs.shape[0]
    params = np.repeat(theta[None, :] + np.asarray(offsets), m, axis=0)
    return params, np.tile(inputs, (len(offsets), 1))


def replica_estimates(z_blocks: np.ndarray, d_z: np.ndarray, replicas: np.ndarray,
                      shift: float) -> tuple[np.ndarray, np.ndarray]:
    """(gradient, per-shot variance factor) per parameter from blocks laid out by `replica_rows`.

    Returns g_j (mean over replicas of the chain-rule estimate) and var_j (sample variance of one replica's
    estimate); multiply var_j by the shots per row for the per-shot variance."""
    p = replicas.shape[0]
    grad, var = np.empty(p), np.empty(p)
    at = 1
    for j, r in enumerate(replicas):
        r = int(r)
        plus, minus = z_blocks[at:at + 2 * r:2], z_blocks[at + 1:at + 2 * r:2]
        est = np.einsum("rmn,mn->r", (plus - minus) / (2.0 * np.sin(shift)), d_z)
        grad[j], var[j] = est.mean(), est.var(ddof=1)
        at += 2 * r
    return grad, var


@dataclass
class ShotAllocator:
    """iCANS' running averages and the next shot counts; a checkpoint holds `state_dict()`."""

    n: int
    min_shots: int
    lipschitz: float
    lr: float
    shots: np.ndarray = field(init=False)  # s_j for the next step
    chi: np.ndarray = field(init=False)
    xi: np.ndarray = field(init=False)
    k: int = 0

    def __post_init__(self) -> None:
        if not self.lr * self.lipschitz < 2:
            raise ValueError(f"learning_rate: must be < 2 / shot_lipschitz = {2 / self.lipschitz:.6g}, got {self.lr}")
        self.shots = np.full(self.n, max(MIN_REPLICAS * self.min_shots, self.min_shots), dtype=np.int64)
        self.chi = np.zeros(self.n)
        self.xi = np.zeros(self.n)

    def replicas(self) -> np.ndarray:
        """r_j: rows per sign for parameter j at min_shots each."""
        r = -(-self.shots // self.min_shots)
        return np.clip(r, MIN_REPLICAS, MAX_REPLICAS).astype(np.int64)

    def units(self, rows: int) -> np.ndarray:
        """u_j: row pairs parameter j measures at min_shots each, for a minibatch of `rows` rows."""
        u = -(-self.shots // self.min_shots)
        return np.clip(u, MIN_REPLICAS, MAX_REPLICAS * rows).astype(np.int64)

    def update(self, grad: np.ndarray, per_shot_var: np.ndarray) -> None:
        """Fold in one step's estimates and choose the next step's shot counts."""
        self.chi = MU * self.chi + (1 - MU) * grad
        self.xi = MU * self.xi + (1 - MU) * per_shot_var
        corr = 1 - MU ** (self.k + 1)
        chi, xi = self.chi / corr, self.xi / corr
        l, a = self.lipschitz, self.lr
        s = np.ceil(2 * l * a * xi / ((2 - l * a) * (chi ** 2 + BIAS * MU ** self.k)))
        s = np.maximum(s, 1.0)
        gamma = ((a - l * a * a / 2) * chi ** 2 - xi * l * a * a / (2 * s)) / s
        s_max = max(float(s[int(np.argmax(gamma))]), float(MIN_REPLICAS * self.min_shots))
        self.shots = np.clip(s, MIN_REPLICAS * self.min_shots, s_max).astype(np.int64)
        self.k += 1

    def state_dict(self) -> dict[str, list[float] | list[int] | int]:
        return {"shots": self.shots.tolist(), "chi": self.chi.tolist(), "xi": self.xi.tolist(), "k": self.k}

    def load_state_dict(self, state: dict[str, object]) -> None:
        shots = np.asarray(state["shots"], dtype=np.int64)
        if shots.shape != (self.n,):
            raise ValueError(f"shot_adaptive: checkpoint has {shots.shape} shot counts; the model has {self.n} "
                             "circuit parameters")
        self.shots = shots
        self.chi = np.asarray(state["chi"], dtype=np.float64)
        self.xi = np.asarray(state["xi"], dtype=np.float64)
        self.k = int(state["k"])  # type: ignore[call-overload]  # an int in every checkpoint we write


@dataclass(frozen=True)
class TermSample:
    """One step's weighted random sampling: the parameter and minibatch row of every unit, and the rows' odds."""

    param: np.ndarray  # (U,) int: the parameter a unit's row pair shifts
    row: np.ndarray  # (U,) int: the minibatch row it measures
    prob: np.ndarray  # (M,): p_m, the chance a unit draws row m
    n_params: int

    def rows(self, theta: np.ndarray, inputs: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """Circuit parameters and inputs of the units' rows: (theta + s e_j, theta - s e_j) per unit, in order."""
        u = self.param.size
        params = np.repeat(theta[None, :], 2 * u, axis=0)
        params[2 * np.arange(u), self.param] += shift
        params[2 * np.arange(u) + 1, self.param] -= shift
        return params, np.repeat(inputs[self.row], 2, axis=0)

    def estimates(self, z: np.ndarray, d_z: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """(gradient, variance of one unit's estimate) per parameter from the units' <Z> (2U, n), laid out by `rows`.

        Multiply the variance by the shots per row for the per-shot variance iCANS uses."""
        dz = (z[0::2] - z[1::2]) / (2.0 * np.sin(shift))
        x = np.einsum("un,un->u", dz, d_z[self.row]) / self.prob[self.row]
        count = np.bincount(self.param, minlength=self.n_params)
        grad = np.bincount(self.param, weights=x, minlength=self.n_params) / count
        dev = x - grad[self.param]
        var = np.bincount(self.param, weights=dev * dev, minlength=self.n_params) / (count - 1)
        return grad, var


def term_probabilities(d_z: np.ndarray) -> np.ndarray:
    """p_m proportional to |c_m|_1, the row's coefficient magnitudes; uniform when every coefficient is 0."""
    w = np.abs(d_z).sum(axis=1)
    total = float(w.sum())
    if not np.isfinite(total):
        raise ValueError("shot_adaptive: the loss's derivatives dL/dz are not finite")
    return w / total if total > 0 else np.full(w.size, 1.0 / w.size)


def sample_terms(units: np.ndarray, d_z: np.ndarray, rng: np.random.Generator) -> TermSample:
    """Rosalin's WRS: each parameter's u_j units drawn over the minibatch rows by p (multinomial), rows in order."""
    prob = term_probabilities(d_z)
    m = prob.size
    counts = rng.multinomial(units, prob)  # (P, M)
    param = np.repeat(np.arange(units.size), counts.sum(axis=1))
    row = np.repeat(np.tile(np.arange(m), units.size), counts.ravel())
    return TermSample(param, row, prob, int(units.size))
