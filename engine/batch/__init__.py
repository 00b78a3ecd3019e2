"""The batch manager: runs circuits on a backend in chunks, and says where the time went.

- `manager.py`  CircuitBatchManager (the only module that knows the others): grouping, compile and bind through
                the cache, chunking within the backend's limits, concurrency, retries, adaptive chunk size, events
- `inputs.py`   input circuits (a CircuitBatch, or IonQ dicts / Circuits / cirq.Circuits) into structure groups
- `limiter.py`  InFlight: the circuits-in-flight limit (a weighted FIFO semaphore)
- `results.py`  CircuitResult, CircuitFailure, BatchResult (what one execute_batch gives back)
- `stats.py`    PerformanceStats (totals since the manager was made) and its v3.4 text report
"""

from ..events import STAGES
from .inputs import InputCircuit
from .manager import BatchSettings, CircuitBatchManager
from .results import BatchResult, CircuitFailure, CircuitResult
from .stats import PerformanceStats

__all__ = ["STAGES", "BatchResult", "BatchSettings", "CircuitBatchManager", "CircuitFailure", "CircuitResult",
           "InputCircuit", "PerformanceStats"]
