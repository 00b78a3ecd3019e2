"""A circuit as text: a numbered gate list, and a wire diagram with one column per moment.

Parameters print as the IR holds them: radians for qis rotations, turns for native gates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.circuits.ir import Circuit, Gate


def _params(g: Gate, gateset: str) -> str:
    if not g.params:
        return ""
    digits = 4 if gateset == "native" else 3
    return "(" + ", ".join(f"{p:.{digits}f}" for p in g.params) + ")"


def gate_line(g: Gate, gateset: str) -> str:
    """`ry(1.571) q0`, `cnot q0→q1`, `ms(0.0000, 0.2500, 0.2500) q0,q1`."""
    if g.controls:
        wires = ",".join(f"q{c}" for c in g.controls) + "→" + ",".join(f"q{t}" for t in g.targets)
    else:
        wires = ",".join(f"q{t}" for t in g.targets)
    return f"{g.name}{_params(g, gateset)} {wires}"


def gate_lines(circuit: Circuit) -> list[str]:
    width = len(str(max(len(circuit.gates) - 1, 0)))
    return [f"{i:>{width}} {gate_line(g, circuit.gateset)}" for i, g in enumerate(circuit.gates)]


def _label(g: Gate, gateset: str) -> str:
    if not g.params:
        return g.name.upper()
    digits = 3 if gateset == "native" else 2
    return g.name.upper() + "(" + ",".join(f"{p:.{digits}f}" for p in g.params) + ")"


def moments(circuit: Circuit) -> list[list[Gate]]:
    """Gates packed into the earliest column where all the wires they span are free."""
    level = [0] * circuit.n_qubits
    columns: list[list[Gate]] = []
    for g in circuit.gates:
        span = range(min(g.qubits), max(g.qubits) + 1)  # a vertical connector occupies the wires between
        col = max(level[q] for q in span)
        for q in span:
            level[q] = col + 1
        if col == len(columns):
            columns.append([])
        columns[col].append(g)
    return columns


def diagram_lines(circuit: Circuit) -> list[str]:
    """Wire rows `q0: ─RY(1.57)──●──` with a spacer row between wires for the `│` connectors."""
    n = circuit.n_qubits
    rows = [[f"q{q}: ".rjust(len(f"q{n - 1}: "))] for q in range(n)]
    gaps = [[" " * len(rows[0][0])] for _ in range(max(n - 1, 0))]
    for column in moments(circuit):
        cells: dict[int, str] = {}
        links: set[int] = set()  # gap rows crossed by a connector
        for g in column:
            if g.controls:
                for c in g.controls:
                    cells[c] = "●"
                for t in g.targets:
                    cells[t] = "X" if g.name in ("cnot", "not", "x") else _label(g, circuit.gateset)
            elif len(g.targets) > 1:
                for t in g.targets:
                    cells[t] = _label(g, circuit.gateset)
            else:
                cells[g.targets[0]] = _label(g, circuit.gateset)
            lo, hi = min(g.qubits), max(g.qubits)
            links.update(range(lo, hi))
            for q in range(lo + 1, hi):
                cells.setdefault(q, "┼")
        width = max(len(c) for c in cells.values()) + 2
        for q in range(n):
            text = cells.get(q, "")
            rows[q].append(text.center(width, "─") if text else "─" * width)
        for k in range(n - 1):
            gaps[k].append(("│" if k in links else " ").center(width))
    out: list[str] = []
    for q in range(n):
        out.append("".join(rows[q]) + "─")
        if q < n - 1:
            out.append("".join(gaps[q]).rstrip())
    return out
