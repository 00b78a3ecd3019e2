"""Errors raised while reading or building circuits.

Every message names where the problem is (gate index, field) so a user can fix the input.
"""

from __future__ import annotations


class CircuitError(ValueError):
    """A circuit is malformed. `index` is the gate's position (None for circuit-level fields)."""

    def __init__(self, message: str, *, index: int | None = None, field: str | None = None):
        self.index = index
        self.field = field
        where = []
        if index is not None:
            where.append(f"gate {index}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
        self.reason = message
