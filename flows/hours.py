"""One scenario's hours: the ``hourly``, ``headroom`` and ``peaks`` tables (no I/O).

* ``hourly``: central run, the hourly years asked for (default: base year, 2030 when
  inside the horizon, end year), regions with an hourly system-load profile only.
* ``headroom``: central run, hourly years, curtailment limits 0.25%, 0.5%, 1%.
* ``peaks``: every year of the horizon, ``stat`` central / p10 / p50 / p90 (central and
  draws' peaks are exact, evaluated on each region's candidate hours, see ``models.peaks``).
  ``system_peak_flex_mw`` (with flexible training water-filled) and ``region_id = ALL``
  (the national coincident peak, regions summed hour by hour) need the 8,760-hour arrays:
  they are central-run figures of the hourly years and the base year (NaN elsewhere).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from flows.errors import GridcastError
from flows.schema import SYSTEM_HOURLY_FILE, SYSTEM_HOURLY_LEGACY_FILE, InputTables
from models.columns import constant_strings, string_column
from models.engine import HOURS_PER_YEAR, Fleet, SimResult
from models.hourly import (
    compute_load_mw,
    headroom_mw,
    representative_year,
    seasonal_modulation,
    system_load_mw,
    water_fill,
)
from models.peaks import candidate_hours, hour_features, peaks_on_candidates
from models.scenario import WORKLOADS, Scenario
from models.summarize import QUANTILES, Baseline, draw_quantiles

__all__ = ["CURTAILMENT_LIMITS", "HOURS_COLUMNS", "HoursOutputs", "default_hourly_years", "hours_tables",
           "profile_note", "resolve_hourly_years"]

CURTAILMENT_LIMITS = np.array([0.0025, 0.005, 0.01])
NATIONAL_ID = "ALL"
_DRAW_CHUNK = 50  # draws per block of the candidate-hour peaks (cache-sized)
_T = WORKLOADS.index("training")

HOURS_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    "hourly": {
        "scenario": ("", "scenario name"),
        "region_id": ("", "province"),
        "year": ("year", "forecast year (central run)"),
        "hour": ("hour", "hour of the representative year, 0 = 1 January 00:00-01:00 (8760 hours)"),
        "system_load_mw": ("MW", "load without compute: baseline less base-year compute energy, on the "
                           "hourly system-load shape"),
        "compute_load_mw": ("MW", "compute-centre load: each workload's average MW x its hour-of-day factor "
                            "(x the seasonal cooling factor, if the scenario sets one)"),
        "compute_load_flex_mw": ("MW", "compute load after moving the flexible share of each day's training "
                                 "energy into the day's lowest hours (water-filling)"),
        "total_load_mw": ("MW", "system_load_mw + compute_load_flex_mw"),
    },
    "peaks": {
        "scenario": ("", "scenario name"),
        "region_id": ("", "province, or ALL for the national coincident peak (central run, hourly years)"),
        "year": ("year", "forecast year"),
        "stat": ("", "central, or p10/p50/p90 of the Monte Carlo draws (each column separately)"),
        "compute_peak_mw": ("MW", "peak hour of the compute load alone (= regional peak_load_mw without "
                            "seasonal cooling)"),
        "system_peak_without_compute_mw": ("MW", "peak hour of the load without compute"),
        "system_peak_mw": ("MW", "peak hour of load without compute + compute load (training not shifted)"),
        "peak_increment_mw": ("MW", "growth of system_peak_mw since the base year: system_peak_mw(year) - "
                              "system_peak_mw(base year); includes the growth of the other load"),
        "compute_peak_increment_mw": ("MW", "growth of compute_peak_mw since the base year"),
        "compute_peak_contribution_mw": ("MW", "system_peak_mw - system_peak_without_compute_mw: what the whole "
                                         "compute load adds to the peak (version 1's coincident "
                                         "'peak_increment_mw')"),
        "system_peak_flex_mw": ("MW", "peak hour of total_load_mw, training water-filled (central run; hourly "
                                "years and base year)"),
    },
    "headroom": {
        "scenario": ("", "scenario name"),
        "region_id": ("", "province"),
        "year": ("year", "forecast year (central run)"),
        "curtailment_limit": ("fraction", "share of the new load's annual energy it accepts to lose in "
                              "curtailment: 0.0025, 0.005 or 0.01"),
        "headroom_mw": ("MW", "largest constant new load that does not raise the year's peak of "
                        "total_load_mw if it is curtailed in the hours it would (Norris et al. 2025)"),
    },
    "coincident_peak": {
        "system_peak_mw": ("MW", "peak of the load without compute (baseline less base-year compute energy)"),
        "system_peak_with_compute_mw": ("MW", "peak of load without compute + compute load"),
        "compute_peak_contribution_mw": ("MW", "system_peak_with_compute_mw - system_peak_mw: the whole "
                                         "compute load's share of the peak, NOT growth since the base year "
                                         "(version 1 called it peak_increment_mw)"),
        "peak_growth_since_base_mw": ("MW", "system_peak_with_compute_mw(year) - "
                                      "system_peak_with_compute_mw(base year)"),
        "compute_at_system_peak_mw": ("MW", "compute load in the hour of the with-compute peak"),
    },
}


@dataclass
class HoursOutputs:
    """The hourly tables of one scenario and what the run should say about them."""

    hourly: pd.DataFrame | None = None
    headroom: pd.DataFrame | None = None
    peaks: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def default_hourly_years(scenario: Scenario) -> list[int]:
    """Base year, 2030 when inside the horizon, end year."""
    base, end = scenario.horizon.base_year, scenario.horizon.end_year
    return sorted({base, end} | ({2030} if base < 2030 < end else set()))


def resolve_hourly_years(scenario: Scenario, asked: tuple[int, ...] | None) -> list[int]:
    """The hourly years of ``scenario``: ``asked`` (each inside its horizon) or the default.

    Raises:
        GridcastError: an asked year outside the scenario's horizon.
    """
    if not asked:
        return default_hourly_years(scenario)
    outside = [y for y in asked if y not in scenario.years]
    if outside:
        h = scenario.horizon
        raise GridcastError(f"--hourly-years {outside[0]} is outside the horizon of scenario {scenario.name!r} "
                            f"({h.base_year}-{h.end_year})")
    return sorted(set(asked))


def profile_note(inputs: InputTables) -> str:
    """Which hourly system-load shape the run used (file, hours, leap-year rule)."""
    hourly = inputs.system_hourly
    if hourly is None:
        return (f"no hourly system-load input ({SYSTEM_HOURLY_FILE}): no hourly profiles, headroom or "
                "system peaks")
    name = SYSTEM_HOURLY_FILE if SYSTEM_HOURLY_FILE in inputs.hashes else SYSTEM_HOURLY_LEGACY_FILE
    if len(hourly) == 8784:
        return f"hourly shape: {name}, 8784 hours (a leap year: 29 February, hours 1416-1439, dropped)"
    return f"hourly shape: {name}, 8760 hours"


_PROFILES: dict[str, tuple[tuple, tuple[np.ndarray, np.ndarray]]] = {}
_SHARE_DIGEST: dict[str, tuple[np.ndarray, bytes]] = {}
_PROFILES_LOCK = threading.Lock()


def _run_profiles(inputs: InputTables, region_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_profiles`, once per hourly table (by identity; the cache holds it) and region order.

    The arrays are shared by the run's scenarios and only read.
    """
    key = (inputs.system_hourly, tuple(map(str, region_ids)))
    with _PROFILES_LOCK:
        hit = _PROFILES.get("last")
        if hit is not None and hit[0][0] is key[0] and hit[0][1] == key[1]:
            return hit[1]
    value = _profiles(inputs, region_ids)
    for arr in value:
        arr.flags.writeable = False  # shared: a digest of the shares below stays true
    with _PROFILES_LOCK:
        _PROFILES["last"] = (key, value)
        _SHARE_DIGEST["last"] = (value[0], hashlib.sha256(value[0].tobytes()).digest())
    return value


def _share_digest(share: np.ndarray) -> bytes:
    """sha256 of ``share``: hashed once for the run's shared (read-only) shares, else now."""
    with _PROFILES_LOCK:
        hit = _SHARE_DIGEST.get("last")
    if hit is not None and hit[0] is share and not share.flags.writeable:
        return hit[1]
    return hashlib.sha256(share.tobytes()).digest()


def _profiles(inputs: InputTables, region_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, 8760) shares of each region's annual sum (zeros without a profile) and (R,) has-profile."""
    hourly = inputs.system_hourly
    if hourly is None:
        return np.zeros((len(region_ids), 8760)), np.zeros(len(region_ids), dtype=bool)
    ordered = hourly.sort_values("hour_of_year").rename(columns=str)
    values = representative_year(ordered.reindex(columns=[str(r) for r in region_ids]).to_numpy(float))  # (8760, R)
    total = values.sum(axis=0)
    have = np.isfinite(total) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(have[None, :], values / total[None, :], 0.0)
    return share.T.copy(), have


def _noncompute_twh(base_paths: np.ndarray, region_fac: np.ndarray) -> np.ndarray:
    """``max(0, baseline - F(t0))`` for (D, R, T) paths and facility energy."""
    return np.maximum(base_paths - region_fac[:, :, :1], 0.0)


_REGION_CHUNK = 4  # regions per block of the 8,760-hour arrays: a block's arrays stay in cache


def _central_hours(share: np.ndarray, fleet: Fleet, noncompute: np.ndarray, fac: np.ndarray,
                   season: np.ndarray, s: float) -> dict[str, np.ndarray]:
    """Hourly arrays (R, T, 8760) of the central run: B, L, flexible L (region block by block)."""
    out = {k: np.empty((*noncompute.shape, share.shape[1])) for k in ("system", "compute", "flex")}
    for start in range(0, len(share), _REGION_CHUNK):
        part = slice(start, start + _REGION_CHUNK)
        block = _central_block(share[part], fleet, noncompute[part], fac[part], season, s)
        for k, v in block.items():
            out[k][part] = v
    return out


def _central_block(share: np.ndarray, fleet: Fleet, noncompute: np.ndarray, fac: np.ndarray,
                   season: np.ndarray, s: float) -> dict[str, np.ndarray]:
    b = system_load_mw(share, noncompute)
    lw = compute_load_mw(fac * (1e6 / HOURS_PER_YEAR), fleet.load_factors, season)  # (R, T, W, H)
    load = lw.sum(axis=2)
    shift = s * lw[:, :, _T]
    flex = load - shift + water_fill(b + load - shift, shift)
    return {"system": b, "compute": load, "flex": flex}


_CANDIDATES: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
_CANDIDATES_LOCK = threading.Lock()  # scenarios run on threads: one finds the candidates, the others reuse them


def _candidates(share: np.ndarray, fleet: Fleet, season: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (R, 8760, 1 + W) and padded candidate hours (R, C), cached per shape and season.

    Scenarios of a run share the profile and the load shapes, so the candidates are found
    once per seasonal amplitude (the key is a digest of the inputs, not their identity).
    """
    key = hashlib.sha256(_share_digest(share) + fleet.load_factors.tobytes() + season.tobytes()).digest()
    with _CANDIDATES_LOCK:
        return _CANDIDATES[key] if key in _CANDIDATES else _find_candidates(key, share, fleet, season)


def _find_candidates(key: bytes, share: np.ndarray, fleet: Fleet, season: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compute and cache the candidates (called with the lock held)."""
    feats = np.stack([hour_features(share[r], fleet.load_factors, season) for r in range(len(share))])
    cands = [candidate_hours(f) for f in feats]  # once per region (31), not per hour
    width = max(len(c) for c in cands)
    padded = np.stack([np.resize(c, width) for c in cands])  # repeats a candidate: same max
    if len(_CANDIDATES) > 8:
        _CANDIDATES.clear()
    _CANDIDATES[key] = (feats, padded)
    return feats, padded


def _system_peaks(cands: tuple[np.ndarray, np.ndarray], noncompute: np.ndarray, fac: np.ndarray) -> np.ndarray:
    """(D, R, T) exact peak of B + L, draw chunk by draw chunk, on the candidate hours."""
    feats, padded = cands
    out = np.empty(noncompute.shape)
    for start in range(0, len(out), _DRAW_CHUNK):
        part = slice(start, start + _DRAW_CHUNK)
        out[part] = peaks_on_candidates(noncompute[part].astype(float), fac[part].astype(float), feats, padded)
    return out


def _peak_fields(compute_peak: np.ndarray, without: np.ndarray, system: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "compute_peak_mw": compute_peak,
        "system_peak_without_compute_mw": without,
        "system_peak_mw": system,
        "peak_increment_mw": system - system[..., :1],
        "compute_peak_increment_mw": compute_peak - compute_peak[..., :1],
        "compute_peak_contribution_mw": system - without,
    }


def _peaks_frame(name: str, ids: np.ndarray, years: list[int], central: dict[str, np.ndarray],
                 draws: dict[str, np.ndarray] | None, flex_central: np.ndarray) -> pd.DataFrame:
    stats = {"central": {k: v[0] for k, v in central.items()} | {"system_peak_flex_mw": flex_central}}
    if draws is not None:
        q = {k: draw_quantiles(v, list(QUANTILES.values())) for k, v in draws.items()}
        nan = np.full(flex_central.shape, np.nan)
        for i, stat in enumerate(QUANTILES):
            stats[stat] = {k: v[i] for k, v in q.items()} | {"system_peak_flex_mw": nan}
    frames = []
    for stat, cols in stats.items():
        frames.append(pd.DataFrame({
            "scenario": name, "region_id": np.repeat(ids, len(years)), "year": np.tile(years, len(ids)),
            "stat": stat, **{k: v.ravel() for k, v in cols.items()}}))
    return pd.concat(frames, ignore_index=True)


def hours_tables(inputs: InputTables, fleet: Fleet, scenario: Scenario, baseline: Baseline, central: SimResult,
                 draws: SimResult | None, baseline_z: np.ndarray | None,
                 hourly_years: tuple[int, ...] | None = None) -> HoursOutputs:
    """The ``hourly``, ``headroom`` and ``peaks`` tables of one scenario (see the module docstring)."""
    out = HoursOutputs(notes=[profile_note(inputs)])
    years = scenario.years
    ids = fleet.region_ids
    share, have = _run_profiles(inputs, ids)
    if inputs.system_hourly is not None and not have.all():
        out.notes.append(f"no hourly system-load profile for {', '.join(map(str, ids[~have]))}: no hourly rows, "
                         "headroom or system peaks for them")
    season = seasonal_modulation(scenario.seasonal.pue_amplitude)
    s = scenario.flexibility.training_shiftable_share[1]
    sel = [years.index(y) for y in resolve_hourly_years(scenario, hourly_years)]
    nc = _noncompute_twh(baseline.paths(None), central.region_facility_twh)  # (1, R, T)
    cands = _candidates(share, fleet, season)
    mask = have[None, :, None]
    peak_max = share.max(axis=1)[None, :, None] * 1e6
    c_fields = _peak_fields(central.region_peak_mw * season.max(), np.where(mask, nc * peak_max, np.nan),
                            np.where(mask, _system_peaks(cands, nc, central.facility_twh), np.nan))
    d_fields = None
    if draws is not None:
        nc_d = _noncompute_twh(baseline.paths(baseline_z), draws.region_facility_twh)
        d_fields = _peak_fields(draws.region_peak_mw * season.max(), np.where(mask, nc_d * peak_max, np.nan),
                                np.where(mask, _system_peaks(cands, nc_d, draws.facility_twh), np.nan))
    # the 8,760-hour arrays of the hourly years and the base year: (R with a profile, years, 8760)
    calc = sorted({0, *sel})
    pos = [calc.index(i) for i in sel]
    hours = _central_hours(share[have], fleet, nc[0][have][:, calc], central.facility_twh[0][have][:, calc],
                           season, s)
    total = hours["system"] + hours["flex"]
    flex_peak = np.full((len(ids), len(years)), np.nan)
    flex_peak[np.ix_(have, calc)] = total.max(axis=-1)
    peaks = _peaks_frame(scenario.name, ids, years, c_fields, d_fields, flex_peak)
    if have.all():  # national coincident peak: every region's hours summed (central run)
        nat = {k: v.sum(axis=0)[None, None] for k, v in hours.items()}  # (1, 1, years, 8760)
        nat_fields = _peak_fields(central.national_peak_mw[:, calc][None] * season.max(),
                                  nat["system"].max(axis=-1), (nat["system"] + nat["compute"]).max(axis=-1))
        national = _peaks_frame(scenario.name, np.array([NATIONAL_ID]), [years[i] for i in calc], nat_fields, None,
                                (nat["system"] + nat["flex"]).max(axis=-1)[0])
        peaks = pd.concat([peaks, national], ignore_index=True)
    out.peaks = _typed(peaks)
    if not have.any():
        return out

    def hourly_years(a: np.ndarray) -> np.ndarray:  # usually every year computed: no copy
        return a if pos == list(range(a.shape[1])) else a[:, pos]

    out.hourly = _hourly_frame(scenario.name, ids[have], [years[i] for i in sel],
                               {k: hourly_years(v) for k, v in {**hours, "total": total}.items()})
    room = np.concatenate([headroom_mw(hourly_years(total[start:start + _REGION_CHUNK]), CURTAILMENT_LIMITS)
                           for start in range(0, len(total), _REGION_CHUNK)])  # (R, Ty, X), block by block
    n_r, n_t, n_x = room.shape
    out.headroom = _typed(pd.DataFrame({
        "scenario": scenario.name,
        "region_id": np.repeat(ids[have], n_t * n_x),
        "year": np.tile(np.repeat([years[i] for i in sel], n_x), n_r),
        "curtailment_limit": np.tile(CURTAILMENT_LIMITS, n_r * n_t),
        "headroom_mw": room.ravel(),
    }))
    return out


def _region_column(ids: tuple[str, ...], rows_each: int) -> pd.arrays.ArrowStringArray:
    """Each id repeated ``rows_each`` times, a new pandas array around Arrow data shared by the run's scenarios."""
    return pd.arrays.ArrowStringArray(_region_arrow(ids, rows_each))


@functools.lru_cache(maxsize=2)
def _region_arrow(ids: tuple[str, ...], rows_each: int) -> pa.ChunkedArray:
    return string_column(ids, np.repeat(np.arange(len(ids)), rows_each))._pa_array  # immutable: safe to share


def _hourly_frame(name: str, ids: np.ndarray, years: list[int], hours: dict[str, np.ndarray]) -> pd.DataFrame:
    n_r, n_t, n_h = hours["system"].shape
    n = n_r * n_t * n_h
    # 800k rows a scenario: the columns are handed over as they are (copy=False, no block copy)
    return pd.DataFrame({
        "scenario": constant_strings(name, n),
        "region_id": _region_column(tuple(map(str, ids)), n_t * n_h),
        "year": np.tile(np.repeat(np.asarray(years, dtype=np.int32), n_h), n_r),
        "hour": np.tile(np.arange(n_h, dtype=np.int32), n_r * n_t),
        "system_load_mw": hours["system"].ravel(),
        "compute_load_mw": hours["compute"].ravel(),
        "compute_load_flex_mw": hours["flex"].ravel(),
        "total_load_mw": hours["total"].ravel(),
    }, copy=False)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("scenario", "region_id", "stat"):
        if col in out.columns:
            out[col] = out[col].astype("string")
    if "year" in out.columns:
        out["year"] = out["year"].astype("int32")
    return out
