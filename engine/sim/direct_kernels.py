"""Compiled shot sampling for rows of up to 256 outcomes (numba, nogil): a direct table of 4,096 slots.

Per row, the probabilities become integer weights w_i = floor(p_i 2**62 (1 + 2**-40)), a row that does not
sum to 1 within 2**-39 (a state's probabilities do) divided by its own total first. Over 2**62, the excess
(~2**22) comes off the first large weight; under, the missing mass is left unused and a shot that lands there
is drawn again. The weights are the row's p / total within 2**-39 of its mass. With slot unit U = 2**50,
outcome i owns a_i = w_i >> 50 whole slots, laid out in order in the byte table `slots`, and its remainder
r_i = w_i mod U lies, in order too, in the residual region after the n1 = sum a_i whole slots (`ends`: their
running sums). A shot is 12 bits of a xoshiro256+ number (five shots a number, its top 60 bits; the weak
lowest bits are never used): a slot j < n1 is slots[j], one load and no comparison of weights. A slot in the
residual region (at most 256 / 4,096 of the mass, ~2.8% for the benchmark's 8-qubit circuits; the table fills
it with outcome 0, so that the shot loop counts every shot without a branch and takes these back) is put aside
and placed after the block: 50 fresh bits place it within the region, and the `guide` (how many remainders
end before each residual slot) leaves at most four running sums to compare, branch-free (a binary search
when a slot holds more). The distribution drawn is the weights' exactly, as with the alias method.

Why not the alias method for these rows: its table is a sequential pairing pass and its shot a threshold
comparison and a select, ~1.45 ns; here a shot that hits a whole slot is ~0.5 ns and the table is one
64-byte store an outcome (one thread, 8 qubits, 50 rows in cache, 2026-12-02: 1,000 shots ~1.9-2.1 us a
row against the alias sampler's ~2.8 us, 10,000 shots ~10 against ~16.6 us). 2026-12-03, 2,000 of the
benchmark's rows: a 64-byte run an outcome instead of two 16-byte stores and a branch past 32 slots (which
mispredicted on the ~32 outcomes a row that own more) took the table from ~0.81 to ~0.55 us, and the branch-free
shot loop 1,000 shots from ~0.90 to ~0.70 us: 1,000 shots ~1.80 -> ~1.40 us a row, the same draws bit for bit.
Wider rows keep the alias sampler: a byte no longer names their outcomes, and 4,096 slots no longer keep their
remainders to a few percent of the mass.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .alias_kernels import _row_total, _xoshiro, frequency_table, write_frequencies

kernel = njit(cache=True, nogil=True, boundscheck=False, fastmath=False)
u64 = np.uint64

SLOT_BITS = 12  # 4,096 slots: the remainders hold at most 256 / 4,096 of a row's mass
SLOTS = 1 << SLOT_BITS
UNIT_BITS = 62 - SLOT_BITS  # a slot is 2**50 of the 2**62 a row's weights sum to
TWO62 = 4611686018427387904.0
BLOCK_WORDS = 1024  # random numbers between two resolutions of the put-aside shots (5 shots each)
ALL_ONES = 0xFFFFFFFFFFFFFFFF
# Weights are p 2**62 (1 + 2**-40): one that rounding left a hair under a slot boundary (p = 1/256 - 1 ulp) is then a
# hair over it, not a remainder of almost a whole slot in the residual region; the excess comes off one weight.
UP = 1.0 + 2.0 ** -40
NEAR = 1 << 23  # weights that sum within this of 2**62 are a normalized row's (|total - 1| < 2**-39)


def table_scratch(n_outcomes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(w, ends, guide, slots) for direct_table: weights, running remainders (padded), guide, slot outcomes (padded)."""
    return (np.empty(n_outcomes, dtype=np.uint64), np.empty(n_outcomes + 4, dtype=np.uint64),
            np.empty(n_outcomes + 2, dtype=np.uint16), np.empty(SLOTS + 128, dtype=np.uint8))


@kernel
def _weights(p: np.ndarray, total: float, w: np.ndarray) -> tuple[np.uint64, bool]:  # pragma: no cover - compiled
    """w_i = floor(max(p_i, 0) / total 2**62 UP) (p_i 2**62 UP when total is 1: no division); returns (their sum,
    whether a weight is NaN or above 1.0001 2**62)."""
    acc = u64(0)
    odd = False
    limit = TWO62 * 1.0001
    scale = TWO62 * UP
    for i in range(p.shape[0]):
        x = p[i] * scale if total == 1.0 else p[i] / total * scale  # divided: a 1e-300 row has no finite scale / total
        odd |= not (x <= limit)  # NaN, or a weight the int64 conversion would not hold
        wi = u64(np.int64(min(max(x, 0.0), limit)))
        w[i] = wi
        acc += wi
    return acc, odd


@kernel
def direct_table(p: np.ndarray, w: np.ndarray, ends: np.ndarray, guide: np.ndarray,
                 slots: np.ndarray) -> np.int64:  # pragma: no cover - compiled
    """The table of row p (at most 256 entries): returns n1, the whole slots, or -1 when p has a NaN or
    does not sum to a positive finite number. Then w holds the weights, slots[:n1] the whole slots' outcomes,
    slots[n1:SLOTS] zeros, ends[:K] the running remainders (ends[K:K+4] above any of them) and guide[s] the
    remainders that end before residual slot s."""
    size = p.shape[0]
    cap = u64(1) << u64(62)
    acc, odd = _weights(p, 1.0, w)
    if odd or acc < cap - u64(NEAR) or acc > cap + u64(NEAR):  # not normalized: scaled by its own total
        total = _row_total(p)
        if not (total > 0.0 and total < math.inf):
            return np.int64(-1)
        acc, odd = _weights(p, total, w)
        if odd or acc == u64(0):
            return np.int64(-1)
    if acc > cap:  # the excess (< 2**23: UP's 2**22 and rounding) comes off the first weight that holds it
        ex = acc - cap
        for i in range(size):
            if w[i] >= ex:
                w[i] -= ex
                break
    for i in range(size + 2):
        guide[i] = 0
    low = (u64(1) << u64(UNIT_BITS)) - u64(1)
    pos = u64(0)
    racc = u64(0)
    for i in range(size):
        x = w[i]
        a = x >> u64(UNIT_BITS)
        racc += x & low
        ends[i] = racc
        guide[(racc >> u64(UNIT_BITS)) + u64(1)] = i + 1  # the last remainder ending in each slot, for the prefix max
        v = np.uint8(i)
        for t in range(64):  # one 64-byte run (two 32-byte stores) whatever a is: a later run overwrites the spill,
            slots[pos + u64(t)] = v  # and the 1 in 17 outcomes that own more than 64 slots take the branch
        if a > u64(64):
            k = u64(64)
            while k < a:
                for t in range(64):
                    slots[pos + k + u64(t)] = v
                k += u64(64)
        pos += a
    k = pos
    while k < u64(SLOTS):  # the residual region reads as outcome 0: sample_rows takes its shots back off
        for t in range(32):
            slots[k + u64(t)] = np.uint8(0)
        k += u64(32)
    for t in range(4):
        ends[size + t] = u64(ALL_ONES)
    m = guide[0]
    for s in range(1, u64(SLOTS) - pos + u64(2)):  # the running max in a register, not reloaded from guide
        m = max(m, guide[s])
        guide[s] = m
    return np.int64(pos)


@kernel
def _place(j: np.uint64, n1: np.uint64, y: np.uint64, ends: np.ndarray, guide: np.ndarray,
           size: int) -> np.uint64:  # pragma: no cover - compiled
    """The outcome of residual slot j placed by the top 50 bits of y; `size` when it falls past the total."""
    s = j - n1
    v = (s << u64(UNIT_BITS)) | (y >> u64(64 - UNIT_BITS))
    g = u64(guide[s])
    if u64(guide[s + u64(1)]) - g <= u64(4):
        return (g + u64(v >= ends[g]) + u64(v >= ends[g + u64(1)]) + u64(v >= ends[g + u64(2)])
                + u64(v >= ends[g + u64(3)]))
    o = u64(0)
    step = u64(size >> 1)
    while step > u64(0):  # the smallest i with ends[i] > v
        o += step * u64(ends[o + step - u64(1)] <= v)
        step >>= u64(1)
    return o + u64(ends[o] <= v)


@kernel
def sample_rows(probs: np.ndarray, shots: int, states: np.ndarray, counts: np.ndarray,
                frequencies: bool) -> int:  # pragma: no cover - compiled
    """counts[r] = a multinomial(shots, probs[r] / sum) draw from the xoshiro256+ state states[r], for rows
    of 2 to 256 outcomes; with `frequencies`, probs[r] is then overwritten by counts[r] / shots. Returns
    the first row whose probabilities are not finite or do not sum to a positive number, or -1."""
    b, size = probs.shape
    w = np.empty(size, dtype=np.uint64)
    ends = np.empty(size + 4, dtype=np.uint64)
    guide = np.empty(size + 2, dtype=np.uint16)
    slots = np.empty(SLOTS + 128, dtype=np.uint8)
    second_row = np.empty(size, dtype=np.int64)  # counts of each number's 2nd and 4th shot: no chain of increments
    aside = np.empty(5 * BLOCK_WORDS + 8, dtype=np.uint64)
    lut = frequency_table(shots, b * size if frequencies else 0)
    mask = u64(SLOTS - 1)
    words = shots // 5
    for r in range(b):
        n1s = direct_table(probs[r], w, ends, guide, slots)
        if n1s < 0:
            return r
        n1 = u64(n1s)
        row = counts[r]
        for i in range(size):
            row[i] = 0
            second_row[i] = 0
        st = states[r]
        s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
        done = 0
        total_aside = np.int64(0)
        tail = shots - 5 * words
        while done < words or (tail > 0 and done == words):
            nw = min(words - done, BLOCK_WORDS)
            na = u64(0)
            for _ in range(nw):  # five shots a number, branch-free: every shot counts its slot's outcome (a residual
                # slot reads 0, taken back at the end) and is written to `aside`, which keeps it only past the whole
                # slots (a branch there mispredicted on ~3% of shots: ~15% of the loop). A row mostly on one outcome
                # would chain its increments through one count (~5 cycles each): the second and fourth shots count
                # into `second_row`, added at the end
                x, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                for q in range(5):
                    j = (x >> u64(52 - 12 * q)) & mask
                    aside[na] = j
                    na += u64(j >= n1)
                    if q % 2:
                        second_row[slots[j]] += 1
                    else:
                        row[slots[j]] += 1
            done += nw
            if done == words and tail > 0:
                x, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                for q in range(tail):
                    j = (x >> u64(52 - 12 * q)) & mask
                    aside[na] = j
                    na += u64(j >= n1)
                    row[slots[j]] += 1
                tail = 0
            total_aside += np.int64(na)
            for t in range(na):  # the residual slots, placed by fresh bits of the same stream
                j = aside[t]
                while True:
                    if j < n1:  # a shot drawn again that hit a whole slot
                        o = u64(slots[j])
                        break
                    y, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    o = _place(j, n1, y, ends, guide, size)
                    if o < u64(size):
                        break
                    y, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)  # past the row's total (< 2**-40 of it): again
                    j = y >> u64(52)
                row[o] += 1
        for i in range(size):
            row[i] += second_row[i]
        row[0] -= total_aside  # the residual shots the loop counted as outcome 0, placed since
        if frequencies:
            write_frequencies(row, shots, lut, probs[r])
    return -1
