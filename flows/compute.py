"""One scenario's forecast from validated inputs: central run, draws, summaries.

No Prefect and no file I/O here: the pipeline wraps these calls in tasks. The
draws are simulated in chunks so memory stays bounded; results depend only on
the seed, never on the chunk size or the task runner.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from flows.costs import costs_for_scenario
from flows.errors import InputError
from flows.hours import hours_tables
from flows.schema import InputTables
from models.coincident import ProfileShares, peaks_of_rows, profile_shares
from models.columns import constant_strings, string_column
from models.engine import (
    HOURS_PER_YEAR,
    SIZE_CLASSES,
    ZONES,
    Fleet,
    SimResult,
    build_fleet,
    simulate,
)
from models.hubs import nearest_hub
from models.pipeline import build_planned, pipeline_table, row_keys
from models.sampling import central_params, draw_params, scenario_seed
from models.scenario import Scenario, parameter_ranges
from models.summarize import (
    Baseline,
    forecast_table,
    national_table,
    regional_table,
    rise_odds_table,
    turning_points_table,
)

__all__ = ["ScenarioOutputs", "all_ranges", "coincident_table", "fleet_from_inputs",
           "run_scenario", "sensitivity_table"]

DRAW_CHUNK = 100  # draws per simulation chunk: its (draws, 31, years, 3) arrays stay in cache (2.5x faster than 500)
_DRAW_FIELDS = ("it_twh", "facility_twh", "pue_effective", "region_it_twh", "region_facility_twh",
                "region_peak_mw", "national_peak_mw", "region_new_build_twh", "pipeline_it_twh",
                "pipeline_added_it_twh")


@dataclass
class ScenarioOutputs:
    """The tables one scenario contributes to a run."""

    forecast: pd.DataFrame
    regional: pd.DataFrame
    national: pd.DataFrame
    turning_points: pd.DataFrame
    rise_odds: pd.DataFrame | None = None
    rise_start_dist: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    coincident: pd.DataFrame | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    costs: pd.DataFrame | None = None
    hourly: pd.DataFrame | None = None
    headroom: pd.DataFrame | None = None
    peaks: pd.DataFrame | None = None
    hours_notes: list[str] = field(default_factory=list)
    pipeline: pd.DataFrame | None = None


def fleet_from_inputs(inputs: InputTables, near: pd.DataFrame | None = None) -> Fleet:
    """Region arrays of the fleet (and its planned rows) from the validated input tables."""
    fleet = build_fleet(inputs.regions, inputs.compute_centers, inputs.hub_nodes, inputs.load_shapes, near)
    planned = getattr(inputs, "planned_centers", None)
    if planned is None or planned.empty:
        return fleet
    hub_km = nearest_hub(planned, inputs.hub_nodes)["nearest_hub_km"].to_numpy()
    return replace(fleet, planned=build_planned(planned, fleet.region_ids, hub_km))


def pue_ranges(pue_table: pd.DataFrame, regions: pd.DataFrame, centers: pd.DataFrame,
               planned: pd.DataFrame | None = None) -> dict[str, tuple[float, float, float]]:
    """``pue_table.<size>.<zone> -> (low, central, high)`` for every pair the equations use.

    New-build PUE mixes both size classes of a region's zone, so every zone that
    has centres or planned rows needs both rows. Pairs of zones without either are
    never used and get a neutral 1.0.
    """
    zone_of = regions.set_index("region_id")["zone"]
    zones_used = set(centers["region_id"].map(zone_of).dropna().astype(str))
    if planned is not None:
        zones_used |= set(planned["region_id"].map(zone_of).dropna().astype(str))
    table = pue_table.set_index(["size_class", "zone"])
    out: dict[str, tuple[float, float, float]] = {}
    for size in SIZE_CLASSES:
        for zone in ZONES:
            if (size, zone) in table.index:
                row = table.loc[(size, zone)]
                out[f"pue_table.{size}.{zone}"] = (
                    float(row["pue_low"]), float(row["pue_central"]), float(row["pue_high"]))
            elif zone in zones_used:
                raise InputError(
                    "pue_assumptions.csv",
                    f"no row for size_class {size!r} and zone {zone!r}; regions of zone "
                    f"{zone!r} have centres or planned rows and new-build PUE mixes both size classes",
                    column="size_class",
                )
            else:
                out[f"pue_table.{size}.{zone}"] = (1.0, 1.0, 1.0)
    return out


def all_ranges(scenario: Scenario, inputs: InputTables) -> dict[str, tuple[float, float, float]]:
    """Scenario parameter ranges plus the PUE table's, by dotted name.

    The ``emissions.*`` keys do not change energy: they are drawn with the costs
    (``flows.costs``), so adding them leaves the energy draws as they were.
    """
    energy = {k: v for k, v in parameter_ranges(scenario).items() if not k.startswith("emissions.")}
    return {**energy,
            **pue_ranges(inputs.pue_assumptions, inputs.regions, inputs.compute_centers,
                         getattr(inputs, "planned_centers", None))}


def simulate_draws(fleet: Fleet, scenario: Scenario, params: dict[str, np.ndarray],
                   chunk: int = DRAW_CHUNK, build_keys: np.ndarray | None = None) -> SimResult:
    """Simulate many draws chunk by chunk into preallocated float32 arrays.

    With ``build_keys`` (:func:`models.pipeline.row_keys`), planned rows are built or not
    by a Bernoulli draw per row and draw; the draw's global index keys the stream, so
    results do not depend on ``chunk``.
    """
    n = len(next(iter(params.values())))
    store: dict[str, np.ndarray] = {}
    for start in range(0, n, chunk):
        part = {k: v[start:start + chunk] for k, v in params.items()}
        size = len(next(iter(part.values())))
        build = None if build_keys is None else (build_keys, np.arange(start, start + size))
        sim = simulate(fleet, scenario, part, build)
        for name in _DRAW_FIELDS:
            arr = getattr(sim, name)
            if name not in store:
                store[name] = np.empty((n, *arr.shape[1:]), dtype=np.float32)
            store[name][start:start + len(arr)] = arr
    return SimResult(**store)


def sensitivity_table(fleet: Fleet, scenario: Scenario, ranges: dict[str, tuple[float, float, float]],
                      draws: dict[str, np.ndarray] | None, draw_sim: SimResult | None,
                      central: SimResult | None = None) -> pd.DataFrame:
    """National facility energy in 2030 and the end year: one-at-a-time swings and rank correlation.

    Each parameter with a range is set to its low, then its high value, all others
    central (one vectorised simulation of 2P draws). With Monte Carlo draws, the
    Spearman rank correlation between the parameter and the national energy is added.
    """
    ranged = sorted(k for k, (lo, _, hi) in ranges.items() if hi > lo)
    years = scenario.years
    targets = sorted({y for y in (2030, years[-1]) if years[0] < y <= years[-1]})
    if not ranged or not targets:
        return pd.DataFrame()
    n = 2 * len(ranged)
    params = {k: np.full(n, c) for k, (_, c, _) in ranges.items()}
    for i, k in enumerate(ranged):
        params[k][2 * i] = ranges[k][0]
        params[k][2 * i + 1] = ranges[k][2]
    swing = simulate(fleet, scenario, params).region_facility_twh.sum(axis=1)  # (2P, T)
    if central is None:
        central = simulate(fleet, scenario, central_params(ranges))
    central_nat = central.region_facility_twh.sum(axis=1)[0]
    idx = [years.index(y) for y in targets]
    # ranks of every parameter's draws, once (the same for every year; one 2-D rank is 2x faster)
    ranks = None if draws is None else pd.DataFrame({k: draws[k] for k in ranged}).rank().to_numpy().T.copy()
    rows = []
    for t_i, year in zip(idx, targets, strict=True):
        frame = pd.DataFrame({
            "scenario": scenario.name, "year": year, "parameter": ranged,
            "low_value": [ranges[k][0] for k in ranged], "high_value": [ranges[k][2] for k in ranged],
            "central_twh": central_nat[t_i],
            "at_low_twh": swing[0::2, t_i], "at_high_twh": swing[1::2, t_i],
        })
        frame["swing_twh"] = (frame["at_high_twh"] - frame["at_low_twh"]).abs()
        if draws is not None and draw_sim is not None:
            nat = pd.Series(draw_sim.region_facility_twh.sum(axis=1)[:, t_i].astype(float))
            rank_nat = nat.rank().to_numpy()
            frame["rank_corr"] = [float(np.corrcoef(ranks[i], rank_nat)[0, 1]) for i in range(len(ranged))]
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    out["scenario"] = out["scenario"].astype("string")
    out["parameter"] = out["parameter"].astype("string")
    return out.sort_values(["year", "swing_twh"], ascending=[True, False], kind="stable").reset_index(drop=True)


def coincident_table(system_hourly: pd.DataFrame, fleet: Fleet, scenario: Scenario, baseline: Baseline,
                     central: SimResult) -> pd.DataFrame:
    """Regional system peak with and without compute load (central run).

    The load without compute is the baseline less the base-year compute energy
    (``baseline - F(t0)``), shaped by the region's 2018 hourly profile; the compute
    load is each workload's average MW times its 24-hour factor. Their energies add
    up to ``total_twh``. ``compute_peak_contribution_mw`` is what the whole compute load
    adds to the peak; ``peak_growth_since_base_mw`` is the with-compute peak's growth since
    the base year (the first year of each region).
    """
    years = np.asarray(scenario.years)
    ids = fleet.region_ids
    fac = central.facility_twh[0]  # (R, T, W)
    non_compute = baseline.central_twh - central.region_facility_twh[0][:, :1]
    have = set(map(str, system_hourly.columns))
    keep = np.array([str(r) in have for r in ids], dtype=bool)
    if not keep.any():
        return pd.DataFrame()
    kept = [str(r) for r in ids[keep]]
    hourly = np.einsum("rtw,wh->rth", fac * (1e6 / HOURS_PER_YEAR), fleet.load_factors)  # (R, T, 24)
    energy_mwh = np.maximum(non_compute, 0.0)[keep].ravel() * 1e6
    peak, with_compute, at_peak = peaks_of_rows(
        _coincident_profiles(system_hourly, kept), np.repeat(np.arange(len(kept)), len(years)), energy_mwh,
        hourly[keep].reshape(-1, 24))
    by_region = with_compute.reshape(len(kept), len(years))
    first = np.take_along_axis(by_region, np.argmax(~np.isnan(by_region), axis=1)[:, None], axis=1)
    n = len(kept) * len(years)
    return pd.DataFrame({
        "scenario": constant_strings(scenario.name, n),
        "region_id": string_column(kept, np.repeat(np.arange(len(kept), dtype=np.int32), len(years))),
        "year": np.tile(years.astype(np.int64), len(kept)),
        "system_peak_mw": peak,
        "system_peak_with_compute_mw": with_compute,
        "compute_peak_contribution_mw": with_compute - peak,
        "compute_at_system_peak_mw": at_peak,
        "peak_growth_since_base_mw": (by_region - first).ravel(),
    })


_PROFILES: dict[tuple[int, tuple[str, ...]], tuple[pd.DataFrame, ProfileShares]] = {}
_PROFILES_LOCK = threading.Lock()


def _coincident_profiles(system_hourly: pd.DataFrame, regions: list[str]) -> ProfileShares:
    """:func:`models.coincident.profile_shares`, computed once per hourly table (scenarios share it)."""
    key = (id(system_hourly), tuple(regions))
    with _PROFILES_LOCK:
        hit = _PROFILES.get(key)
        if hit is not None and hit[0] is system_hourly:
            return hit[1]
        profiles = profile_shares(system_hourly, regions)
        if len(_PROFILES) > 8:
            _PROFILES.clear()
        _PROFILES[key] = (system_hourly, profiles)  # holding the frame keeps its id unique
        return profiles


def run_scenario(inputs: InputTables, scenario: Scenario, baseline: Baseline, *, n_draws: int, seed: int,
                 threshold: float = 0.05, fleet: Fleet | None = None,
                 hourly_years: tuple[int, ...] | None = None) -> ScenarioOutputs:
    """Central run, optional Monte Carlo and every summary table of one scenario.

    Args:
        inputs: validated input tables (``flows.validate.InputTables``).
        scenario: the resolved scenario.
        baseline: the regional baseline aligned to the fleet's regions and the scenario's years.
        n_draws: Monte Carlo draws (0 = central run only).
        seed: the run's seed (combined with the scenario name).
        threshold: year-on-year growth that counts as rising (fraction).
        hourly_years: years of the ``hourly`` and ``headroom`` tables (default: base year,
            2030 inside the horizon, end year).
    """
    fleet = fleet if fleet is not None else fleet_from_inputs(inputs)
    ranges = all_ranges(scenario, inputs)
    central = simulate(fleet, scenario, central_params(ranges))
    draws = draw_sim = z = None
    if n_draws > 0:
        seq = scenario_seed(seed, scenario.name)
        # children 0 and 1: parameters and baseline; 2: costs (flows.costs); 3: the [pipeline]
        # keys, so the other parameters' draws stay those of a scenario without a pipeline
        param_seq, base_seq, _, pipe_seq = seq.spawn(4)
        pipe = {k: v for k, v in ranges.items() if k.startswith("pipeline.")}
        draws = draw_params({k: v for k, v in ranges.items() if k not in pipe}, n_draws, param_seq)
        draws |= draw_params(pipe, n_draws, pipe_seq) if pipe else {}
        keys = None if fleet.planned is None else row_keys(fleet.planned, seed, scenario.name)
        draw_sim = simulate_draws(fleet, scenario, draws, build_keys=keys)
        z = np.random.default_rng(base_seq).standard_normal((n_draws, len(fleet.region_ids)))
    ids, years = fleet.region_ids, scenario.years
    out = ScenarioOutputs(
        forecast=forecast_table(scenario.name, ids, years, central, draw_sim),
        regional=regional_table(scenario.name, ids, years, central, draw_sim, baseline, z),
        national=national_table(scenario.name, years, central, draw_sim, baseline, z),
        turning_points=turning_points_table(scenario.name, ids, years, central, threshold),
    )
    if draw_sim is not None:
        out.rise_odds, out.rise_start_dist = rise_odds_table(scenario.name, ids, years, draw_sim, threshold)
    out.sensitivity = sensitivity_table(fleet, scenario, ranges, draws, draw_sim, central)
    hourly = getattr(inputs, "system_hourly", None)
    if hourly is not None:
        out.coincident = coincident_table(hourly, fleet, scenario, baseline, central)
    out.costs = costs_for_scenario(inputs, fleet, scenario, central, draw_sim, seed)
    t_hours = time.perf_counter()
    hours = hours_tables(inputs, fleet, scenario, baseline, central, draw_sim, z, hourly_years)
    out.hourly, out.headroom, out.peaks, out.hours_notes = hours.hourly, hours.headroom, hours.peaks, hours.notes
    out.timings_s["hours"] = time.perf_counter() - t_hours
    if fleet.planned is not None and scenario.pipeline is not None:
        table = pipeline_table(fleet.planned, ids, years, central_params(ranges))
        table.insert(0, "scenario", pd.Categorical.from_codes(np.zeros(len(table), dtype=np.int8), [scenario.name]))
        out.pipeline = table
    return out
