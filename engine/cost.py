"""What a run will cost on a QPU: the circuits it plans to execute, and a published price per circuit.

The session and the Config screen both use this, so the estimate a user confirms is the one the
run enforces against `max_cost_usd`. Runs against IonQ (or the emulator) price one circuit with
IonQ's /jobs/estimate instead of the published table.
"""

from __future__ import annotations

import math

# Published on-demand prices for IonQ QPUs (Amazon Braket pricing page, 2024): USD per task and per
# shot; one circuit is one task.
PUBLISHED_PRICES = {"qpu.aria-1": (0.30, 0.03), "qpu.forte-1": (0.30, 0.08)}
PRICE_SOURCE = "Amazon Braket on-demand prices for IonQ (2024)"
# Targets without a published price of their own are priced as their family's system, and say so.
PRICED_AS = {"qpu.aria-2": "qpu.aria-1", "qpu.forte-enterprise-1": "qpu.forte-1"}


def planned_circuits(*, epochs: int, batch_size: int, n_train: int, n_val: int, gradient_method: str,
                     spsa_samples: int, n_circuit_params: int) -> int:
    """Circuits the whole run executes: every step's rows plus one evaluation pass per epoch."""
    total_steps = epochs * math.ceil(n_train / batch_size)
    if gradient_method in ("spsa", "spsa_parallel"):
        blocks = 2 * spsa_samples + 1
    elif gradient_method == "adjoint":
        blocks = 1  # the rows at the current parameters; the backward pass runs no circuit
    elif gradient_method == "qnspsa":
        blocks = 6 * spsa_samples + 2  # current, +-c D and 4 overlaps per resampling; +1: qnspsa_blocking's batch
    elif gradient_method == "shot_adaptive":  # an upper bound: every parameter at its most replicas
        from .optimizers.shot_adaptive import MAX_REPLICAS

        blocks = 2 * MAX_REPLICAS * n_circuit_params + 1
    else:
        blocks = 2 * n_circuit_params + 1
    return total_steps * batch_size * blocks + epochs * (n_train + n_val)


def published_price(target: str, shots: int) -> tuple[float, str]:
    """USD per circuit on a QPU target from the published table, and a sentence saying so."""
    as_of = PRICED_AS.get(target, target)
    if as_of not in PUBLISHED_PRICES:
        raise KeyError(f"no published price for {target!r}; priced targets: {', '.join(PUBLISHED_PRICES)}")
    per_task, per_shot = PUBLISHED_PRICES[as_of]
    note = f" (priced as {as_of}: no published price of its own)" if as_of != target else ""
    return per_task + per_shot * shots, (f"{PRICE_SOURCE}: ${per_task:.2f} per circuit + ${per_shot:.2f} per shot "
                                         f"x {shots} shots{note}")
