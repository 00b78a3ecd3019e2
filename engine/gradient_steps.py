"""The circuit gradient of one training step, one function per gradient method.

Each runs its method's rows through a BatchRunner and returns the loss at the current parameters (with dL/dz
and the head's exact gradient, engine/gradients.py) and the circuit parameters' gradient. The trainer chooses
the method, the gains and the learning rate, and steps the optimizer; the row layouts and estimators live in
engine/gradients.py and engine/optimizers/ (QN-SPSA, shot-adaptive parameter shift).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from .batch_runner import BatchRunner
from .circuits.template import CircuitBatch
from .gradients import (
    FINITE_DIFF_STEP,
    PARAMETER_SHIFT,
    LossResult,
    chain_rule,
    loss_and_grads,
    mean_loss,
    rademacher,
    shift_jacobian,
    shift_rows,
    spsa_gradient,
    spsa_rows,
)
from .model import QuantumModel
from .optimizers.qnspsa import QNSPSAMetric, metric_sample, overlap_offsets, overlap_rows, overlap_template
from .optimizers.shot_adaptive import ShotAllocator, sample_terms
from .sim.measure import expectations_z
from .training_results import TrainingError

__all__ = ["CircuitGradient", "adjoint_step", "qnspsa_block", "qnspsa_step", "shift_step", "shot_adaptive_step",
           "spsa_step"]


_WRS_STREAM = 0x5A5  # Rosalin's row draws: a stream apart from the shot noise seeded by the same step seed


@dataclass
class CircuitGradient:
    """The loss at the current parameters, the circuit parameters' gradient, and the circuits it cost."""

    current: LossResult
    g_circuit: np.ndarray
    circuits: int


async def _blocks(
    run: BatchRunner, model: QuantumModel, rows: np.ndarray, inputs: np.ndarray, m: int, purpose: str, seed: int,
    *, split: bool,
) -> np.ndarray:
    """<Z> of every row as (blocks, M, n): one batch, or (split) one batch per block in turn."""
    if not split:
        z = await run.expectations(model.batch(inputs, rows), purpose, seed)
    else:
        parts = []
        for i in range(rows.shape[0] // m):
            sl = slice(i * m, (i + 1) * m)
            parts.append(await run.expectations(model.batch(inputs[sl], rows[sl]), purpose, seed + i))
        z = np.concatenate(parts)
    return z.reshape(-1, m, model.n_qubits)


def _spsa_estimate(blocks: np.ndarray, y: np.ndarray, model: QuantumModel, n_classes: int, deltas: np.ndarray,
                   c: float) -> np.ndarray:
    """SPSA's gradient from the loss blocks [current | +c D | -c D ...]."""
    _, weight, bias = model.split()
    loss_plus = [mean_loss(b, y, weight, bias, n_classes) for b in blocks[1::2]]
    loss_minus = [mean_loss(b, y, weight, bias, n_classes) for b in blocks[2::2]]
    return spsa_gradient(np.array(loss_plus), np.array(loss_minus), deltas, c)


def _current(blocks: np.ndarray, y: np.ndarray, model: QuantumModel, n_classes: int) -> LossResult:
    _, weight, bias = model.split()
    return loss_and_grads(blocks[0], y, weight, bias, n_classes)


async def spsa_step(
    run: BatchRunner, model: QuantumModel, rng: np.random.Generator, samples: int, theta: np.ndarray,
    inputs: np.ndarray, y: np.ndarray, n_classes: int, seed: int, c: float, *, split: bool,
) -> CircuitGradient:
    """SPSA over `samples` direction draws; `split` (method `spsa`) runs each evaluation as its own batch."""
    m = inputs.shape[0]
    deltas = rademacher(rng, samples, theta.shape[0])
    rows, row_inputs = spsa_rows(theta, inputs, deltas, c)
    blocks = await _blocks(run, model, rows, row_inputs, m, "spsa", seed, split=split)
    g_circuit = _spsa_estimate(blocks, y, model, n_classes, deltas, c)
    return CircuitGradient(_current(blocks, y, model, n_classes), g_circuit, rows.shape[0])


async def shift_step(
    run: BatchRunner, model: QuantumModel, theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, n_classes: int,
    seed: int, method: str,
) -> CircuitGradient:
    """Parameter shift (`method` parameter_shift) or finite differences: two shifted rows per parameter, one batch;
    `method` is also the batch's purpose."""
    exact = method == "parameter_shift"
    shift = PARAMETER_SHIFT if exact else FINITE_DIFF_STEP
    rows, row_inputs = shift_rows(theta, inputs, shift)
    blocks = await _blocks(run, model, rows, row_inputs, inputs.shape[0], method, seed, split=False)
    current = _current(blocks, y, model, n_classes)
    return CircuitGradient(current, chain_rule(shift_jacobian(blocks, shift, exact), current.d_z), rows.shape[0])


async def qnspsa_step(
    run: BatchRunner, model: QuantumModel, metric: QNSPSAMetric, rng: np.random.Generator, samples: int,
    theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, n_classes: int, seed: int, c: float,
) -> CircuitGradient:
    """QN-SPSA: loss rows [current | +c D | -c D] and 4 M overlap rows in one call; g^+ times the SPSA gradient.

    Resamplings (`samples`, config spsa_samples) average gradient and metric over that many direction draws, as
    PennyLane's `resamplings`."""
    m, p = inputs.shape[0], theta.shape[0]
    deltas = rademacher(rng, samples, p)
    pairs = [(rademacher(rng, 1, p)[0], rademacher(rng, 1, p)[0]) for _ in range(samples)]
    rows, row_inputs = spsa_rows(theta, inputs, deltas, c)
    over = [overlap_rows(theta, inputs, overlap_offsets(d1, d2, c)) for d1, d2 in pairs]
    fid_t = overlap_template(model.template)
    batches = [model.batch(row_inputs, rows)] + [CircuitBatch(fid_t, r, x) for r, x in over]
    probs = await run.probabilities(batches, "qnspsa", seed)
    n_loss = rows.shape[0]
    blocks = expectations_z(probs[:n_loss]).reshape(-1, m, model.n_qubits)
    g_spsa = _spsa_estimate(blocks, y, model, n_classes, deltas, c)
    zero = probs[n_loss:, 0].reshape(samples, 4, m).mean(axis=2)  # mean overlap per offset
    metric.update(np.mean([metric_sample(f, d1, d2, c) for f, (d1, d2) in zip(zero, pairs)], axis=0))
    return CircuitGradient(_current(blocks, y, model, n_classes), metric.natural_gradient(g_spsa), probs.shape[0])


async def qnspsa_block(
    run: BatchRunner, model: QuantumModel, metric: QNSPSAMetric, params: np.ndarray, proposed: np.ndarray,
    inputs: np.ndarray, y: np.ndarray, n_classes: int, loss_now: float, seed: int,
) -> np.ndarray:
    """Blocking: the proposed parameters' loss on the same minibatch (one M-row batch); the old ones when worse."""
    theta_next, weight, bias = model.split(proposed)
    z = await run.expectations(model.batch(inputs, np.broadcast_to(theta_next, (inputs.shape[0], theta_next.size))),
                               "qnspsa_blocking", seed + 1)
    return proposed if metric.accept(loss_now, mean_loss(z, y, weight, bias, n_classes)) else params


async def shot_adaptive_step(
    run: BatchRunner, model: QuantumModel, allocator: ShotAllocator, shots: int, theta: np.ndarray,
    inputs: np.ndarray, y: np.ndarray, n_classes: int, seed: int,
) -> CircuitGradient:
    """Rosalin: parameter shift with iCANS' per-parameter shot counts, spent by weighted random sampling of the
    minibatch rows (engine/optimizers/shot_adaptive.py). Two batches: the current rows, whose dL/dz weight the
    rows, then every parameter's sampled row pairs; the draw is seeded by the step, so a resume repeats it."""
    m = inputs.shape[0]
    z_now = await run.expectations(model.batch(inputs, np.broadcast_to(theta, (m, theta.size))), "shot_adaptive", seed)
    current = _current(z_now[None], y, model, n_classes)
    terms = sample_terms(allocator.units(m), current.d_z, np.random.default_rng([seed, _WRS_STREAM]))
    rows, row_inputs = terms.rows(theta, inputs, PARAMETER_SHIFT)
    z = await run.expectations(model.batch(row_inputs, rows), "shot_adaptive", seed + 1)
    g_circuit, var = terms.estimates(z, current.d_z, PARAMETER_SHIFT)
    allocator.update(g_circuit, var * shots)
    return CircuitGradient(current, g_circuit, m + rows.shape[0])


async def adjoint_step(
    run: BatchRunner, model: QuantumModel, theta: np.ndarray, inputs: np.ndarray, y: np.ndarray, n_classes: int,
    step: int,
) -> CircuitGradient:
    """The loss at theta and its exact circuit gradient: one forward and one backward pass (engine/sim/adjoint.py).

    The embedded simulator runs it directly (config validation admits adjoint only for exact local
    runs), on a worker thread; dL/dz from the loss is the backward pass's cotangent, so the chain
    rule through head and loss costs one pass, not one per qubit. Counted as M circuits in the stats.
    """
    from .sim.adjoint import value_and_grad

    _, weight, bias = model.split()
    losses: list[LossResult] = []

    def cotangent(z: np.ndarray) -> np.ndarray:
        losses.append(loss_and_grads(z, y, weight, bias, n_classes))
        return losses[-1].d_z

    m = inputs.shape[0]
    t0 = time.perf_counter()
    res = await asyncio.to_thread(value_and_grad, model.template, np.tile(theta, (m, 1)), inputs, cotangent)
    run.count(m, time.perf_counter() - t0)
    g_circuit = res.grad.sum(axis=0)
    if not (np.isfinite(res.z).all() and np.isfinite(g_circuit).all()):
        raise TrainingError(f"step {step}: the adjoint pass gave non-finite values")
    return CircuitGradient(losses[-1], g_circuit, m)
