"""PerformanceReport: the report's sections (`ReportData`) with its three renderings."""

from __future__ import annotations

from typing import Any

from . import render
from .sections import ReportData


class PerformanceReport(ReportData):
    """A run's performance report; build one with `build_report(events, config)`."""

    def to_json(self) -> dict[str, Any]:
        return render.to_json(self)

    def to_json_bytes(self) -> bytes:
        """report.json: `json.dumps(to_json(), indent=2)` as bytes, without its list of every token."""
        return render.to_json_bytes(self)

    def to_text(self) -> str:
        return render.to_text(self)

    def to_markdown(self) -> str:
        return render.to_markdown(self)
