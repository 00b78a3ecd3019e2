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


def shown(value: object, width: int = 60) -> str:
    """A value for an error message: repr cut to `width` characters; a huge int as its order of magnitude
    (str() of an int of more than 4,300 digits raises, and nobody reads a wall of digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 12:
        magnitude = abs(value)
        exponent = int((magnitude.bit_length() - 1) * 0.30103)
        while 10 ** (exponent + 1) <= magnitude:
            exponent += 1
        return f"{'-' if value < 0 else ''}about 10**{exponent}"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[:width - 3] + "..."
