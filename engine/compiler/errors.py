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


class ConnectivityError(UnsupportedGateError):
    """A two-qubit gate on physical qubits that the backend does not couple (see NativeGateCompiler's `coupling`).

    The compiler refuses rather than routes: IonQ's trapped-ion devices couple every pair, so a missing pair is a
    partial device, where inserted SWAPs (three entanglers each) would silently change the cost of every run.
    """

    def __init__(self, gate: str, index: int, target: str, pair: tuple[int, int]):
        self.pair = pair
        super().__init__(gate, index, target, f"it needs qubits {pair[0]} and {pair[1]} coupled, and the backend's "
                                              f"coupling map has no pair ({pair[0]}, {pair[1]})")
