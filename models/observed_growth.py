"""Each scenario's first forecast years against the latest observed growth of data-centre electricity.

The latest published growth of the electricity used by China's internet data services
(China Electricity Council / National Energy Administration statistics, source S34 in
data/SOURCES.md and data/default/published_estimates.csv) was +30.9% in 2024 and +43.3%
year on year in January-November 2025. That statistic is a related measure, not the
model's facility energy of compute centres, but a scenario whose first forecast year
grows far more slowly than what has just been observed should say so, not silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FAR_BELOW_RATIO", "OBSERVED", "Observed", "observed_growth_flags"]


@dataclass(frozen=True)
class Observed:
    """One published growth figure: year, growth (fraction), what it covers, source id."""

    year: int
    growth: float
    period: str
    source_id: str


OBSERVED: tuple[Observed, ...] = (
    Observed(2024, 0.309, "full year 2024", "S34"),
    Observed(2025, 0.433, "Jan-Nov 2025 vs Jan-Nov 2024", "S34"),
)
"""Published y/y growth of internet data services' electricity use (S34), oldest first."""

FAR_BELOW_RATIO = 0.5
"""A scenario's growth is 'far below' the observed when it is less than this share of it."""


def observed_growth_flags(
    national: pd.DataFrame, observed: tuple[Observed, ...] = OBSERVED
) -> pd.DataFrame:
    """Per scenario: growth in its first forecast year against the latest observed growth.

    Args:
        national: rows ``scenario``, ``year``, ``stat``, ``facility_energy_twh`` (the
            national totals; the ``central`` rows are used, ``p50`` where a scenario has
            none).
        observed: published growth figures; the latest one is the comparison, the one
            before it is quoted beside it.

    Returns:
        One row per scenario, in first-seen order: ``scenario``, ``year`` (first forecast
        year = base year + 1), ``growth`` (fraction), ``observed_year``,
        ``observed_growth``, ``far_below`` (growth < FAR_BELOW_RATIO x observed),
        ``sentence`` (one sentence a planner reads).

    Example:
        >>> nat = pd.DataFrame({"scenario": "s", "year": [2024, 2025], "stat": "central",
        ...                     "facility_energy_twh": [100.0, 110.0]})
        >>> observed_growth_flags(nat)["sentence"].iloc[0][:61]
        "Scenario 's' grows 10.0% in 2025, far below the +43.3% growth"
    """
    latest = observed[-1]
    earlier = observed[-2] if len(observed) > 1 else None
    frame = national[national["stat"].astype(str).isin(["central", "p50"])]
    rows = []
    for scenario in pd.unique(frame["scenario"].astype(str)):
        part = frame[frame["scenario"].astype(str) == scenario]
        stat = "central" if (part["stat"].astype(str) == "central").any() else "p50"
        series = part[part["stat"].astype(str) == stat].set_index("year")["facility_energy_twh"]
        series = series.sort_index()
        base = int(series.index.min())
        first = base + 1
        growth = (
            float(series.loc[first] / series.loc[base] - 1)
            if first in series.index and series.loc[base] > 0
            else np.nan
        )
        far = bool(np.isfinite(growth) and growth < FAR_BELOW_RATIO * latest.growth)
        rows.append(
            {
                "scenario": scenario,
                "year": first,
                "growth": growth,
                "observed_year": latest.year,
                "observed_growth": latest.growth,
                "far_below": far,
                "sentence": _sentence(scenario, first, growth, far, latest, earlier),
            }
        )
    return pd.DataFrame(rows)


def _sentence(
    scenario: str, year: int, growth: float, far: bool, latest: Observed, earlier: Observed | None
) -> str:
    context = (
        f" ({latest.source_id}; {earlier.growth:+.1%} in {earlier.period})" if earlier else
        f" ({latest.source_id})"
    )
    observed = (
        f"the {latest.growth:+.1%} growth observed for data-centre electricity in "
        f"{latest.period}{context}"
    )
    if not np.isfinite(growth):
        return f"Scenario '{scenario}' has no growth for {year} to compare with {observed}."
    if far:
        return (
            f"Scenario '{scenario}' grows {growth:.1%} in {year}, far below {observed}: "
            "it assumes a sharp slowdown from what has just been measured."
        )
    relation = "above" if growth >= latest.growth else "below"
    return f"Scenario '{scenario}' grows {growth:.1%} in {year}, {relation} {observed}."
