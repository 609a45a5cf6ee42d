"""Coincident peak: how much compute load adds to a region's system peak.

Each region-year's baseline annual energy is spread over the hours of the region's
reference-year hourly load profile (2018: 8760 hours), the compute load's 24-hour profile
is added hour by hour, and the peaks with and without compute are compared.

    system_mw[h] = baseline_twh * 1e6 * profile[h] / sum(profile)       (MWh = MW x 1 h)
    total_mw[h]  = system_mw[h] + compute_mw[h % 24]

The hour of day of ``hour_of_year`` is ``hour_of_year % 24`` (hour 0 is 00:00-01:00 of the
first day; the profile's year has a whole number of days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["coincident_peak"]

_MWH_PER_TWH = 1e6
_HOURS_PER_DAY = 24
_MAX_CELLS = 4_000_000  # floats per chunk of the (regions, years, hours) array, ~32 MB


def coincident_peak(
    system_hourly_mw: pd.DataFrame,
    baseline_twh: pd.DataFrame,
    compute_hourly_mw: pd.DataFrame,
) -> pd.DataFrame:
    """Peak load per region-year with and without the compute load.

    Args:
        system_hourly_mw: reference hourly load profile: column ``hour_of_year``
            (0..n-1, n a multiple of 24, e.g. 8760) and one column per region_id (MW; only
            the shape matters, the profile is rescaled to each year's energy).
        baseline_twh: columns ``region_id``, ``year``, ``baseline_twh`` (annual energy
            without compute, TWh). One output row per row of this frame.
        compute_hourly_mw: columns ``region_id``, ``year``, ``hour`` (hour of day, 0-23),
            ``compute_mw`` (compute load in that hour of every day of the year, MW). A
            region-year or hour that is absent has no compute load (0 MW).

    Returns:
        New frame, one row per region-year of ``baseline_twh`` in its order: ``region_id``,
        ``year``, ``system_peak_mw`` (peak without compute, MW),
        ``system_peak_with_compute_mw`` (MW), ``compute_peak_contribution_mw`` (the difference: what the whole compute
        load adds to the peak, MW; not its growth since the base year),
        ``compute_at_system_peak_mw`` (compute load in the hour of the with-compute
        peak, MW; the first such hour on ties).

    Raises:
        ValueError: a region without a profile column, a profile that does not sum to a
            positive number, a profile length that is not whole days, or an hour outside 0-23.

    Example:
        >>> prof = pd.DataFrame({"hour_of_year": range(48), "R": [1.0] * 24 + [3.0] * 24})
        >>> base = pd.DataFrame({"region_id": ["R"], "year": [2030], "baseline_twh": [1e-4]})
        >>> comp = pd.DataFrame({"region_id": "R", "year": 2030, "hour": range(24),
        ...                      "compute_mw": [0.0] * 23 + [10.0]})
        >>> coincident_peak(prof, base, comp)["compute_peak_contribution_mw"].tolist()
        [10.0]
    """
    regions = baseline_twh["region_id"].astype(str).to_numpy()
    shares = _profile_shares(system_hourly_mw, regions)  # (rows, hours)
    energy_mwh = baseline_twh["baseline_twh"].to_numpy(dtype=float) * _MWH_PER_TWH
    compute = _compute_by_hour(compute_hourly_mw, baseline_twh)  # (rows, 24)
    n_hours = shares.shape[1]
    hour_of_day = np.arange(n_hours) % _HOURS_PER_DAY

    peak = np.empty(len(regions))
    peak_with = np.empty(len(regions))
    at_peak = np.empty(len(regions))
    step = max(1, _MAX_CELLS // n_hours)
    for start in range(0, len(regions), step):
        rows = slice(start, start + step)
        system = energy_mwh[rows, None] * shares[rows]
        total = system + compute[rows][:, hour_of_day]
        idx = np.argmax(total, axis=1)
        peak[rows] = system.max(axis=1)
        peak_with[rows] = np.take_along_axis(total, idx[:, None], axis=1)[:, 0]
        at_peak[rows] = np.take_along_axis(compute[rows], hour_of_day[idx][:, None], axis=1)[:, 0]
    return pd.DataFrame(
        {
            "region_id": regions,
            "year": baseline_twh["year"].to_numpy(dtype=np.int64),
            "system_peak_mw": peak,
            "system_peak_with_compute_mw": peak_with,
            "compute_peak_contribution_mw": peak_with - peak,
            "compute_at_system_peak_mw": at_peak,
        }
    )


def _profile_shares(system_hourly_mw: pd.DataFrame, regions: np.ndarray) -> np.ndarray:
    """Each row's region profile as shares of its annual total, shape (rows, hours)."""
    missing = sorted(set(regions) - {str(c) for c in system_hourly_mw.columns})
    if missing:
        raise ValueError(f"system_hourly_mw: no profile column for regions {missing}")
    profile = system_hourly_mw.sort_values("hour_of_year")
    n_hours = len(profile)
    if n_hours == 0 or n_hours % _HOURS_PER_DAY:
        raise ValueError(f"system_hourly_mw: {n_hours} hours is not a whole number of days")
    profile = profile.rename(columns=str)
    unique = list(dict.fromkeys(regions))
    values = profile[unique].to_numpy(dtype=float).T  # (unique regions, hours)
    totals = values.sum(axis=1)
    if not np.all(np.isfinite(totals) & (totals > 0)):
        raise ValueError("system_hourly_mw: each region's profile must sum to a positive number")
    pos = pd.Index(unique).get_indexer(regions)
    return (values / totals[:, None])[pos]


def _compute_by_hour(compute_hourly_mw: pd.DataFrame, baseline_twh: pd.DataFrame) -> np.ndarray:
    """Compute MW by hour of day for each baseline row, shape (rows, 24); absent = 0."""
    hours = compute_hourly_mw["hour"].to_numpy()
    if len(hours) and (hours.min() < 0 or hours.max() >= _HOURS_PER_DAY):
        raise ValueError("compute_hourly_mw: hour must be in 0-23")
    wide = (
        compute_hourly_mw.assign(region_id=compute_hourly_mw["region_id"].astype(str))
        .pivot_table(
            index=["region_id", "year"], columns="hour", values="compute_mw", aggfunc="sum"
        )
        .reindex(columns=range(_HOURS_PER_DAY))
    )
    keys = pd.MultiIndex.from_arrays(
        [baseline_twh["region_id"].astype(str), baseline_twh["year"].astype(np.int64)]
    )
    return wide.reindex(keys).fillna(0.0).to_numpy(dtype=float)
