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

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ProfileShares", "coincident_peak", "peaks_of_rows", "profile_shares"]

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
    profiles = profile_shares(system_hourly_mw, list(dict.fromkeys(regions)))
    energy_mwh = baseline_twh["baseline_twh"].to_numpy(dtype=float) * _MWH_PER_TWH
    compute = _compute_by_hour(compute_hourly_mw, baseline_twh)  # (rows, 24)
    peak, peak_with, at_peak = peaks_of_rows(profiles, pd.Index(profiles.regions).get_indexer(regions),
                                             energy_mwh, compute)
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


@dataclass(frozen=True)
class ProfileShares:
    """Each region's hourly profile as shares of its annual total, with its hour-of-day maxima.

    ``shares`` (U, hours); ``hour_of_day_max`` (U, 24): the largest share of each hour of
    day over the days of the year; ``peak_share`` (U,): the largest share of all.
    """

    regions: list[str]
    shares: np.ndarray
    hour_of_day_max: np.ndarray
    peak_share: np.ndarray


def profile_shares(system_hourly_mw: pd.DataFrame, regions: list[str]) -> ProfileShares:
    """The profile shares of ``regions`` (unique ids) from the hourly table of :func:`coincident_peak`.

    Raises:
        ValueError: as :func:`coincident_peak`.
    """
    shares = _profile_shares(system_hourly_mw, list(regions))
    by_day = shares.reshape(len(regions), -1, _HOURS_PER_DAY)
    return ProfileShares(list(regions), shares, by_day.max(axis=1), shares.max(axis=1))


def peaks_of_rows(profiles: ProfileShares, region_pos: np.ndarray, energy_mwh: np.ndarray,
                  compute: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peak without and with compute, and the compute load in the with-compute peak hour, per row.

    Row ``i`` is region ``profiles.regions[region_pos[i]]`` with annual energy ``energy_mwh[i]``
    (MWh) and compute MW by hour of day ``compute[i]`` (24,). The hours are those of
    :func:`coincident_peak`; the peaks are reduced exactly: for ``E >= 0`` rounding is
    monotone, so ``max_d (E s[d, j] + c[j]) = E max_d s[d, j] + c[j]`` for each hour of day
    ``j`` and only 24 values per row are compared. A row whose peak is reached at two hours
    of day with different compute loads (the first hour of the year wins), or whose energy
    or compute is not finite or is negative, is evaluated over every hour instead.

    Returns:
        (rows,) ``system_peak_mw``, ``system_peak_with_compute_mw``, ``compute_at_system_peak_mw``.
    """
    region_pos = np.asarray(region_pos)
    energy_mwh = np.asarray(energy_mwh, dtype=float)
    compute = np.asarray(compute, dtype=float)
    peak = energy_mwh * profiles.peak_share[region_pos]
    by_hour = energy_mwh[:, None] * profiles.hour_of_day_max[region_pos] + compute  # (rows, 24)
    peak_with = by_hour.max(axis=1)
    at_max = by_hour == peak_with[:, None]
    at_peak = np.where(at_max, compute, np.inf).min(axis=1)
    ambiguous = at_peak != np.where(at_max, compute, -np.inf).max(axis=1)
    bad = ~(np.isfinite(energy_mwh) & (energy_mwh >= 0) & np.isfinite(compute).all(axis=1))
    full = np.flatnonzero(ambiguous | bad)
    if len(full):
        peak[full], peak_with[full], at_peak[full] = _full_peaks(
            profiles.shares[region_pos[full]], energy_mwh[full], compute[full])
    return peak, peak_with, at_peak


def _full_peaks(shares: np.ndarray, energy_mwh: np.ndarray, compute: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every hour of each row (rows, hours): the peaks of :func:`peaks_of_rows`, brute force."""
    n_hours = shares.shape[1]
    hour_of_day = np.arange(n_hours) % _HOURS_PER_DAY
    peak = np.empty(len(energy_mwh))
    peak_with = np.empty(len(energy_mwh))
    at_peak = np.empty(len(energy_mwh))
    step = max(1, _MAX_CELLS // n_hours)
    for start in range(0, len(energy_mwh), step):
        rows = slice(start, start + step)
        system = energy_mwh[rows, None] * shares[rows]
        total = system + compute[rows][:, hour_of_day]
        idx = np.argmax(total, axis=1)
        peak[rows] = system.max(axis=1)
        peak_with[rows] = np.take_along_axis(total, idx[:, None], axis=1)[:, 0]
        at_peak[rows] = np.take_along_axis(compute[rows], hour_of_day[idx][:, None], axis=1)[:, 0]
    return peak, peak_with, at_peak


def _profile_shares(system_hourly_mw: pd.DataFrame, unique: list[str]) -> np.ndarray:
    """Each region's profile as shares of its annual total, shape (regions, hours)."""
    missing = sorted(set(unique) - {str(c) for c in system_hourly_mw.columns})
    if missing:
        raise ValueError(f"system_hourly_mw: no profile column for regions {missing}")
    profile = system_hourly_mw.sort_values("hour_of_year")
    n_hours = len(profile)
    if n_hours == 0 or n_hours % _HOURS_PER_DAY:
        raise ValueError(f"system_hourly_mw: {n_hours} hours is not a whole number of days")
    profile = profile.rename(columns=str)
    values = profile[unique].to_numpy(dtype=float).T  # (unique regions, hours)
    totals = values.sum(axis=1)
    if not np.all(np.isfinite(totals) & (totals > 0)):
        raise ValueError("system_hourly_mw: each region's profile must sum to a positive number")
    return values / totals[:, None]


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
