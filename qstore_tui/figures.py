"""Figures shown on more than one screen, worded once, so the screens always agree.

The compiler's reduction is against one named baseline: the gate-by-gate ("naive") translation of
the same circuit, in native gates on both sides (engine/compiler/stats.py).
"""

from __future__ import annotations

REDUCTION_BASELINE = "naive"  # the gate-by-gate translation: each gate on its own, textbook CNOTs


def reduction_text(pct: float) -> str:
    """"35.2% fewer native gates vs naive": the Training screen's line, the Compiler screen's cell."""
    return f"{pct:.1f}% fewer native gates vs {REDUCTION_BASELINE}"


def reduction_cell(pct: float) -> str:
    """The Compiler table's cell (its row label names the baseline): "35.2% fewer"."""
    return f"{pct:.1f}% fewer"


REDUCTION_ROW = f"vs {REDUCTION_BASELINE}"
