"""The circuits-in-flight limit: a weighted FIFO semaphore bound to one event loop."""

from __future__ import annotations

import asyncio
from collections import deque


class InFlight:
    """A weighted FIFO semaphore: one permit per circuit in flight. A chunk takes all its permits at
    once, so two chunks can never deadlock each holding part of what they need."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop):
        self.limit = limit
        self.loop = loop
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def acquire(self, n: int) -> None:
        if n > self.limit:
            raise ValueError(f"a chunk of {n} circuits exceeds max_concurrent_circuits = {self.limit}")
        if not self._waiters and self.used + n <= self.limit:
            self.used += n
            return
        fut = self.loop.create_future()
        self._waiters.append((n, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(n)  # granted just as we were cancelled
            else:
                self._waiters.remove((n, fut))
                self._wake()
            raise

    def release(self, n: int) -> None:
        self.used -= n
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.limit:
            n, fut = self._waiters.popleft()
            if not fut.done():
                self.used += n
                fut.set_result(None)
