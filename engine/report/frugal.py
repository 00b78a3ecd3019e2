"""Report handlers of the shot-frugal training parts: shots spent (per unit of loss) and the gradient preflight."""

from __future__ import annotations

from ..events import GradientPreflight, GradientVarianceFigures, ShotFigures, ShotsSpent
from .build import ReportBuilder, on


@on(ShotsSpent)
def _shots_spent(b: ReportBuilder, ev: ShotsSpent) -> None:
    """Cumulative over the run (a resumed segment starts from its checkpoint's count): the last one wins."""
    b.report.shots = ShotFigures.model_validate(ev.model_dump(include=set(ShotFigures.model_fields)))


@on(GradientPreflight)
def _preflight(b: ReportBuilder, ev: GradientPreflight) -> None:
    b.report.preflight = GradientVarianceFigures.model_validate(
        ev.model_dump(include=set(GradientVarianceFigures.model_fields)))
