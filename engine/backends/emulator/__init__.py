"""A local IonQ v0.4 emulator: same endpoints, local simulator, noise models, injected faults."""

from .faults import FAULT_KINDS, Fault
from .jobs import Timing
from .server import EmulatorCounters, EmulatorServer, EmulatorSettings, Exchange

__all__ = ["FAULT_KINDS", "EmulatorCounters", "EmulatorServer", "EmulatorSettings", "Exchange", "Fault", "Timing"]
