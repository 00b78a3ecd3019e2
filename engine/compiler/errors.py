"""Errors of the native gate compiler.

`UnsupportedGateError` is bad input (a gate the compiler cannot lower for the target): it names the
gate, its index and the target, so a user can fix the circuit. `CompilationError` is our fault: a
compiled circuit that does not equal its source (raised only by the verification debug switch).
"""

from __future__ import annotations


class UnsupportedGateError(ValueError):
    """A gate the compiler refuses; nothing is ever passed through silently."""

    def __init__(self, gate: str, index: int, target: str, reason: str):
        self.gate = gate
        self.index = index
        self.target = target
        self.reason = reason
        super().__init__(f"gate {index} '{gate}' cannot be compiled for target '{target}': {reason}")


class CompilationError(RuntimeError):
    """The compiled circuit is not equal to its source (verification failed)."""
