"""Compiled inner loops (numba, nogil): one pass over the state per fused one-qubit gate.

numpy needs six passes and two temporaries for the same update; these kernels read and write
each amplitude once, in place, and release the GIL so two threads simulate two halves of a
batch at once. Imported lazily by statevector.py so that start-up does not pay numba's import.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, boundscheck=False)
def apply_1q(psi, m, q):  # pragma: no cover - compiled
    """psi (2**n, B) complex128 in place; m (2, 2, B): one 2x2 matrix per batch row; q the qubit."""
    n, b = psi.shape
    lo = 1 << q
    for idx in range(n // 2):
        i0 = ((idx >> q) << (q + 1)) | (idx & (lo - 1))
        i1 = i0 | lo
        for k in range(b):
            a0 = psi[i0, k]
            a1 = psi[i1, k]
            psi[i0, k] = m[0, 0, k] * a0 + m[0, 1, k] * a1
            psi[i1, k] = m[1, 0, k] * a0 + m[1, 1, k] * a1


@njit(cache=True, nogil=True, boundscheck=False)
def apply_1q_diag(psi, m, q):  # pragma: no cover - compiled
    """Diagonal m: scale the |0> and |1> halves of qubit q, in place."""
    n, b = psi.shape
    lo = 1 << q
    for idx in range(n // 2):
        i0 = ((idx >> q) << (q + 1)) | (idx & (lo - 1))
        i1 = i0 | lo
        for k in range(b):
            psi[i0, k] *= m[0, 0, k]
            psi[i1, k] *= m[1, 1, k]


@njit(cache=True, nogil=True, boundscheck=False)
def gather_rows(psi, src, out):  # pragma: no cover - compiled
    """out[i] = psi[src[i]]: a monomial block's permutation."""
    n, b = psi.shape
    for i in range(n):
        s = src[i]
        for k in range(b):
            out[i, k] = psi[s, k]


@njit(cache=True, nogil=True, boundscheck=False)
def abs2_transposed(psi, out):  # pragma: no cover - compiled
    """out[k, i] = |psi[i, k]|^2: probabilities in (B, 2**n) order."""
    n, b = psi.shape
    for i in range(n):
        for k in range(b):
            v = psi[i, k]
            out[k, i] = v.real * v.real + v.imag * v.imag


@njit(cache=True, nogil=True, boundscheck=False)
def apply_2q(psi, m, qa, qb):  # pragma: no cover - compiled
    """A (4, 4, B) matrix per batch column on qubits (qa, qb), qa the most significant, in place."""
    n, b = psi.shape
    lo_q, hi_q = min(qa, qb), max(qa, qb)
    ba, bb = 1 << qa, 1 << qb
    for idx in range(n // 4):
        # insert zero bits at lo_q then hi_q
        low = idx & ((1 << lo_q) - 1)
        rest = idx >> lo_q
        base = low | (rest << (lo_q + 1))
        low2 = base & ((1 << hi_q) - 1)
        base = low2 | ((base >> hi_q) << (hi_q + 1))
        i0 = base
        i1 = base | bb
        i2 = base | ba
        i3 = base | ba | bb
        for k in range(b):
            a0 = psi[i0, k]
            a1 = psi[i1, k]
            a2 = psi[i2, k]
            a3 = psi[i3, k]
            psi[i0, k] = m[0, 0, k] * a0 + m[0, 1, k] * a1 + m[0, 2, k] * a2 + m[0, 3, k] * a3
            psi[i1, k] = m[1, 0, k] * a0 + m[1, 1, k] * a1 + m[1, 2, k] * a2 + m[1, 3, k] * a3
            psi[i2, k] = m[2, 0, k] * a0 + m[2, 1, k] * a1 + m[2, 2, k] * a2 + m[2, 3, k] * a3
            psi[i3, k] = m[3, 0, k] * a0 + m[3, 1, k] * a1 + m[3, 2, k] * a2 + m[3, 3, k] * a3


@njit(cache=True, nogil=True, boundscheck=False)
def apply_diag_2q(psi, d, qa, qb):  # pragma: no cover - compiled
    """A diagonal (4, B) per batch column on qubits (qa, qb), qa the most significant, in place."""
    n, b = psi.shape
    for i in range(n):
        j = (((i >> qa) & 1) << 1) | ((i >> qb) & 1)
        for k in range(b):
            psi[i, k] *= d[j, k]
