"""From simulation arrays to the long output tables (docs/methodology.md section 5) (pure, no I/O).

Draws give p10/p50/p90 of each quantity separately (marginal quantiles); the
central run is reported as ``stat = central``. The baseline's uncertainty enters
``total_twh`` through one normal draw per region and draw (a whole path shifted
by its 80% interval), independent across regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.engine import HOURS_PER_YEAR, SimResult
from models.scenario import WORKLOADS
from models.turning import classify_shape, peak_index, rise_start_index

__all__ = [
    "QUANTILES",
    "Baseline",
    "stat_arrays",
    "forecast_table",
    "regional_table",
    "national_table",
    "turning_points_table",
    "rise_odds_table",
]

QUANTILES: dict[str, float] = {"p10": 0.10, "p50": 0.50, "p90": 0.90}
_Z80 = 1.2815515655446004  # standard normal 90th percentile: an 80% interval is +-1.2816 sd


@dataclass(frozen=True)
class Baseline:
    """Regional baseline aligned to (R, T): central TWh and the 80% interval."""

    central_twh: np.ndarray
    lo80_twh: np.ndarray
    hi80_twh: np.ndarray

    @classmethod
    def from_forecast(cls, forecast: pd.DataFrame, region_ids: np.ndarray, years: list[int]) -> Baseline:
        """Align a long baseline table (``region_id, year, baseline_twh, baseline_lo80_twh,
        baseline_hi80_twh``) to (R, T); a region or year the table lacks is NaN."""

        def grid(col: str) -> np.ndarray:
            wide = forecast.pivot_table(index="region_id", columns="year", values=col, aggfunc="first")
            return wide.reindex(index=list(region_ids), columns=years).to_numpy(float)

        return cls(grid("baseline_twh"), grid("baseline_lo80_twh"), grid("baseline_hi80_twh"))

    def sd_twh(self) -> np.ndarray:
        """Normal-equivalent standard deviation implied by the 80% interval."""
        return (self.hi80_twh - self.lo80_twh) / (2.0 * _Z80)

    def paths(self, z: np.ndarray | None) -> np.ndarray:
        """Baseline paths (D, R, T): central shifted by ``z`` (D, R) standard deviations.

        With ``z`` None, the central path alone, as (1, R, T).
        """
        if z is None:
            return self.central_twh[None, ...]
        return self.central_twh[None, ...] + z[:, :, None] * self.sd_twh()[None, ...]


def stat_arrays(central: np.ndarray, draws: np.ndarray | None) -> dict[str, np.ndarray]:
    """``{"central": central[0], "p10": ..., "p50": ..., "p90": ...}`` over the draw axis.

    NaN draws (no IT energy) are ignored; all-NaN cells stay NaN.
    """
    out = {"central": central[0]}
    if draws is not None and len(draws):
        q = draw_quantiles(draws, list(QUANTILES.values()))
        out.update({k: q[i] for i, k in enumerate(QUANTILES)})
    return out


def draw_quantiles(draws: np.ndarray, probs: list[float]) -> np.ndarray:
    """Quantiles over axis 0 (linear interpolation, numpy's default method), NaNs ignored.

    Draws are sorted as contiguous rows in their own dtype: numpy's SIMD sort of
    contiguous float32 rows (the pipeline stores draws as float32) is ~3x faster than
    ``np.quantile`` over a strided axis. Returns (len(probs), ...) float64.

    >>> draw_quantiles(np.array([[1.0], [2.0], [np.nan], [4.0]]), [0.5]).tolist()
    [[2.0]]
    """
    n = draws.shape[0]
    rest = draws.shape[1:]
    rows = draws.reshape(n, -1).T.copy()  # C order: one contiguous row per cell
    rows.sort(axis=1)  # NaN sort last
    count = np.full(rows.shape[0], n)  # valid draws per cell: all, unless the last is NaN
    some_nan = np.flatnonzero(np.isnan(rows[:, -1]))
    count[some_nan] -= np.isnan(rows[some_nan]).sum(axis=1)
    out = np.empty((len(probs), rows.shape[0]))
    for i, prob in enumerate(probs):
        h = (np.maximum(count, 1) - 1) * prob
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(count, 1) - 1)
        w = h - lo
        a = np.take_along_axis(rows, lo[:, None], axis=1)[:, 0].astype(float)
        b = np.take_along_axis(rows, hi[:, None], axis=1)[:, 0].astype(float)
        out[i] = np.where(count > 0, a + (b - a) * w, np.nan)
    return out.reshape(len(probs), *rest)


def _grid(**axes: np.ndarray) -> dict[str, np.ndarray]:
    """Cartesian product of the axes in order (C order), as flat columns."""
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    return {k: m.ravel() for k, m in zip(axes, mesh, strict=True)}


def forecast_table(
    scenario: str, region_ids: np.ndarray, years: list[int], central: SimResult, draws: SimResult | None
) -> pd.DataFrame:
    """``forecast`` rows: scenario, region_id, year, workload, stat, it_energy_twh, ..."""
    it = stat_arrays(central.it_twh, None if draws is None else draws.it_twh)
    fac = stat_arrays(central.facility_twh, None if draws is None else draws.facility_twh)
    pue = stat_arrays(central.pue_effective, None if draws is None else draws.pue_effective)
    frames = []
    for stat in it:
        cols = _grid(region_id=np.asarray(region_ids), year=np.asarray(years), workload=np.array(WORKLOADS))
        pue_w = np.repeat(pue[stat][..., None], len(WORKLOADS), axis=-1)
        frames.append(
            pd.DataFrame(
                {
                    "scenario": scenario,
                    **cols,
                    "stat": stat,
                    "it_energy_twh": it[stat].ravel(),
                    "facility_energy_twh": fac[stat].ravel(),
                    "avg_load_mw": fac[stat].ravel() * 1e6 / HOURS_PER_YEAR,
                    "pue_effective": pue_w.ravel(),
                }
            )
        )
    return _typed(pd.concat(frames, ignore_index=True))


def _totals(fac: np.ndarray, base_paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total regional demand and compute share for (D, R, T) facility energy and baseline paths."""
    total = base_paths + fac - fac[:, :, :1]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, fac / total, np.nan)
    return total, share


def regional_table(
    scenario: str,
    region_ids: np.ndarray,
    years: list[int],
    central: SimResult,
    draws: SimResult | None,
    baseline: Baseline,
    baseline_z: np.ndarray | None,
) -> pd.DataFrame:
    """``regional`` rows: scenario, region_id, year, stat, facility_energy_twh, peak_load_mw,
    baseline_twh, total_twh, compute_share, pipeline_it_energy_twh, pipeline_added_it_twh."""
    base_c = baseline.paths(None)
    tot_c, share_c = _totals(central.region_facility_twh, base_c)
    fields = {"facility_energy_twh": stat_arrays(central.region_facility_twh, None if draws is None else draws.region_facility_twh),
              "peak_load_mw": stat_arrays(central.region_peak_mw, None if draws is None else draws.region_peak_mw)}
    base_d = None
    tot_d = share_d = None
    if draws is not None:
        base_d = baseline.paths(baseline_z)
        tot_d, share_d = _totals(draws.region_facility_twh, base_d)
        # draws are summarised at the draw store's precision (float32): sorting is 4x faster
        tot_d, share_d, base_d = (x.astype(np.float32) for x in (tot_d, share_d, base_d))
    fields["baseline_twh"] = stat_arrays(base_c, base_d)
    fields["total_twh"] = stat_arrays(tot_c, tot_d)
    fields["compute_share"] = stat_arrays(share_c, share_d)
    for name, attr in (("pipeline_it_energy_twh", "pipeline_it_twh"), ("pipeline_added_it_twh", "pipeline_added_it_twh")):
        if getattr(central, attr) is not None:
            fields[name] = stat_arrays(getattr(central, attr), None if draws is None else getattr(draws, attr))
    frames = []
    for stat in fields["facility_energy_twh"]:
        cols = _grid(region_id=np.asarray(region_ids), year=np.asarray(years))
        frames.append(
            pd.DataFrame({"scenario": scenario, **cols, "stat": stat, **{k: v[stat].ravel() for k, v in fields.items()}})
        )
    return _typed(pd.concat(frames, ignore_index=True))


def national_table(
    scenario: str,
    years: list[int],
    central: SimResult,
    draws: SimResult | None,
    baseline: Baseline,
    baseline_z: np.ndarray | None,
) -> pd.DataFrame:
    """National totals (quantiles of the national sum, not sums of regional quantiles)."""

    def nat(sim: SimResult, z: np.ndarray | None) -> dict[str, np.ndarray]:
        fac = sim.region_facility_twh
        base = baseline.paths(z)
        f = fac.sum(axis=1)
        total = base.sum(axis=1) + f - f[:, :1]
        return {
            "facility_energy_twh": f,
            "it_energy_twh": sim.region_it_twh.sum(axis=1),
            "peak_load_mw": sim.national_peak_mw,
            "baseline_twh": np.broadcast_to(base.sum(axis=1), f.shape),
            "total_twh": total,
            "compute_share": f / total,
        }

    c = nat(central, None)
    d = nat(draws, baseline_z) if draws is not None else None
    fields = {key: stat_arrays(c[key], None if d is None else d[key]) for key in c}
    stats = list(fields["facility_energy_twh"])
    wide = pd.DataFrame({
        "scenario": scenario,
        "year": np.tile(np.asarray(years), len(stats)),
        "stat": np.repeat(np.array(stats, dtype=object), len(years)),
        **{key: np.concatenate([np.asarray(v[stat], dtype=float) for stat in stats]) for key, v in fields.items()},
    })
    wide = wide[wide[list(fields)].notna().any(axis=1)]  # a year and stat without any value has no row
    wide.columns.name = "field"  # as a pivot of the long (year, stat, field, value) table names them
    order = ["scenario", "year", "stat", "facility_energy_twh", "it_energy_twh", "peak_load_mw",
             "baseline_twh", "total_twh", "compute_share"]
    return _typed(wide[order].sort_values(["stat", "year"], kind="stable").reset_index(drop=True))


def turning_points_table(
    scenario: str, region_ids: np.ndarray, years: list[int], central: SimResult, threshold: float
) -> pd.DataFrame:
    """``turning_points``: scenario, region_id, shape, rise_start, flat_until, peak_year, peak_twh.

    ``region_id`` ALL is the national total; the peak is the earliest year within a
    relative 1e-9 of the largest central facility energy.
    """
    series = np.concatenate(
        [central.region_facility_twh[0], central.region_facility_twh[0].sum(axis=0, keepdims=True)]
    )
    shape, idx = classify_shape(series, threshold)
    yrs = np.asarray(years)
    rise = pd.array(np.where(idx > 0, yrs[np.maximum(idx, 0)], 0), dtype="Int64")
    rise[idx <= 0] = pd.NA
    peak = peak_index(series)
    return _typed(
        pd.DataFrame(
            {
                "scenario": scenario,
                "region_id": np.concatenate([np.asarray(region_ids, dtype=object), ["ALL"]]),
                "shape": shape,
                "rise_start": rise,
                "flat_until": rise - 1,
                "peak_year": pd.array(yrs[peak], dtype="Int64"),
                "peak_twh": np.take_along_axis(series, peak[:, None], axis=1)[:, 0],
            }
        )
    )


def rise_odds_table(
    scenario: str, region_ids: np.ndarray, years: list[int], draws: SimResult, threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Across draws: rise_start quantiles and P(rise started by year) per region and ALL.

    A draw without a rise in the horizon counts as "not started" in every year and
    as ``end_year + 1`` in the quantiles (reported as NA when the quantile lands there).
    """
    fac = draws.region_facility_twh  # (D, R, T)
    series = np.concatenate([fac, fac.sum(axis=1, keepdims=True)], axis=1)
    idx = rise_start_index(series, threshold)  # (D, R+1); the shapes are not needed here
    yrs = np.asarray(years)
    start = np.where(idx > 0, yrs[np.maximum(idx, 0)], yrs[-1] + 1).astype(float)
    ids = np.concatenate([np.asarray(region_ids, dtype=object), ["ALL"]])
    by_year = (start[:, :, None] <= yrs[None, None, :]).mean(axis=0)  # (R+1, T)
    cols = _grid(region_id=ids, year=yrs)
    odds = pd.DataFrame({"scenario": scenario, **cols, "p_started": by_year.ravel()})
    q = np.quantile(start, list(QUANTILES.values()), axis=0, method="inverted_cdf")
    dist = pd.DataFrame({"scenario": scenario, "region_id": ids})
    for i, k in enumerate(QUANTILES):
        vals = pd.array(q[i].astype(int), dtype="Int64")
        vals[q[i] > yrs[-1]] = pd.NA
        dist[f"rise_start_{k}"] = vals
    dist["p_rise_within_horizon"] = (start <= yrs[-1]).mean(axis=0)
    return _typed(odds), _typed(dist)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in ("scenario", "region_id", "workload", "stat", "shape"):
        if col in out.columns:
            out[col] = out[col].astype("string")
    if "year" in out.columns:
        out["year"] = out["year"].astype("int32")
    return out
