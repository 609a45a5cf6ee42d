"""Report section, up front: each scenario's first forecast year against observed growth."""

from __future__ import annotations

from models.observed_growth import FAR_BELOW_RATIO, observed_growth_flags
from reports.inputs import ReportInputs
from reports.page import Section, Text

__all__ = ["section"]


def section(inputs: ReportInputs) -> Section:
    """One sentence per scenario; scenarios far below the observed growth are named first."""
    flags = observed_growth_flags(inputs.national)
    flags = flags.sort_values("far_below", ascending=False, kind="stable")
    note = (
        "The observed figure is the electricity use of internet data services in China Electricity "
        "Council / National Energy Administration statistics (S34), a related but not identical "
        "measure to the compute-centre facility electricity forecast here. 'Far below' means less "
        f"than {FAR_BELOW_RATIO:.0%} of the observed growth."
    )
    return Section(
        "observed",
        "Scenarios against the latest observed growth",
        [Text(flags["sentence"].tolist(), bullets=True), Text([note])],
    )
