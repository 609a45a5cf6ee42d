"""Self-contained HTML reports of a gridcast run and of a comparison between runs."""

from reports.comparison import render_comparison
from reports.inputs import ReportInputs
from reports.report import render_report

__all__ = ["ReportInputs", "render_comparison", "render_report"]
