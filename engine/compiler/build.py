"""The compile-time pipeline for one template and target (see native.py for the stages).

State: per wire, the runs of one-qubit factors between cores (`segs`) and the cores on it
(`wcores`); the cores themselves; the wire relabelling from SWAPs; and, once mapped, each core's
per-wire basis change (`sides`). `program()` turns it into the arrays `bind` needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from ..circuits.gates import QIS_GATES, gpi2
from ..circuits.template import Op, Template
from .abstract import Affine, Cond, Core, Factor, Fixed, Rot, append_factor, pauli
from .controlled import CoreEvent, FactorEvent, SwapEvent
from .onequbit import (
    GENERAL, GPI2, Axis, PULSE_NAMES, PULSES, RunShape, axis_matrix, conj_axis, frame_to, matrix_class,
    parallel, reduce_rotation_angle, rotation, run_class, synthesize,
)
from .program import Program, SlotMap

DENSE_SLOT_MAP = 2**20  # entries of a dense (P, E) map (8 MB); larger maps are held by their entries
from .twoqubit import MAX_CONTROLS, X_AXIS, Z_AXIS, aria_basis, aria_default, forte_basis, lower_op, normalize_turns


@dataclass
class _Side:
    """One wire of a mapped core: what goes before it, after it, and its native phase (Aria)."""

    pre: list[Factor]
    post: list[Factor]
    phase: float


def _kind(f: Factor) -> np.ndarray | str:
    """A factor as `run_class` sees it."""
    if isinstance(f, Fixed):
        return f.m
    x, y, z = f.axis
    if x * x + y * y < 1e-24:
        return "D"
    if isinstance(f, Cond) and abs(z) < 1e-12:
        return "M"
    return "G"


def _pull_back(factors: list[Factor], axis: Axis, onto: Axis) -> int:
    """+-1 if R^dagger (axis . sigma) R = +-(onto . sigma) for the run R = factors, for all parameters; else 0."""
    v: list[float] = [float(x) for x in axis]
    for f in reversed(factors):
        if isinstance(f, Fixed):
            v = [float(x) for x in conj_axis(f.m.conj().T, v)]
        elif not parallel(v, f.axis):
            return 0
    return parallel(v, onto)


class Build:
    """The compile-time state of one template for one target."""

    def __init__(self, template: Template, target: str, optimize: bool, keep_swaps: bool = False):
        self.t = template
        self.target = target
        self.optimize = optimize
        self.keep_swaps = keep_swaps
        n = template.n_qubits
        self.segs: list[list[list[Factor]]] = [[[]] for _ in range(n)]
        self.wcores: list[list[int]] = [[] for _ in range(n)]
        self.cores: list[Core | None] = []
        self.phys = list(range(n))
        self.sides: dict[int, list[_Side]] = {}
        self.param_cores: list[int] = []
        self.const_norm: dict[int, tuple[float, bool, bool]] = {}
        self.origin: list[int] = []  # the source op each core was lowered from

    def core(self, cid: int) -> Core:
        """A core still in the circuit (removed ones are None in `cores`)."""
        c = self.cores[cid]
        assert c is not None, f"core {cid} was removed"
        return c

    # -- 1. lowering ---------------------------------------------------------------------------
    def _angle(self, k: int) -> Affine:
        """Angle column k over the slots, its constant reduced exactly before anything scales it to turns: modulo
        the period of every qis rotation and of the 2**(k-1)-th root the Gray code takes with k controls, so the
        compile is the one of the angle as given. An implicit identity table is read without building it."""
        t = self.t
        if t.slot_weights is None:
            terms = [(k, 1.0)]
        else:
            col = t.slot_weights[:, k]
            terms = [(int(j), float(col[j])) for j in np.flatnonzero(col)]
        inputs = t.input_weights[:, k]
        terms += [(t.n_trainable + int(i), float(inputs[i])) for i in np.flatnonzero(inputs)]
        return Affine(tuple(terms), reduce_rotation_angle(float(t.const[k]), MAX_CONTROLS - 1))

    def lower(self) -> None:
        t = self.t
        for i, op in enumerate(t.ops):
            angle = self._angle(t.param_offsets[i]) if QIS_GATES[op.name].n_params else None
            for ev in lower_op(op, angle, self.target, self.optimize, self.keep_swaps):
                if ev[0] == "f":
                    _, wire, factor = cast(FactorEvent, ev)
                    append_factor(self.segs[self.phys[wire]][-1], factor, self.optimize)
                elif ev[0] == "c":
                    c = cast(CoreEvent, ev)[1]
                    c.a, c.b = self.phys[c.a], self.phys[c.b]
                    cid = len(self.cores)
                    self.cores.append(c)
                    self.origin.append(i)
                    for w in (c.a, c.b):
                        self.wcores[w].append(cid)
                        self.segs[w].append([])
                else:
                    _, a, b = cast(SwapEvent, ev)
                    self.phys[a], self.phys[b] = self.phys[b], self.phys[a]

    # -- 2. fusion -----------------------------------------------------------------------------
    def _remove(self, cid: int, between: dict[int, list[Factor]]) -> None:
        """Drop a core; the runs on either side join, with `between[wire]` in the middle."""
        c = self.core(cid)
        for w in (c.a, c.b):
            i = self.wcores[w].index(cid)
            self.wcores[w].pop(i)
            joined = self.segs[w][i]
            for f in between.get(w, []) + self.segs[w][i + 1]:
                append_factor(joined, f, self.optimize)
            self.segs[w][i:i + 2] = [joined]
        self.cores[cid] = None

    def _simplify(self) -> bool:
        """Cores exp(-i pi (m/2) A(x)B) are the identity or the Pauli A (x) B."""
        changed = False
        for cid, c in enumerate(self.cores):
            if c is None or not c.turns.is_const:
                continue
            m = round(2 * c.turns.const)
            if abs(2 * c.turns.const - m) < 1e-12:
                between: dict[int, list[Factor]] = {c.a: [pauli(c.axis_a)], c.b: [pauli(c.axis_b)]} if m % 2 else {}
                self._remove(cid, between)
                changed = True
        return changed

    def _fuse(self) -> bool:
        """Merge a core into the previous core on the same pair when the runs between commute through."""
        changed = False
        for cid, c in enumerate(self.cores):
            if c is None:
                continue
            ia, ib = self.wcores[c.a].index(cid), self.wcores[c.b].index(cid)
            if ia + 1 >= len(self.wcores[c.a]) or ib + 1 >= len(self.wcores[c.b]):
                continue
            nid = self.wcores[c.a][ia + 1]
            if self.wcores[c.b][ib + 1] != nid:
                continue
            nxt = self.core(nid)
            na, nb = (nxt.axis_a, nxt.axis_b) if nxt.a == c.a else (nxt.axis_b, nxt.axis_a)
            sa = _pull_back(self.segs[c.a][ia + 1], na, c.axis_a)
            sb = _pull_back(self.segs[c.b][ib + 1], nb, c.axis_b)
            if sa and sb:
                c.turns = c.turns + nxt.turns.scale(sa * sb)
                self._remove(nid, {})
                changed = True
        return changed

    def reduce(self) -> None:
        while True:
            changed = self._simplify()
            if self.optimize:
                changed = self._fuse() | changed
            if not changed:
                return

    def missing_pair(self, coupling: frozenset[frozenset[int]]) -> tuple[int, tuple[int, int]] | None:
        """(source op index, physical pair) of the first surviving core on a pair outside `coupling`."""
        for cid, c in enumerate(self.cores):
            if c is not None and frozenset((c.a, c.b)) not in coupling:
                return self.origin[cid], (min(c.a, c.b), max(c.a, c.b))
        return None

    # -- 3. native mapping ---------------------------------------------------------------------
    def _side(self, cid: int, k: int, j: np.ndarray | None) -> _Side:
        c = self.core(cid)
        axis = c.axis_a if k == 0 else c.axis_b
        if self.target == "forte":
            w, phase, fold_axis = forte_basis(axis), 0.0, Z_AXIS
        else:
            assert j is not None  # Aria sides always get a J (map_cores)
            w, phase = aria_basis(axis, j)
            fold_axis = (float(np.cos(2 * np.pi * phase)), float(np.sin(2 * np.pi * phase)), 0.0)
        sandwich = self.target == "forte" and k == 0
        pre: list[Factor] = [Fixed(w)]
        post: list[Factor] = []
        if cid in self.const_norm:
            _, fold, neg = self.const_norm[cid]
            if sandwich and neg:
                pre.append(pauli(X_AXIS))
                post.append(pauli(X_AXIS))
            if fold:
                post.append(pauli(fold_axis))
        else:
            pidx = self.param_cores.index(cid)
            if sandwich:
                pre.append(Cond(X_AXIS, pidx, "sign"))
                post.append(Cond(X_AXIS, pidx, "sign"))
            post.append(Cond(fold_axis, pidx, "fold"))
        post.append(Fixed(w.conj().T))
        return _Side(pre, post, phase)

    def _wire_side(self, cid: int, w: int) -> int:
        return 0 if self.core(cid).a == w else 1

    def run_items(self, w: int, i: int) -> list[Factor]:
        """The factors of run i on wire w: after core i-1, segment i, before core i."""
        items: list[Factor] = []
        wc = self.wcores[w]
        if i > 0:
            items += self.sides[wc[i - 1]][self._wire_side(wc[i - 1], w)].post
        items += self.segs[w][i]
        if i < len(wc):
            items += self.sides[wc[i]][self._wire_side(wc[i], w)].pre
        return items

    def map_cores(self) -> None:
        for cid, c in enumerate(self.cores):
            if c is None:
                continue
            if c.turns.is_const:
                ang, fold, neg = normalize_turns(self.target, np.asarray(c.turns.const))
                self.const_norm[cid] = (float(ang), bool(fold), bool(neg))
            else:
                self.param_cores.append(cid)
            js: list[np.ndarray | None] = [None, None]
            if self.target == "aria":
                js = [aria_default(c.axis_a), aria_default(c.axis_b)]
            self.sides[cid] = [self._side(cid, k, js[k]) for k in (0, 1)]
        if self.target == "aria" and self.optimize:
            todo = [(cid, k) for cid, c in enumerate(self.cores) if c is not None for k in (0, 1)]
            for _ in range(3):
                todo = self._choose_bases(todo)
                if not todo:
                    break

    def _derived(self, axis: Axis, pre_edge: np.ndarray | None, post_edge: np.ndarray | None) -> list[np.ndarray]:
        """Choices of J that cancel a pulse of the fixed run ends next to the core."""
        k = frame_to(axis)
        out = []
        if pre_edge is not None:
            y1 = k.conj().T @ pre_edge
            cls = matrix_class(y1)
            if cls in (GPI2, GENERAL):
                g, ph = synthesize(y1, cls)
                out.append(gpi2(ph[-1] + 0.5) @ rotation(Z_AXIS, float(-2 * np.pi * g)))
        if post_edge is not None:
            y2 = post_edge @ k
            cls = matrix_class(y2)
            if cls in (GPI2, GENERAL):
                _, ph = synthesize(y2, cls)
                out.append(gpi2(ph[0]))
        return out

    def _choose_bases(self, todo: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """One sweep of coordinate descent over the J of each (core, wire side) in `todo`.

        The runs on either side are summarized once (`RunShape`) without this core's factors, so
        trying a candidate costs a few 2x2 products. Returns the sides whose runs changed.
        """
        dirty: dict[tuple[int, int], None] = {}
        for cid, k in todo:
            c = self.core(cid)
            w, axis = (c.a, c.axis_a) if k == 0 else (c.b, c.axis_b)
            wc = self.wcores[w]
            i = wc.index(cid)
            side = self.sides[cid][k]
            before = RunShape()
            for f in self.run_items(w, i)[:-len(side.pre)]:
                before.push(_kind(f))
            after = RunShape()
            for f in reversed(self.run_items(w, i + 1)[len(side.post):]):
                after.push(_kind(f), front=True)

            def cost(sd: _Side) -> int:
                pre, post = before.copy(), after.copy()
                for f in sd.pre:
                    pre.push(_kind(f))
                for f in reversed(sd.post):
                    post.push(_kind(f), front=True)
                return PULSES[pre.result()] + PULSES[post.result()]

            # A run with a general parametric factor costs 2 whatever J is: nothing to gain there.
            floor = 2 * before.general + 2 * after.general
            best, best_cost = side, cost(side)
            if best_cost == floor:
                continue
            for j in [aria_default(axis)] + self._derived(axis, before.open, after.open):
                cand = self._side(cid, k, j)
                cc = cost(cand)
                if cc < best_cost:
                    best, best_cost = cand, cc
                    if cc == floor:
                        break
            if best is not side:
                self.sides[cid][k] = best
                for nb in (wc[i - 1] if i > 0 else None, wc[i + 1] if i + 1 < len(wc) else None):
                    if nb is not None:
                        dirty[(nb, self._wire_side(nb, w))] = None
        return list(dirty)

    # -- 4. runs and the bind program ----------------------------------------------------------
    def runs(self) -> tuple[list[tuple[int, list[Factor], int]], list[list[list[int]]]]:
        """All runs, wire-major, as (wire, factors, class); and the run ids of each (wire, segment)."""
        runs: list[tuple[int, list[Factor], int]] = []
        by_seg: list[list[list[int]]] = []
        for w in range(self.t.n_qubits):
            by_seg.append([])
            for i in range(len(self.segs[w])):
                items = self.run_items(w, i)
                pieces = [items] if self.optimize or not items else [[f] for f in items]
                ids = []
                for piece in pieces:
                    ids.append(len(runs))
                    runs.append((w, piece, run_class([_kind(f) for f in piece])))
                by_seg[w].append(ids)
        return runs, by_seg

    def program(self, label: str | None) -> Program:
        t = self.t
        runs, by_seg = self.runs()
        ops: list[Op] = []
        col = 0
        pulse_cols: dict[int, list[int]] = {}

        def emit_seg(w: int, i: int) -> None:
            nonlocal col
            for r in by_seg[w][i]:
                pulse_cols[r] = []
                for name in PULSE_NAMES[runs[r][2]]:
                    ops.append(Op(name, (w,)))
                    pulse_cols[r].append(col)
                    col += 1

        # (cid, angle column, phase columns or None, pre runs)
        core_rows: list[tuple[int, int, tuple[int, int] | None, list[int]]] = []
        phase_cols: list[int] = []
        for cid, c in enumerate(self.cores):
            if c is None:
                continue
            pre = []
            for w in (c.a, c.b):
                i = self.wcores[w].index(cid)
                emit_seg(w, i)
                pre.append(by_seg[w][i][-1])
            if self.target == "aria":
                ops.append(Op("ms", (c.a, c.b)))
                core_rows.append((cid, col + 2, (col, col + 1), pre))
                phase_cols += [col, col + 1]
                col += 3
            else:
                ops.append(Op("zz", (c.a, c.b)))
                core_rows.append((cid, col, None, pre))
                col += 1
        for w in range(t.n_qubits):
            emit_seg(w, len(self.segs[w]) - 1)
        for cols in pulse_cols.values():
            phase_cols += cols

        # factor slots
        affine: list[Affine] = []
        conds: list[Cond] = []
        slot_axes_aff, slot_axes_cond = [], []
        blocks_per_run: list[list[np.ndarray]] = []
        slots_per_run: list[list[tuple[str, int]]] = []
        for _, items, _ in runs:
            blocks = [np.eye(2, dtype=np.complex128)]
            slots = []
            for f in items:
                if isinstance(f, Fixed):
                    blocks[-1] = f.m @ blocks[-1]
                    continue
                if isinstance(f, Rot):
                    slots.append(("a", len(affine)))
                    affine.append(f.angle)
                    slot_axes_aff.append(axis_matrix(f.axis))
                else:
                    slots.append(("c", len(conds)))
                    conds.append(f)
                    slot_axes_cond.append(axis_matrix(f.axis))
                blocks.append(np.eye(2, dtype=np.complex128))
            blocks_per_run.append(blocks)
            slots_per_run.append(slots)
        n_aff, n_cond, n_runs = len(affine), len(conds), len(runs)
        sentinel = n_aff + n_cond
        slot_axes = np.zeros((sentinel + 1, 2, 2), dtype=np.complex128)
        if n_aff:
            slot_axes[:n_aff] = np.array(slot_axes_aff)
        if n_cond:
            slot_axes[n_aff:sentinel] = np.array(slot_axes_cond)
        # Runs without parametric factors are synthesized now; the others at bind time.
        param = [r for r in range(n_runs) if slots_per_run[r]]
        m = max((len(slots_per_run[r]) for r in param), default=0)
        kmats = np.broadcast_to(np.eye(2, dtype=np.complex128), (m + 1, len(param), 2, 2)).copy()
        pidx = np.full((m, len(param)), sentinel, dtype=np.intp)
        for local, r in enumerate(param):
            for j, blk in enumerate(blocks_per_run[r]):
                kmats[j, local] = blk
            for j, (kind, slot) in enumerate(slots_per_run[r]):
                pidx[j, local] = slot if kind == "a" else n_aff + slot
        param_groups: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        fixed_pulses: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        fixed_gamma = np.zeros(n_runs)
        for cls in range(4):
            members = [i for i, r in enumerate(param) if runs[r][2] == cls]
            ids = np.array([param[i] for i in members], dtype=np.intp)
            if ids.size:
                columns = np.array([pulse_cols[r] for r in ids], dtype=np.intp).reshape(ids.size, PULSES[cls])
                param_groups.append((cls, np.array(members, dtype=np.intp), ids, columns))
            ids = np.array([r for r in range(n_runs) if not slots_per_run[r] and runs[r][2] == cls], dtype=np.intp)
            if ids.size:
                g, ph = synthesize(np.array([blocks_per_run[r][0] for r in ids]), cls)
                fixed_gamma[ids] = g
                if PULSES[cls]:
                    columns = np.array([pulse_cols[r] for r in ids], dtype=np.intp).reshape(ids.size, PULSES[cls])
                    fixed_pulses.append((ids, columns, ph))

        af_p, af_x, af_c = self._compose(affine)
        cores_turns = [self.core(cid).turns for cid in self.param_cores]
        at_p, at_x, at_c = self._compose(cores_turns)
        wire_first = np.zeros(n_runs, dtype=np.intp)
        last_run = np.zeros(t.n_qubits, dtype=np.intp)
        for w in range(t.n_qubits):
            wire_runs = [r for seg in by_seg[w] for r in seg]
            wire_first[wire_runs] = wire_runs[0]
            last_run[w] = wire_runs[-1]

        nc = len(core_rows)
        core_angle = np.zeros(nc)
        core_neg = np.zeros(nc, dtype=bool)
        core_param = np.full(nc, -1, dtype=np.intp)
        angle_cols = np.zeros(nc, dtype=np.intp)
        ms, ms_cols, ms_pre, ms_base = [], [], [], []
        for pos, (cid, acol, pcols, pre) in enumerate(core_rows):
            angle_cols[pos] = acol
            if cid in self.const_norm:
                core_angle[pos], _, core_neg[pos] = self.const_norm[cid]
            else:
                core_param[pos] = self.param_cores.index(cid)
            if pcols is not None:
                ms.append(pos)
                ms_cols.append(pcols)
                ms_pre.append(pre)
                ms_base.append([self.sides[cid][0].phase, self.sides[cid][1].phase])
        # Every native angle is its own slot: the implicit identity (an explicit one is col x col floats).
        native = Template(t.n_qubits, tuple(ops), np.zeros(col), None, np.zeros((0, col)), "native", label)
        return Program(
            source=t, target=self.target, native=native, permutation=tuple(self.phys),
            af_p=af_p, af_x=af_x, af_c=af_c,
            cond_core=np.array([f.core for f in conds], dtype=np.intp),
            cond_sign=np.array([f.flag == "sign" for f in conds], dtype=bool),
            slot_axes=slot_axes[pidx], kmats=kmats, pidx=pidx, param_groups=param_groups, fixed_gamma=fixed_gamma,
            fixed_pulses=fixed_pulses, wire_first=wire_first, last_run=last_run,
            at_p=at_p, at_x=at_x, at_c=at_c, core_angle=core_angle, core_neg=core_neg, core_param=core_param,
            angle_cols=angle_cols, ms=np.array(ms, dtype=np.intp),
            ms_cols=np.array(ms_cols, dtype=np.intp).reshape(-1, 2),
            ms_pre=np.array(ms_pre, dtype=np.intp).reshape(-1, 2),
            ms_base=np.array(ms_base, dtype=np.float64).reshape(-1, 2),
            phase_cols=np.array(sorted(phase_cols), dtype=np.intp),
        )

    def _compose(self, exprs: list[Affine]) -> tuple[np.ndarray | SlotMap, np.ndarray, np.ndarray]:
        """Affine expressions over the slots, as (P, E) and (D, E) maps and (E,) constants; the (P, E) map by its
        entries (SlotMap) past DENSE_SLOT_MAP entries, where a table would grow with the square of the circuit."""
        p, d = self.t.n_trainable, self.t.n_inputs
        consts = np.array([e.const for e in exprs], dtype=np.float64)
        terms = [(k, j, c) for j, e in enumerate(exprs) for k, c in e.terms]
        rows = np.array([k for k, _, _ in terms], dtype=np.intp)
        cols = np.array([j for _, j, _ in terms], dtype=np.intp)
        vals = np.array([c for _, _, c in terms], dtype=np.float64)
        inputs = np.zeros((d, len(exprs)))
        is_input = rows >= p
        np.add.at(inputs, (rows[is_input] - p, cols[is_input]), vals[is_input])
        slots = SlotMap((p, len(exprs)), rows[~is_input], cols[~is_input], vals[~is_input])
        return (slots if p * len(exprs) > DENSE_SLOT_MAP else slots.toarray()), inputs, consts

    def pulse_counts(self) -> tuple[int, int]:
        """(one-qubit pulses, two-qubit gates) without building the program."""
        runs, _ = self.runs()
        return sum(PULSES[r[2]] for r in runs), sum(c is not None for c in self.cores)
