"""The performance report of a run, built from its events only, as text, Markdown and JSON.

- `build.py`     build_report: one handler per event type (a dispatch table), then the derived figures
- `sections.py`  the sections (pydantic models; the events' own payload models where an event carries them)
- `document.py`  PerformanceReport: the sections with to_text / to_markdown / to_json
- `render.py`    the renderings, apart from the building
"""

from .build import HANDLERS, ReportBuilder, build_report, on
from . import frugal  # noqa: F401  (registers the shots and preflight handlers)
from .document import PerformanceReport
from .render import sparkline
from .sections import (
    CacheSection, ClientSection, CurvePoint, EngineSection, ExecutionSection, ReportData, RunSection, StagesSection,
    StoreSection, TrainingSection,
)

__all__ = [
    "HANDLERS", "CacheSection", "ClientSection", "CurvePoint", "EngineSection", "ExecutionSection",
    "PerformanceReport", "ReportBuilder", "ReportData", "RunSection", "StagesSection", "StoreSection",
    "TrainingSection", "build_report", "on", "sparkline",
]
