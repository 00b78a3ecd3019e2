"""`python -m engine.sim.compile_kernels`: compile the numba kernels into their on-disk cache, once.

A clean checkout has no cache: the first process to simulate compiles every kernel (~17 s of CPU
here), and processes starting together (pytest's workers) each compile them at once. `make run` and
`make test` run this first, so they load the cache instead (~0.9 s a process).
"""

from __future__ import annotations

import sys
import time

from .statevector import warm_up

if __name__ == "__main__":
    started = time.perf_counter()
    warm_up()
    if (took := time.perf_counter() - started) > 3.0:
        print(f"compiled the simulator's kernels in {took:.0f} s (once per checkout)", file=sys.stderr)
