"""Compiled inner loops (numba, nogil): forward and adjoint passes over a `Program` (program.py), one call per chunk.

States are (2**n, B) complex128, the batch innermost. Gate matrices are built here, per row, from
the (B, K) angle matrix; one-qubit matrices are 4-tuples (m00, m01, m10, m11).

The adjoint pass (Jones & Gacon 2020, "Efficient calculation of gradients in classical simulations
of variational quantum algorithms") starts from psi and lambda = H psi, H = sum_i c_i Z_i per row,
and walks the program backwards: for each run it un-computes psi and lambda by M^dagger and, when
the run holds a trainable gate, accumulates R[a, b] = sum over pairs of conj(lambda_a) phi_b (phi
the state before the run) in the same pass; each gate's derivative is then 2 Re sum M'_j[a, b]
R[a, b] with M'_j the run's product with gate j replaced by its derivative, a 2x2 computation.

The kernels release the GIL, so two threads simulate two chunks at once. Imported lazily so that
start-up does not pay numba's import.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .program import (  # noqa: F401 - the codes are compile-time constants for numba
    FIXED1, FIXED2, GATE2, GPI, GPI2, MS, PAIR1, PERM, RUN1, RX, RY, RZ, XX, YY, ZZ, ZZ_TURNS,
)

_TAU = 2.0 * math.pi
_R2 = 1.0 / math.sqrt(2.0)
M2 = tuple[complex, complex, complex, complex]  # a one-qubit matrix (m00, m01, m10, m11)
kernel = njit(cache=True, nogil=True, boundscheck=False, fastmath=False)


@kernel
def gate1(code: int, a: float, fixed1: np.ndarray, fidx: int) -> M2:  # pragma: no cover - compiled
    """The 2x2 matrix of a one-qubit gate at angle a (radians for QIS, turns for native)."""
    if code == RX:
        c, s = math.cos(0.5 * a), math.sin(0.5 * a)
        return complex(c, 0.0), complex(0.0, -s), complex(0.0, -s), complex(c, 0.0)
    if code == RY:
        c, s = math.cos(0.5 * a), math.sin(0.5 * a)
        return complex(c, 0.0), complex(-s, 0.0), complex(s, 0.0), complex(c, 0.0)
    if code == RZ:
        c, s = math.cos(0.5 * a), math.sin(0.5 * a)
        return complex(c, -s), 0j, 0j, complex(c, s)
    if code == GPI:
        c, s = math.cos(_TAU * a), math.sin(_TAU * a)
        return 0j, complex(c, -s), complex(c, s), 0j
    if code == GPI2:
        c, s = math.cos(_TAU * a), math.sin(_TAU * a)
        # -i e^{-i t} = -sin t - i cos t ; -i e^{i t} = sin t - i cos t
        return complex(_R2, 0.0), complex(-s * _R2, -c * _R2), complex(s * _R2, -c * _R2), complex(_R2, 0.0)
    m = fixed1[fidx]
    return m[0, 0], m[0, 1], m[1, 0], m[1, 1]


@kernel
def dgate1(code: int, a: float) -> M2:  # pragma: no cover - compiled
    """d gate1 / d a."""
    if code == RX:
        c, s = 0.5 * math.cos(0.5 * a), 0.5 * math.sin(0.5 * a)
        return complex(-s, 0.0), complex(0.0, -c), complex(0.0, -c), complex(-s, 0.0)
    if code == RY:
        c, s = 0.5 * math.cos(0.5 * a), 0.5 * math.sin(0.5 * a)
        return complex(-s, 0.0), complex(-c, 0.0), complex(c, 0.0), complex(-s, 0.0)
    if code == RZ:
        c, s = 0.5 * math.cos(0.5 * a), 0.5 * math.sin(0.5 * a)
        return complex(-s, -c), 0j, 0j, complex(-s, c)
    if code == GPI:
        c, s = _TAU * math.cos(_TAU * a), _TAU * math.sin(_TAU * a)
        return 0j, complex(-s, -c), complex(-s, c), 0j
    if code == GPI2:
        c, s = _TAU * math.cos(_TAU * a), _TAU * math.sin(_TAU * a)
        return 0j, complex(-c * _R2, s * _R2), complex(c * _R2, s * _R2), 0j
    return 0j, 0j, 0j, 0j


@kernel
def mul(a: M2, b: M2) -> M2:  # pragma: no cover - compiled
    """The 2x2 product a @ b of two 4-tuples."""
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3])


@kernel
def run_matrix(gates: np.ndarray, first: int, count: int, row: np.ndarray,
        fixed1: np.ndarray) -> M2:  # pragma: no cover
    """M = U_last ... U_first of a run, for one row of angles."""
    m = (1.0 + 0j, 0j, 0j, 1.0 + 0j)
    for g in range(first, first + count):
        col = gates[g, 1]
        u = gate1(gates[g, 0], row[col] if col >= 0 else 0.0, fixed1, gates[g, 2])
        m = mul(u, m)
    return m


@kernel
def run_matrices(gates: np.ndarray, first: int, count: int, angles: np.ndarray, fixed1: np.ndarray,
        out: np.ndarray, slot: int) -> bool:  # pragma: no cover - compiled
    """out[slot, :, :, k] = the run's matrix for every row k; returns whether all are diagonal."""
    diagonal = True
    for k in range(angles.shape[0]):
        m = run_matrix(gates, first, count, angles[k], fixed1)
        out[slot, 0, 0, k] = m[0]
        out[slot, 0, 1, k] = m[1]
        out[slot, 1, 0, k] = m[2]
        out[slot, 1, 1, k] = m[3]
        if m[1] != 0j or m[2] != 0j:
            diagonal = False
    return diagonal


@kernel
def gate2(code: int, row: np.ndarray, col: int, fixed2: np.ndarray, fidx: int,
        out: np.ndarray) -> None:  # pragma: no cover
    """out (4, 4) = the big-endian matrix of a two-qubit gate for one row of angles."""
    out[:, :] = 0j
    if code == FIXED2:
        out[:, :] = fixed2[fidx]
        return
    if code == ZZ or code == ZZ_TURNS:
        t = 0.5 * row[col] if code == ZZ else math.pi * row[col]
        e_m, e_p = complex(math.cos(t), -math.sin(t)), complex(math.cos(t), math.sin(t))
        out[0, 0], out[1, 1], out[2, 2], out[3, 3] = e_m, e_p, e_p, e_m
        return
    if code == XX or code == YY:
        c, s = math.cos(0.5 * row[col]), math.sin(0.5 * row[col])
        for i in range(4):
            out[i, i] = c
        sy = -1.0 if code == YY else 1.0
        out[0, 3] = complex(0.0, -s * sy)
        out[1, 2] = complex(0.0, -s)
        out[2, 1] = complex(0.0, -s)
        out[3, 0] = complex(0.0, -s * sy)
        return
    # MS(phi0, phi1, theta), turns
    p0, p1, th = row[col], row[col + 1], row[col + 2]
    c, s = math.cos(math.pi * th), math.sin(math.pi * th)
    ps = complex(math.cos(_TAU * (p0 + p1)), math.sin(_TAU * (p0 + p1)))
    pd = complex(math.cos(_TAU * (p0 - p1)), math.sin(_TAU * (p0 - p1)))
    for i in range(4):
        out[i, i] = c
    mi = complex(0.0, -s)
    out[0, 3] = mi * ps.conjugate()
    out[1, 2] = mi * pd.conjugate()
    out[2, 1] = mi * pd
    out[3, 0] = mi * ps


@kernel
def dgate2(code: int, row: np.ndarray, col: int, p: float, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out (4, 4) = d gate2 / d (its parameter p)."""
    out[:, :] = 0j
    if code == ZZ or code == ZZ_TURNS:
        k = 0.5 if code == ZZ else math.pi
        t = k * row[col]
        d_m = complex(-math.sin(t), -math.cos(t)) * k  # d/dx e^{-i k x}
        d_p = complex(-math.sin(t), math.cos(t)) * k
        out[0, 0], out[1, 1], out[2, 2], out[3, 3] = d_m, d_p, d_p, d_m
        return
    if code == XX or code == YY:
        c, s = 0.5 * math.cos(0.5 * row[col]), 0.5 * math.sin(0.5 * row[col])
        for i in range(4):
            out[i, i] = -s
        sy = -1.0 if code == YY else 1.0
        out[0, 3] = complex(0.0, -c * sy)
        out[1, 2] = complex(0.0, -c)
        out[2, 1] = complex(0.0, -c)
        out[3, 0] = complex(0.0, -c * sy)
        return
    if code != MS:
        return
    p0, p1, th = row[col], row[col + 1], row[col + 2]
    c, s = math.cos(math.pi * th), math.sin(math.pi * th)
    ps = complex(math.cos(_TAU * (p0 + p1)), math.sin(_TAU * (p0 + p1)))
    pd = complex(math.cos(_TAU * (p0 - p1)), math.sin(_TAU * (p0 - p1)))
    if p == 2:
        dc, ds = -math.pi * s, math.pi * c
        for i in range(4):
            out[i, i] = dc
        mi = complex(0.0, -ds)
        out[0, 3] = mi * ps.conjugate()
        out[1, 2] = mi * pd.conjugate()
        out[2, 1] = mi * pd
        out[3, 0] = mi * ps
        return
    # d/dphi0: ps and pd both gain i tau; d/dphi1: ps gains i tau, pd gains -i tau
    sd = 1.0 if p == 0 else -1.0
    mi = complex(0.0, -s)
    it = complex(0.0, _TAU)
    out[0, 3] = mi * ps.conjugate() * (-it)
    out[1, 2] = mi * pd.conjugate() * (-it * sd)
    out[2, 1] = mi * pd * (it * sd)
    out[3, 0] = mi * ps * it


@kernel
def _pass1(psi: np.ndarray, mats: np.ndarray, slot: int, q: int, cmask: int,
        diagonal: bool) -> None:  # pragma: no cover
    """Apply mats[slot] (2, 2, B) to qubit q where the controls in cmask are all 1."""
    size, b = psi.shape
    lo = 1 << q
    for idx in range(size // 2):
        i0 = ((idx >> q) << (q + 1)) | (idx & (lo - 1))
        if (i0 & cmask) != cmask:
            continue
        i1 = i0 | lo
        if diagonal:
            for k in range(b):
                psi[i0, k] *= mats[slot, 0, 0, k]
                psi[i1, k] *= mats[slot, 1, 1, k]
        else:
            for k in range(b):
                a0 = psi[i0, k]
                a1 = psi[i1, k]
                psi[i0, k] = mats[slot, 0, 0, k] * a0 + mats[slot, 0, 1, k] * a1
                psi[i1, k] = mats[slot, 1, 0, k] * a0 + mats[slot, 1, 1, k] * a1


@kernel
def _pass_pair(psi: np.ndarray, mats: np.ndarray, qa: int, qb: int) -> None:  # pragma: no cover - compiled
    """mats[0] on qa and mats[1] on qb in one pass over the state (each quad read and written once)."""
    size, b = psi.shape
    lo_q, hi_q = min(qa, qb), max(qa, qb)
    ba, bb = 1 << qa, 1 << qb
    for idx in range(size // 4):
        low = idx & ((1 << lo_q) - 1)
        base = low | ((idx >> lo_q) << (lo_q + 1))
        low2 = base & ((1 << hi_q) - 1)
        base = low2 | ((base >> hi_q) << (hi_q + 1))
        i00, i01, i10, i11 = base, base | bb, base | ba, base | ba | bb
        for k in range(b):
            a00 = psi[i00, k]
            a01 = psi[i01, k]
            a10 = psi[i10, k]
            a11 = psi[i11, k]
            b00, b01, b10, b11 = mats[1, 0, 0, k], mats[1, 0, 1, k], mats[1, 1, 0, k], mats[1, 1, 1, k]
            c00 = b00 * a00 + b01 * a01
            c01 = b10 * a00 + b11 * a01
            c10 = b00 * a10 + b01 * a11
            c11 = b10 * a10 + b11 * a11
            m00, m01, m10, m11 = mats[0, 0, 0, k], mats[0, 0, 1, k], mats[0, 1, 0, k], mats[0, 1, 1, k]
            psi[i00, k] = m00 * c00 + m01 * c10
            psi[i10, k] = m10 * c00 + m11 * c10
            psi[i01, k] = m00 * c01 + m01 * c11
            psi[i11, k] = m10 * c01 + m11 * c11


@kernel
def _quad_indices(idx: int, qa: int, qb: int) -> tuple[int, int, int, int]:  # pragma: no cover - compiled
    lo_q, hi_q = min(qa, qb), max(qa, qb)
    low = idx & ((1 << lo_q) - 1)
    base = low | ((idx >> lo_q) << (lo_q + 1))
    low2 = base & ((1 << hi_q) - 1)
    base = low2 | ((base >> hi_q) << (hi_q + 1))
    ba, bb = 1 << qa, 1 << qb
    return base, base | bb, base | ba, base | ba | bb


@kernel
def _pass2(psi: np.ndarray, m4: np.ndarray, qa: int, qb: int) -> None:  # pragma: no cover - compiled
    """m4 (4, 4, B) on (qa, qb), qa the most significant."""
    size, b = psi.shape
    for idx in range(size // 4):
        i0, i1, i2, i3 = _quad_indices(idx, qa, qb)
        for k in range(b):
            a0 = psi[i0, k]
            a1 = psi[i1, k]
            a2 = psi[i2, k]
            a3 = psi[i3, k]
            psi[i0, k] = m4[0, 0, k] * a0 + m4[0, 1, k] * a1 + m4[0, 2, k] * a2 + m4[0, 3, k] * a3
            psi[i1, k] = m4[1, 0, k] * a0 + m4[1, 1, k] * a1 + m4[1, 2, k] * a2 + m4[1, 3, k] * a3
            psi[i2, k] = m4[2, 0, k] * a0 + m4[2, 1, k] * a1 + m4[2, 2, k] * a2 + m4[2, 3, k] * a3
            psi[i3, k] = m4[3, 0, k] * a0 + m4[3, 1, k] * a1 + m4[3, 2, k] * a2 + m4[3, 3, k] * a3


@kernel
def _gate2_matrices(gates: np.ndarray, g: int, angles: np.ndarray, fixed2: np.ndarray, m4: np.ndarray,
        tmp4: np.ndarray) -> None:  # pragma: no cover - compiled
    for k in range(angles.shape[0]):
        gate2(gates[g, 0], angles[k], gates[g, 1], fixed2, gates[g, 2], tmp4)
        for i in range(4):
            for j in range(4):
                m4[i, j, k] = tmp4[i, j]


@kernel
def forward(n: int, ins: np.ndarray, gates: np.ndarray, prefix: np.ndarray, fixed1: np.ndarray, fixed2: np.ndarray,
        perm_src: np.ndarray, perm_phase: np.ndarray, angles: np.ndarray, psi: np.ndarray, tmp: np.ndarray,
        mats: np.ndarray, m4: np.ndarray, tmp4: np.ndarray, from_initial: bool) -> np.ndarray:
    """Final states into psi or tmp (2**n, B); returns the one that holds them.

    The circuit starts from |0...0> (the prefix as a product state, no full-state pass), or with
    from_initial from the states psi holds. Scratch: tmp like psi, mats (2, 2, 2, B), m4 (4, 4, B),
    tmp4 (4, 4).
    """  # pragma: no cover - compiled
    b = angles.shape[0]
    if from_initial:
        for q in range(n):
            if prefix[q, 1]:
                diagonal = run_matrices(gates, prefix[q, 0], prefix[q, 1], angles, fixed1, mats, 0)
                _pass1(psi, mats, 0, q, 0, diagonal)
    else:
        for k in range(b):
            psi[0, k] = 1.0
        size = 1
        for q in range(n):
            run_matrices(gates, prefix[q, 0], prefix[q, 1], angles, fixed1, mats, 0)
            for idx in range(size):
                for k in range(b):
                    a = psi[idx, k]
                    psi[idx + size, k] = a * mats[0, 1, 0, k]
                    psi[idx, k] = a * mats[0, 0, 0, k]
            size *= 2
    cur, other = psi, tmp
    i = 0
    n_ins = ins.shape[0]
    while i < n_ins:
        kind = ins[i, 0]
        if kind == PAIR1:
            r0, r1 = ins[i + 1], ins[i + 2]
            run_matrices(gates, r0[3], r0[4], angles, fixed1, mats, 0)
            run_matrices(gates, r1[3], r1[4], angles, fixed1, mats, 1)
            _pass_pair(cur, mats, r0[1], r1[1])
            i += 3
            continue
        if kind == RUN1:
            diagonal = run_matrices(gates, ins[i, 3], ins[i, 4], angles, fixed1, mats, 0)
            _pass1(cur, mats, 0, ins[i, 1], ins[i, 2], diagonal)
        elif kind == PERM:
            p = ins[i, 1]
            src = perm_src[p]
            if ins[i, 2]:
                ph = perm_phase[p]
                for j in range(cur.shape[0]):
                    s = src[j]
                    for k in range(b):
                        other[j, k] = cur[s, k] * ph[j]
            else:
                for j in range(cur.shape[0]):
                    s = src[j]
                    for k in range(b):
                        other[j, k] = cur[s, k]
            cur, other = other, cur
        elif kind == GATE2:
            _gate2_matrices(gates, ins[i, 3], angles, fixed2, m4, tmp4)
            _pass2(cur, m4, ins[i, 1], ins[i, 2])
        i += 1
    return cur


@kernel
def _back1(psi: np.ndarray, lam: np.ndarray, mats: np.ndarray, q: int, cmask: int, want_r: bool,
        r: np.ndarray) -> None:  # pragma: no cover
    """psi, lam <- M^dagger psi, M^dagger lam on qubit q; r (2, 2, B) += conj(lam_a) (M^dagger psi)_b."""
    size, b = psi.shape
    lo = 1 << q
    for idx in range(size // 2):
        i0 = ((idx >> q) << (q + 1)) | (idx & (lo - 1))
        if (i0 & cmask) != cmask:
            continue
        i1 = i0 | lo
        for k in range(b):
            h00 = mats[0, 0, 0, k].conjugate()
            h01 = mats[0, 1, 0, k].conjugate()
            h10 = mats[0, 0, 1, k].conjugate()
            h11 = mats[0, 1, 1, k].conjugate()
            p0 = psi[i0, k]
            p1 = psi[i1, k]
            l0 = lam[i0, k]
            l1 = lam[i1, k]
            f0 = h00 * p0 + h01 * p1
            f1 = h10 * p0 + h11 * p1
            psi[i0, k] = f0
            psi[i1, k] = f1
            lam[i0, k] = h00 * l0 + h01 * l1
            lam[i1, k] = h10 * l0 + h11 * l1
            if want_r:
                c0 = l0.conjugate()
                c1 = l1.conjugate()
                r[0, 0, k] += c0 * f0
                r[0, 1, k] += c0 * f1
                r[1, 0, k] += c1 * f0
                r[1, 1, k] += c1 * f1


@kernel
def _run_derivatives(gates: np.ndarray, first: int, count: int, angles: np.ndarray, fixed1: np.ndarray,
        r: np.ndarray, us: np.ndarray, dangle: np.ndarray) -> None:  # pragma: no cover - compiled
    """dangle[k, col_j] += 2 Re sum M'_j[a, b] r[a, b, k] for every trainable gate j of the run."""
    for k in range(angles.shape[0]):
        row = angles[k]
        for j in range(count):
            g = first + j
            col = gates[g, 1]
            u = gate1(gates[g, 0], row[col] if col >= 0 else 0.0, fixed1, gates[g, 2])
            us[j, 0], us[j, 1], us[j, 2], us[j, 3] = u
        left = (1.0 + 0j, 0j, 0j, 1.0 + 0j)  # U_{j-1} ... U_0
        for j in range(count):
            g = first + j
            if gates[g, 3]:
                col = gates[g, 1]
                d = mul(dgate1(gates[g, 0], row[col]), left)
                for i in range(j + 1, count):
                    d = mul((us[i, 0], us[i, 1], us[i, 2], us[i, 3]), d)
                s = d[0] * r[0, 0, k] + d[1] * r[0, 1, k] + d[2] * r[1, 0, k] + d[3] * r[1, 1, k]
                dangle[k, col] += 2.0 * s.real
            left = mul((us[j, 0], us[j, 1], us[j, 2], us[j, 3]), left)


@kernel
def _back_run(psi: np.ndarray, lam: np.ndarray, gates: np.ndarray, first: int, count: int, q: int, cmask: int,
        needs: bool, angles: np.ndarray, fixed1: np.ndarray, mats: np.ndarray, r: np.ndarray, us: np.ndarray,
        dangle: np.ndarray) -> None:
    """One run backwards: un-compute psi and lam, and the run's derivatives when it needs them."""  # pragma: no cover
    run_matrices(gates, first, count, angles, fixed1, mats, 0)
    if needs:
        r[:, :, :] = 0j
    _back1(psi, lam, mats, q, cmask, needs, r)
    if needs:
        _run_derivatives(gates, first, count, angles, fixed1, r, us, dangle)


@kernel
def _back2(psi: np.ndarray, lam: np.ndarray, m4: np.ndarray, qa: int, qb: int, want_r: bool,
        r4: np.ndarray) -> None:  # pragma: no cover
    size, b = psi.shape
    for idx in range(size // 4):
        i0, i1, i2, i3 = _quad_indices(idx, qa, qb)
        for k in range(b):
            ps = (psi[i0, k], psi[i1, k], psi[i2, k], psi[i3, k])
            ls = (lam[i0, k], lam[i1, k], lam[i2, k], lam[i3, k])
            for a in range(4):
                f = 0j
                lv = 0j
                for c in range(4):
                    h = m4[c, a, k].conjugate()
                    f += h * ps[c]
                    lv += h * ls[c]
                ia = i0 if a == 0 else (i1 if a == 1 else (i2 if a == 2 else i3))
                psi[ia, k] = f
                lam[ia, k] = lv
            if want_r:
                for a in range(4):
                    ca = ls[a].conjugate()
                    for c in range(4):
                        # phi_c, the state before the gate, is what was just written
                        ic = i0 if c == 0 else (i1 if c == 1 else (i2 if c == 2 else i3))
                        r4[a, c, k] += ca * psi[ic, k]


@kernel
def backward(n: int, ins: np.ndarray, gates: np.ndarray, prefix: np.ndarray, fixed1: np.ndarray,
        fixed2: np.ndarray, perm_src: np.ndarray, perm_phase: np.ndarray, angles: np.ndarray, psi: np.ndarray,
        lam: np.ndarray, tmp_psi: np.ndarray, tmp_lam: np.ndarray, signs: np.ndarray, cot: np.ndarray,
        stop_at: int, mats: np.ndarray, r: np.ndarray, us: np.ndarray, m4: np.ndarray, r4: np.ndarray,
        tmp4: np.ndarray, dangle: np.ndarray) -> None:
    """dangle (B, K) += d/d angle of sum_i cot[k, i] <Z_i>_k, for every trainable angle.

    psi holds the final states (destroyed); lam, tmp_* are scratch like psi; signs (2**n, n) the Z
    signs; stop_at the first instruction that still holds a trainable gate (the walk ends there
    unless the prefix holds one too, marked by stop_at = -1).
    """  # pragma: no cover - compiled
    size, b = psi.shape
    for j in range(size):
        for k in range(b):
            h = 0.0
            for i in range(n):
                h += cot[k, i] * signs[j, i]
            lam[j, k] = h * psi[j, k]
    cur_p, oth_p, cur_l, oth_l = psi, tmp_psi, lam, tmp_lam
    lo = stop_at if stop_at >= 0 else 0
    for i in range(ins.shape[0] - 1, lo - 1, -1):
        kind = ins[i, 0]
        if kind == RUN1:
            _back_run(cur_p, cur_l, gates, ins[i, 3], ins[i, 4], ins[i, 1], ins[i, 2], ins[i, 5], angles, fixed1,
                      mats, r, us, dangle)
        elif kind == PERM:
            p = ins[i, 1]
            src = perm_src[p]
            ph = perm_phase[p]
            has_phase = ins[i, 2]
            for j in range(size):
                s = src[j]
                if has_phase:
                    c = ph[j].conjugate()
                    for k in range(b):
                        oth_p[s, k] = cur_p[j, k] * c
                        oth_l[s, k] = cur_l[j, k] * c
                else:
                    for k in range(b):
                        oth_p[s, k] = cur_p[j, k]
                        oth_l[s, k] = cur_l[j, k]
            cur_p, oth_p = oth_p, cur_p
            cur_l, oth_l = oth_l, cur_l
        elif kind == GATE2:
            g = ins[i, 3]
            needs = ins[i, 5]
            _gate2_matrices(gates, g, angles, fixed2, m4, tmp4)
            if needs:
                r4[:, :, :] = 0j
            _back2(cur_p, cur_l, m4, ins[i, 1], ins[i, 2], needs, r4)
            if needs:
                code, col = gates[g, 0], gates[g, 1]
                n_par = 3 if code == MS else 1
                for k in range(b):
                    for p in range(n_par):
                        dgate2(code, angles[k], col, p, tmp4)
                        s = 0j
                        for a in range(4):
                            for c in range(4):
                                s += tmp4[a, c] * r4[a, c, k]
                        dangle[k, col + p] += 2.0 * s.real
    if stop_at < 0:
        for q in range(n):
            first, count = prefix[q, 0], prefix[q, 1]
            needs = False
            for g in range(first, first + count):
                if gates[g, 3]:
                    needs = True
            if needs:
                _back_run(cur_p, cur_l, gates, first, count, q, 0, True, angles, fixed1, mats, r, us, dangle)


ABS2_TILE = 8  # float64s in a 64-byte line; 4 and 16 measured slower at 8 and 14 qubits


@kernel
def abs2_transposed(psi: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[k, i] = |psi[i, k]|^2: probabilities in (B, 2**n) order.

    Eight amplitudes at a time, one output cache line per row: writing one column of `out` at a time put
    each write in a different line, 2**n * 8 bytes apart, so a chunk's lines fought over a few L1 sets
    (8 qubits x 50 rows, alone: 45 us against 7-10 us; the whole exact path, interleaved: ~6% faster).
    """
    n, b = psi.shape
    full = n - n % ABS2_TILE
    for i0 in range(0, full, ABS2_TILE):
        for k in range(b):
            for di in range(ABS2_TILE):
                v = psi[i0 + di, k]
                out[k, i0 + di] = v.real * v.real + v.imag * v.imag
    for i in range(full, n):
        for k in range(b):
            v = psi[i, k]
            out[k, i] = v.real * v.real + v.imag * v.imag
