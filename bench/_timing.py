"""Timing shared by the bench scripts: the best of several runs, each long enough to be measured."""

from __future__ import annotations

import time
from typing import Callable


def best_rate(fn: Callable[[], object], rows: int, repeat: int = 5, min_time: float = 0.3) -> float:
    """Rows per second from the best of `repeat` timed runs, each calling `fn` for at least `min_time`."""
    best = 0.0
    for _ in range(repeat):
        k, t0 = 0, time.perf_counter()
        while True:
            fn()
            k += 1
            dt = time.perf_counter() - t0
            if dt >= min_time:
                break
        best = max(best, rows * k / dt)
    return best


def best_rates_interleaved(fns: list[Callable[[], object]], rows: int, repeat: int = 9,
                           min_time: float = 0.2) -> list[float]:
    """`best_rate` of several functions timed in turn, round after round: on a loaded machine a
    ratio between them is then taken from runs moments apart, not from different minutes."""
    best = [0.0] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], best_rate(fn, rows, repeat=1, min_time=min_time))
    return best
