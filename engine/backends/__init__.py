"""Backends: the protocol, the local simulator, the IonQ client and its emulator."""

from .base import Backend, BackendLimits, ExecutionResult
from .local import LocalSimulatorBackend

__all__ = ["Backend", "BackendLimits", "ExecutionResult", "LocalSimulatorBackend"]
