"""What the report is built from, and the small frame helpers every section shares.

The frames are the pipeline's ``out_*`` tables, long by ``stat`` (central, p10, p50, p90).
Nothing here mutates an input frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["pivot_first", "ReportInputs", "MILESTONE_YEAR", "PUBLISHED_COLUMNS", "PUBLISHED_METRIC", "NATIONAL_ID"]

#: The year planners and published studies quote most; shown beside base and end year.
MILESTONE_YEAR = 2030
#: ``published.metric`` rows containing this (case-insensitive, unit TWh) are drawn on the headline.
PUBLISHED_METRIC = "China data-centre electricity"
#: Columns of ``ReportInputs.published`` (and of the shipped ``published_estimates.csv`` used).
PUBLISHED_COLUMNS = ["year", "metric", "value_low", "value_high", "unit", "original_publisher", "source_id"]
#: ``turning_points.region_id`` / ``rise_odds.region_id`` of the national aggregate.
NATIONAL_ID = "ALL"


@dataclass(frozen=True)
class ReportInputs:
    """Everything one run's HTML report shows.

    Energies are TWh per year, loads MW, ``compute_share`` a fraction of total demand.
    The optional frames add sections when present; an absent (None) or empty frame drops
    its section. ``pipeline`` is the run's pipeline table joined with the planned-centre
    file (``name``, ``it_capacity_mw``, ``source``); ``observed`` the observed provincial
    figures with the base fleet's ``model_value`` beside each.
    """

    national: pd.DataFrame
    regional: pd.DataFrame
    turning_points: pd.DataFrame
    regions: pd.DataFrame
    hubs: pd.DataFrame
    published: pd.DataFrame
    metadata: dict = field(default_factory=dict)
    assumptions: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    rise_odds: pd.DataFrame | None = None
    coincident: pd.DataFrame | None = None
    forecast: pd.DataFrame | None = None
    costs: pd.DataFrame | None = None
    pipeline: pd.DataFrame | None = None
    observed: pd.DataFrame | None = None
    # hourly model: {"peaks": frame, "headroom": frame, "notes": [str]} (reports.section_hours)
    hours: dict | None = None


def present(frame: pd.DataFrame | None) -> bool:
    """True when an optional frame has rows to show."""
    return frame is not None and len(frame) > 0


def scenarios_of(frame: pd.DataFrame) -> list[str]:
    """Scenario names in first-seen order (the pipeline's order, usually the reference first)."""
    return [str(s) for s in pd.unique(frame["scenario"].astype(str))]


def central(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the central estimate; p50 stands in for a scenario that has no central rows."""
    stat = frame["stat"].astype(str)
    has_central = frame.loc[stat == "central", "scenario"].astype(str).unique()
    keep = (stat == "central") | (
        (stat == "p50") & ~frame["scenario"].astype(str).isin(has_central)
    )
    return frame.loc[keep]  # a new frame (copy-on-write): callers may change it freely


def stat_rows(frame: pd.DataFrame, stat: str) -> pd.DataFrame:
    """Rows of one ``stat`` (e.g. p10), possibly empty."""
    return frame.loc[frame["stat"].astype(str) == stat]  # a new frame (copy-on-write)


def years_of(frame: pd.DataFrame) -> tuple[int, int, int | None]:
    """(base year, end year, milestone year or None when outside the horizon)."""
    years = pd.to_numeric(frame["year"]).astype(int)
    base, end = int(years.min()), int(years.max())
    milestone = MILESTONE_YEAR if base < MILESTONE_YEAR < end else None
    return base, end, milestone


def milestone_years(frame: pd.DataFrame) -> list[int]:
    """Base year, 2030 (when strictly inside the horizon) and end year, ascending."""
    base, end, milestone = years_of(frame)
    return sorted({base, end} | ({milestone} if milestone else set()))


def published_estimates(published: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """Published national data-centre electricity estimates (TWh) within [first, last]."""
    if not present(published):
        return published.iloc[0:0]
    unit_ok = published["unit"].astype(str).str.strip().str.lower() == "twh"
    metric_ok = (
        published["metric"]
        .astype(str)
        .str.lower()
        .str.contains(PUBLISHED_METRIC.lower(), regex=False)
    )
    year = pd.to_numeric(published["year"], errors="coerce")
    keep = unit_ok & metric_ok & year.between(first, last)
    return published.loc[keep].sort_values(["year", "original_publisher"]).copy()


def region_names(regions: pd.DataFrame) -> dict[str, str]:
    """region_id -> display name (the id itself when the name is missing)."""
    names = regions.set_index(regions["region_id"].astype(str))["name"]
    return {rid: (str(n) if pd.notna(n) else rid) for rid, n in names.items()}


def scenario_descriptions(metadata: dict) -> dict[str, str]:
    """Scenario -> one-line description, from ``metadata`` when it carries them."""
    for key in ("scenario_descriptions", "scenarios"):
        value = metadata.get(key)
        if isinstance(value, dict):
            return {str(k): _describe(v) for k, v in value.items()}
    return {}


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("description", ""))
    return str(value)


def pivot_first(
    frame: pd.DataFrame, index: str | pd.Series, columns: str, values: str
) -> pd.DataFrame:
    """``frame.pivot_table(index=, columns=, values=, aggfunc="first")`` for a numeric ``values``.

    The same table (sorted row and column keys; a cell's first non-missing value; keys with
    no value left out) without pandas' groupby machinery, which costs milliseconds per call
    and the report pivots dozens of small frames. ``index`` is a column name or a Series
    aligned with ``frame``.
    """
    keys = frame[index] if isinstance(index, str) else index
    cols = frame[columns]
    val = pd.to_numeric(frame[values]).to_numpy(dtype=float, na_value=np.nan)
    keep = ~np.isnan(val) & keys.notna().to_numpy() & cols.notna().to_numpy()
    keys, cols, val = keys[keep], cols[keep], val[keep]
    r, row_keys = pd.factorize(keys, sort=True)
    c, col_keys = pd.factorize(cols, sort=True)
    row_index = pd.Index(row_keys, name=keys.name)
    col_index = pd.Index(col_keys, name=columns)
    grid = np.full((len(row_index), len(col_index)), np.nan)
    cells, first = np.unique(r * len(col_index) + c, return_index=True)
    grid.flat[cells] = val[first]
    return pd.DataFrame(grid, index=row_index, columns=col_index)
