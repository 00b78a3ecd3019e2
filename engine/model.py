"""QuantumModel: angle-encoded variational circuit, <Z_i> readout and a linear head.

The circuit is one affine `Template` built once: the batch path binds (B, P) parameter rows and
(B, D) input rows against it, so SPSA, parameter shift and validation all run as a single batch.

- Encoding: feature x (scaled to [0, 1] by a Scaler fitted on the training split) enters as
  RY(pi * x). With fewer features than qubits, qubit q encodes feature q % D (every qubit works);
  with more, feature i goes to qubit i % n, and the extra ones are re-uploaded there as
  alternating RZ / RY rotations, so no feature is dropped.
- Encoding "reupload" (data re-uploading, Perez-Salinas et al. 2020): the same input rotations are
  repeated before every layer, so the circuit is a Fourier series in x of degree circuit_depth instead
  of 1; "angle" (the default) encodes once, before the first layer.
- Layers: `circuit_depth` times RZ(theta) RY(theta) on every qubit, then the CNOT entangler
  (linear chain; circular adds n-1 -> 0; full is every pair i < j). RZ comes before RY so that no
  rotation sits right before the Z readout, where it would have no effect.
- Every trainable slot feeds exactly one rotation angle with coefficient 1, which is what makes
  the +-pi/2 parameter-shift rule exact.
- Head: logits = W z + b with W (output_dim, n_qubits).

The parameter vector is [theta (circuit), W (row-major), b].
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .fileio import atomic_write_bytes
from .circuits.template import CircuitBatch, Template, TemplateBuilder
from .data import Scaler

Entanglement = Literal["linear", "full", "circular"]
ENTANGLEMENTS: tuple[str, ...] = ("linear", "full", "circular")
Encoding = Literal["angle", "reupload"]
ENCODINGS: tuple[str, ...] = ("angle", "reupload")
MODEL_FORMAT = "qstore-model/1"


def entangler_pairs(n_qubits: int, entanglement: str) -> list[tuple[int, int]]:
    """(control, target) CNOT pairs of one entangling layer."""
    if entanglement not in ENTANGLEMENTS:
        raise ValueError(f"entanglement: must be one of {ENTANGLEMENTS}, got {entanglement!r}")
    if entanglement == "full":
        return [(i, j) for i in range(n_qubits) for j in range(i + 1, n_qubits)]
    pairs = [(q, q + 1) for q in range(n_qubits - 1)]
    if entanglement == "circular" and n_qubits > 2:
        pairs.append((n_qubits - 1, 0))
    return pairs


def encoding_plan(input_dim: int, n_qubits: int) -> list[list[tuple[str, int]]]:
    """For every qubit, its input rotations in order as (gate, feature index)."""
    plan: list[list[tuple[str, int]]] = [[] for _ in range(n_qubits)]
    if input_dim <= n_qubits:
        for q in range(n_qubits):
            plan[q].append(("ry", q % input_dim))
        return plan
    for i in range(input_dim):
        q, upload = i % n_qubits, i // n_qubits
        plan[q].append(("ry" if upload % 2 == 0 else "rz", i))
    return plan


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    return int(value)


class QuantumModel:
    """A variational classifier / regressor whose circuit is a reusable template (see module doc)."""

    def __init__(
        self,
        input_dim: int,
        n_qubits: int,
        output_dim: int,
        circuit_depth: int = 2,
        entanglement: Entanglement = "linear",
        *,
        seed: int = 0,
        encoding: Encoding = "angle",
    ):
        self.input_dim = _positive_int("input_dim", input_dim)
        self.n_qubits = _positive_int("n_qubits", n_qubits)
        self.output_dim = _positive_int("output_dim", output_dim)
        self.circuit_depth = _positive_int("circuit_depth", circuit_depth)
        self.entanglement = entanglement
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding: must be one of {ENCODINGS}, got {encoding!r}")
        self.encoding = encoding
        self.template = self._build_template()
        self.n_circuit_params = self.template.n_trainable
        self.n_head_params = self.output_dim * (self.n_qubits + 1)
        self.n_params = self.n_circuit_params + self.n_head_params
        self.scaler: Scaler | None = None
        rng = np.random.default_rng(seed)
        # Small circuit angles start near the pure encoding (informative features, no plateau);
        # the head starts small so the first losses are near chance, not confidently wrong.
        theta = rng.normal(0.0, 0.5, self.n_circuit_params)
        weight = rng.normal(0.0, 1.0 / np.sqrt(self.n_qubits), (self.output_dim, self.n_qubits))
        self._params = np.concatenate([theta, weight.ravel(), np.zeros(self.output_dim)])

    @classmethod
    def from_config(cls, config: Any, input_dim: int, output_dim: int) -> "QuantumModel":
        """The model a TrainingConfig describes (n_qubits, circuit_depth, entanglement, encoding, seed)."""
        return cls(input_dim, config.n_qubits, output_dim, config.circuit_depth, config.entanglement, seed=config.seed,
                   encoding=config.encoding)

    def _build_template(self) -> Template:
        pairs = entangler_pairs(self.n_qubits, self.entanglement)
        b = TemplateBuilder(self.n_qubits, n_inputs=self.input_dim)
        plan = encoding_plan(self.input_dim, self.n_qubits)
        for layer in range(self.circuit_depth):
            if layer == 0 or self.encoding == "reupload":
                for q, rotations in enumerate(plan):
                    for gate, feature in rotations:
                        b.gate(gate, q, angles=(b.input(feature, np.pi),))
            for q in range(self.n_qubits):
                b.gate("rz", q, angles=(b.trainable(),))
                b.gate("ry", q, angles=(b.trainable(),))
            for control, target in pairs:
                b.gate("cnot", target, controls=(control,))
        label = f"qmodel-{self.input_dim}x{self.n_qubits}-d{self.circuit_depth}-{self.entanglement}"
        if self.encoding != "angle":
            label += f"-{self.encoding}"
        return b.build(label)

    # ----- parameters -----

    def get_params(self) -> np.ndarray:
        """A copy of the full parameter vector [theta, W, b]."""
        return self._params.copy()

    def set_params(self, params: np.ndarray) -> None:
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.n_params,):
            raise ValueError(f"params: expected shape ({self.n_params},), got {params.shape}")
        if not np.isfinite(params).all():
            raise ValueError("params: must be finite")
        self._params = params.copy()

    def split(self, params: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(theta, W, b) views of `params` (default: the model's own)."""
        p = self._params if params is None else params
        p_c = self.n_circuit_params
        weight = p[p_c:p_c + self.output_dim * self.n_qubits].reshape(self.output_dim, self.n_qubits)
        return p[:p_c], weight, p[p_c + self.output_dim * self.n_qubits:]

    # ----- data in, circuits out -----

    def fit_scaler(self, x: np.ndarray) -> None:
        """Fit the [0, 1] feature scaling on training features (never on validation data)."""
        self._check_features(x)
        self.scaler = Scaler.fit(x)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Raw features (N, input_dim) to the circuit's inputs in [0, 1]."""
        if self.scaler is None:
            raise ValueError("model has no fitted scaler: call fit_scaler(train_x) first (the trainer does)")
        self._check_features(x)
        return self.scaler.transform(x)

    def _check_features(self, x: np.ndarray) -> None:
        shape = np.shape(x)
        if len(shape) != 2 or shape[1] != self.input_dim:
            raise ValueError(f"features: expected shape (N, {self.input_dim}), got {shape}")

    def batch(self, inputs: np.ndarray, theta_rows: np.ndarray | None = None) -> CircuitBatch:
        """The CircuitBatch for encoded `inputs` (B, D) at `theta_rows` (B, P); default: current theta."""
        inputs = np.asarray(inputs, dtype=np.float64)
        if theta_rows is None:
            theta_rows = np.broadcast_to(self.split()[0], (inputs.shape[0], self.n_circuit_params))
        return CircuitBatch(self.template, theta_rows, inputs)

    def head(self, z: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
        """Logits (B, output_dim) from expectations z (B, n_qubits)."""
        _, weight, bias = self.split(params)
        return z @ weight.T + bias

    # ----- persistence -----

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "input_dim": self.input_dim,
            "n_qubits": self.n_qubits,
            "output_dim": self.output_dim,
            "circuit_depth": self.circuit_depth,
            "entanglement": self.entanglement,
            "encoding": self.encoding,
            "params": self._params.tolist(),
            "scaler": None if self.scaler is None else self.scaler.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QuantumModel":
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"format: expected {MODEL_FORMAT!r}, got {data.get('format')!r}")
        model = cls(data["input_dim"], data["n_qubits"], data["output_dim"], data["circuit_depth"], data["entanglement"],
                    encoding=data.get("encoding", "angle"))  # files from before re-uploading are "angle"
        model.set_params(np.array(data["params"], dtype=np.float64))
        if data.get("scaler") is not None:
            model.scaler = Scaler.from_dict(data["scaler"])
        return model

    def architecture(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in ("params", "scaler", "format")}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Atomic JSON; floats are written with repr, so `load` restores them bit for bit."""
        return atomic_write_bytes(path, json.dumps(self.to_dict(), allow_nan=False).encode())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "QuantumModel":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable model file: {exc}") from None
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
