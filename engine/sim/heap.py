"""Keep freed batch arrays in the process heap instead of handing them back to the OS.

A shots batch allocates its frequencies and its counts (8 qubits x 200 rows: 400 KB each). With glibc's
default, adaptive thresholds the second array of a freed pair pushes the heap's free top past the trim
threshold (twice the largest block freed), so every batch returned ~800 KB to the kernel and faulted it
back in: 218 page faults a batch, ~5 us a row, which doubled the time 1,000 shots add to the exact path
on this VM (exact batches, one array each, faulted none). Fixed thresholds keep blocks below 32 MiB on the
heap and trim only beyond 64 MiB free, so repeated batches reuse their memory. Other C libraries are
left as they are (mallopt is glibc's).
"""

from __future__ import annotations

import ctypes
import functools
import os

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest on 64-bit: blocks below it come from the heap
TRIM_THRESHOLD_BYTES = 64 * 2**20  # free memory kept at the heap's top before it is returned


@functools.cache
def retain_freed_memory() -> bool:
    """Set glibc's thresholds once per process; False where the C library is not glibc."""
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
    except (AttributeError, ValueError, OSError):  # no confstr, or no such name: not glibc
        return False
    libc = ctypes.CDLL(None)
    ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok
