"""Event-loop lag probe: proof that the engine never stalls the loop the UI runs on.

A task sleeps `interval_s` again and again; whatever it oversleeps is time the loop was blocked
(CPU work that should have gone to a worker thread). The worst overshoot goes into the report.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable


class LagProbe:
    """Measures the worst and mean scheduling delay of the running event loop."""

    def __init__(self, interval_s: float = 0.05, clock: Callable[[], float] = time.perf_counter):
        self.interval_s = interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.worst_ms = 0.0
        self.total_ms = 0.0
        self.samples = 0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.samples if self.samples else 0.0

    def start(self) -> None:
        """Begin probing on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._probe(), name="lag-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _probe(self) -> None:
        while True:
            t0 = self._clock()
            await asyncio.sleep(self.interval_s)
            over_ms = max(0.0, (self._clock() - t0 - self.interval_s) * 1000.0)
            self.samples += 1
            self.total_ms += over_ms
            self.worst_ms = max(self.worst_ms, over_ms)
