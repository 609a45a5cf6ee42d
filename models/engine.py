"""The forecast equations of docs/methodology.md section 3, vectorised over draws.

Every array carries a leading draw axis ``D`` (the central run is one draw with
every parameter at its central value), then regions ``R``, years ``T`` and
workloads ``W`` (general, training, inference). Nothing here loops over
centres, regions, years or draws; the only Python loop is over the scenario's
levers (a handful of named parameters, not data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.hubs import nearest_hub
from models.pipeline import PlannedFleet, combine, pipeline_energy
from models.scenario import WORKLOADS, Scenario
from models.short_axis import max_last, sum_last

__all__ = [
    "HOURS_PER_YEAR",
    "SIZE_CLASSES",
    "Fleet",
    "SimResult",
    "build_fleet",
    "base_it_energy",
    "growth_index",
    "adoption_curve",
    "software_multiplier",
    "diffusion_index",
    "rebound_factor",
    "shift_training_to_hubs",
    "facility_energy",
    "peak_load_mw",
    "simulate",
]

HOURS_PER_YEAR = 8760.0  # average MW = TWh * 1e6 / 8760, leap years too (docs/methodology.md 3.10)
SIZE_CLASSES: tuple[str, ...] = ("large", "small_medium")
ZONES: tuple[str, ...] = ("east", "west")


@dataclass(frozen=True)
class Fleet:
    """Region-level arrays derived once from the validated input tables.

    Attributes:
        region_ids: (R,) region ids in output order.
        zone_idx: (R,) 0 = east, 1 = west.
        lag_years: (R,) diffusion lag in years.
        e0_twh: (R, W) base-year IT energy per region and workload, TWh.
        e0_default_pue_twh: (R, 2) base IT energy of centres without their own PUE,
            by size class (large, small_medium), TWh.
        own_pue_weighted_twh: (R,) sum of ``E0_c * pue_c`` over centres with their own PUE.
        train_declared_twh: (R,) base training energy of centres with a declared ``hub_id``.
        hub_key: (K,) sorted complex keys ``region_index + 1j * distance_km`` of the other
            centres with coordinates (distance to their nearest hub). numpy orders complex
            numbers lexicographically (real, then imaginary), so one ``searchsorted`` finds,
            exactly, the centres of each region within any radius.
        hub_key_train_cum_twh: (K + 1,) cumulative training energy along ``hub_key``.
        load_factors: (W, 24) hourly load-shape factors (mean 1).
        peak_factors: (W, H) the columns of ``load_factors`` of the hours that can be a peak
            (see :func:`candidate_peak_hours`); peaks computed on them are exact.
        planned: the planned rows (:func:`models.pipeline.build_planned`), or None.
    """

    region_ids: np.ndarray
    zone_idx: np.ndarray
    lag_years: np.ndarray
    e0_twh: np.ndarray
    e0_default_pue_twh: np.ndarray
    own_pue_weighted_twh: np.ndarray
    train_declared_twh: np.ndarray
    hub_key: np.ndarray
    hub_key_train_cum_twh: np.ndarray
    load_factors: np.ndarray
    peak_factors: np.ndarray
    planned: PlannedFleet | None = None


def base_it_energy(centers: pd.DataFrame) -> pd.DataFrame:
    """Base-year IT energy of each centre split by workload.

    ``E0_c = it_capacity_mw * utilization * 8.76e-3`` TWh; general ``1 - ai_share``,
    training ``ai_share * training_share``, inference ``ai_share * (1 - training_share)``.

    >>> c = pd.DataFrame({"it_capacity_mw": [100.0], "utilization": [0.5],
    ...                   "ai_share": [0.4], "training_share": [0.25]})
    >>> base_it_energy(c).round(4).to_dict("records")
    [{'e0_twh': 0.438, 'general': 0.2628, 'training': 0.0438, 'inference': 0.1314}]
    """
    e0 = centers["it_capacity_mw"].to_numpy(float) * centers["utilization"].to_numpy(float) * 8.76e-3
    ai = centers["ai_share"].to_numpy(float)
    tr = centers["training_share"].to_numpy(float)
    return pd.DataFrame(
        {
            "e0_twh": e0,
            "general": e0 * (1.0 - ai),
            "training": e0 * ai * tr,
            "inference": e0 * ai * (1.0 - tr),
        },
        index=centers.index,
    )


def build_fleet(
    regions: pd.DataFrame,
    centers: pd.DataFrame,
    hubs: pd.DataFrame,
    load_shapes: pd.DataFrame,
    near: pd.DataFrame | None = None,
) -> Fleet:
    """Aggregate the validated tables into the arrays :func:`simulate` needs.

    Args:
        regions: ``region_id``, ``zone``, ``diffusion_lag_years``.
        centers: ``center_id``, ``region_id``, ``hub_id``, ``lat``, ``lon``, ``size_class``,
            ``it_capacity_mw``, ``utilization``, ``ai_share``, ``training_share``, ``pue``.
        hubs: ``hub_id``, ``lat``, ``lon``.
        load_shapes: ``workload``, ``hour``, ``factor``.
        near: :func:`models.hubs.nearest_hub` of ``centers`` when the caller has it already
            (it is the costly step for large fleets).
    """
    region_ids = regions["region_id"].astype(str).to_numpy()
    n_r = len(region_ids)
    r_of = pd.Index(region_ids).get_indexer(centers["region_id"].astype(str))
    e = base_it_energy(centers)
    e0 = np.zeros((n_r, len(WORKLOADS)))
    for j, w in enumerate(WORKLOADS):
        e0[:, j] = np.bincount(r_of, weights=e[w].to_numpy(), minlength=n_r)

    own = centers["pue"].to_numpy(dtype=float, na_value=np.nan)
    has_own = np.isfinite(own)
    total = e["e0_twh"].to_numpy()
    own_weighted = np.bincount(r_of, weights=np.where(has_own, total * own, 0.0), minlength=n_r)
    size_idx = pd.Index(SIZE_CLASSES).get_indexer(centers["size_class"].astype(str))
    default = np.zeros((n_r, len(SIZE_CLASSES)))
    for s in range(len(SIZE_CLASSES)):
        sel = (~has_own) & (size_idx == s)
        default[:, s] = np.bincount(r_of[sel], weights=total[sel], minlength=n_r)

    train = e["training"].to_numpy()
    declared = centers["hub_id"].notna().to_numpy()
    train_declared = np.bincount(r_of[declared], weights=train[declared], minlength=n_r)
    near = nearest_hub(centers, hubs) if near is None else near
    dist = near["nearest_hub_km"].to_numpy()
    free = (~declared) & np.isfinite(dist)
    key = r_of[free].astype(float) + 1j * dist[free]
    order = np.argsort(key, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(train[free][order])])

    shapes = load_shapes.pivot(index="workload", columns="hour", values="factor")
    factors = shapes.reindex(index=list(WORKLOADS), columns=range(24)).to_numpy(float)
    return Fleet(
        region_ids=region_ids,
        zone_idx=pd.Index(ZONES).get_indexer(regions["zone"].astype(str)),
        lag_years=regions["diffusion_lag_years"].to_numpy(dtype=float, na_value=0.0),
        e0_twh=e0,
        e0_default_pue_twh=default,
        own_pue_weighted_twh=own_weighted,
        train_declared_twh=train_declared,
        hub_key=key[order],
        hub_key_train_cum_twh=cum,
        load_factors=factors,
        peak_factors=factors[:, candidate_peak_hours(factors)],
    )


def growth_index(growth: np.ndarray, taper: np.ndarray, hw_gain: np.ndarray, n_years: int) -> np.ndarray:
    """``G(t) = prod_{k=1..tau} (1 + growth * taper^(k-1)) * (1 - hw_gain)``, ``G(t0) = 1``.

    Args:
        growth, taper, hw_gain: (D,) arrays (fractions per year).
        n_years: number of years T including the base year.

    Returns:
        (D, T) index relative to the base year.

    >>> growth_index(np.array([0.5]), np.array([0.5]), np.array([0.0]), 3).round(4).tolist()
    [[1.0, 1.5, 1.875]]
    """
    k = np.arange(1, n_years)
    steps = (1.0 + growth[:, None] * taper[:, None] ** (k - 1)) * (1.0 - hw_gain[:, None])
    return np.concatenate([np.ones((len(growth), 1)), np.cumprod(steps, axis=1)], axis=1)


def adoption_curve(
    years: np.ndarray, ceiling: np.ndarray, midpoint: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Logistic adoption ``a(t) = ceiling / (1 + exp(-(t - midpoint) / scale))``; (D, T)."""
    z = -(years[None, :] - midpoint[:, None]) / scale[:, None]
    return ceiling[:, None] / (1.0 + np.exp(z))


def software_multiplier(adoption: np.ndarray, saving: np.ndarray) -> np.ndarray:
    """One lever's factor ``(1 - a(t) s) / (1 - a(t0) s)``; (D, T), 1 in the base year."""
    left = 1.0 - adoption * saving[:, None]
    return left / left[:, :1]


def diffusion_index(
    years: np.ndarray, midpoint: np.ndarray, scale: np.ndarray, lag_years: np.ndarray
) -> np.ndarray:
    """Rebound diffusion ``D_r(t) = (d_r(t) - d_r(t0)) / (1 - d_r(t0))``; (D, R, T).

    ``d_r(t) = 1 / (1 + exp(-(t - (midpoint + lag_r)) / scale))``.
    """
    mid = midpoint[:, None, None] + lag_years[None, :, None]
    d = 1.0 / (1.0 + np.exp(-(years[None, None, :] - mid) / scale[:, None, None]))
    d0 = d[:, :, :1]
    return (d - d0) / (1.0 - d0)


def rebound_factor(diffusion: np.ndarray, multiplier: np.ndarray, elasticity: np.ndarray) -> np.ndarray:
    """``R = 1 + D_r(t) (M_w(t)^(-eps_w) - 1)``.

    Args:
        diffusion: (D, R, T).
        multiplier: (D, T, W) software multipliers.
        elasticity: (D, W) rebound elasticities (0 for general).

    Returns:
        (D, R, T, W).
    """
    boost = multiplier ** (-elasticity[:, None, :]) - 1.0
    return 1.0 + diffusion[..., None] * boost[:, None, :, :]


def shift_training_to_hubs(
    train_twh: np.ndarray,
    train0_twh: np.ndarray,
    hub_train0_twh: np.ndarray,
    shift: np.ndarray,
    planned_hub_twh: np.ndarray | None = None,
) -> np.ndarray:
    """Move part of each region's training growth to the hub-assigned regions.

    Receivers are weighted by ``H_r + Q_r(t)``: base training energy in hub-assigned
    centres plus the training part of the region's hub-assigned planned rows in year t.
    ``hubshare_r`` and the moved energy depend on the base fleet only; where
    ``sum_r (H_r + Q_r(t)) = 0`` nothing moves.

    Args:
        train_twh: (D, R, T) training IT energy after rebound.
        train0_twh: (R,) base-year training IT energy.
        hub_train0_twh: (D, R) base training energy in hub-assigned centres (``H_r``).
        shift: (D,) ``training_shift_to_hubs``.
        planned_hub_twh: (D, R, T) ``Q_r(t)``, or None (no pipeline).

    Returns:
        (D, R, T) training energy after the shift; the national sum is unchanged.
    """
    receive = hub_train0_twh[:, :, None] * np.ones(train_twh.shape[-1])
    if planned_hub_twh is not None:
        receive = receive + planned_hub_twh
    total = receive.sum(axis=1, keepdims=True)  # (D, 1, T)
    with np.errstate(invalid="ignore", divide="ignore"):
        hubshare = np.where(train0_twh[None, :] > 0, hub_train0_twh / train0_twh[None, :], 0.0)
        weights = np.where(total > 0, receive / total, 0.0)
    inc = np.maximum(0.0, train_twh - train0_twh[None, :, None])
    moved = shift[:, None, None] * inc * (1.0 - hubshare)[:, :, None]
    moved = np.where(total > 0, moved, 0.0)
    pool = moved.sum(axis=1, keepdims=True)  # (D, 1, T)
    return train_twh - moved + weights * pool


def facility_energy(
    it_total_twh: np.ndarray, pue_exist: np.ndarray, pue_new: np.ndarray
) -> np.ndarray:
    """``F = min(E, E0) PUE_exist + max(0, E - E0) PUE_new``.

    Args:
        it_total_twh: (D, R, T) IT energy summed over workloads; column 0 is the base year.
        pue_exist: (D, R).
        pue_new: (D, R, T).
    """
    e0 = it_total_twh[:, :, :1]
    return np.minimum(it_total_twh, e0) * pue_exist[:, :, None] + np.maximum(
        0.0, it_total_twh - e0
    ) * pue_new


def candidate_peak_hours(load_factors: np.ndarray) -> np.ndarray:
    """Hours that can carry the peak of ``sum_w x_w * factor_w(hour)`` for some ``x >= 0``.

    An hour whose factors are all <= those of another hour (and not identical) can
    never be the unique maximum, because energies are never negative; dropping such
    dominated hours makes the peak search exact and much cheaper (with flat general
    and training shapes, one diurnal shape leaves a single candidate hour).

    >>> f = np.array([[1.0, 1.0, 1.0], [0.5, 2.0, 0.5]])
    >>> candidate_peak_hours(f).tolist()
    [1]
    """
    a = load_factors.T[:, None, :]  # (H, 1, W)
    b = load_factors.T[None, :, :]  # (1, H, W)
    dominated_by = (b >= a).all(axis=-1) & (b > a).any(axis=-1)  # [h, h'] h' dominates h
    keep = ~dominated_by.any(axis=1)
    # identical hours: keep the first of each group only
    _, first = np.unique(load_factors.T[keep], axis=0, return_index=True)
    return np.sort(np.flatnonzero(keep)[first])


def peak_load_mw(facility_by_workload_twh: np.ndarray, load_factors: np.ndarray) -> np.ndarray:
    """``max_hour sum_w avg_MW_w * factor_w(hour)``.

    Args:
        facility_by_workload_twh: (..., W) facility energy per workload, TWh.
        load_factors: (W, H) factors of H hours (24, or the candidate peak hours).

    Returns:
        (...) peak MW.
    """
    # matmul (BLAS) over the small workload axis is ~5x faster than einsum here
    lead = facility_by_workload_twh.shape[:-1]
    flat = np.ascontiguousarray(facility_by_workload_twh).reshape(-1, load_factors.shape[0])
    hourly = flat @ (load_factors * (1e6 / HOURS_PER_YEAR))
    return max_last(hourly).reshape(lead)


@dataclass(frozen=True)
class SimResult:
    """Arrays of one simulation (D draws).

    it_twh, facility_twh: (D, R, T, W); pue_effective: (D, R, T) (NaN without IT energy);
    region_facility_twh, region_it_twh, region_peak_mw: (D, R, T);
    national_peak_mw: (D, T) (coincident over regions on the 24-hour shapes);
    region_new_build_twh: (D, R, T) new-build facility energy ``max(0, E - E0) * PUE_new``;
    pipeline_it_twh: (D, R, T) region pipeline ``P_r`` (expected value, or built rows in a draw);
    pipeline_added_it_twh: (D, R, T) what the pipeline added to the trend (``X_r`` or ``P_r``).
    """

    it_twh: np.ndarray
    facility_twh: np.ndarray
    pue_effective: np.ndarray
    region_it_twh: np.ndarray
    region_facility_twh: np.ndarray
    region_peak_mw: np.ndarray
    national_peak_mw: np.ndarray
    region_new_build_twh: np.ndarray | None = None
    pipeline_it_twh: np.ndarray | None = None
    pipeline_added_it_twh: np.ndarray | None = None


def _hub_training(fleet: Fleet, radius_km: np.ndarray) -> np.ndarray:
    """(D, R) base training energy in hub-assigned centres for each radius draw."""
    n_r = len(fleet.region_ids)
    starts = np.arange(n_r, dtype=float) + 0j
    lo = np.searchsorted(fleet.hub_key, starts - 1j, side="left")  # (R,) distances are >= 0
    hi = np.searchsorted(fleet.hub_key, starts[None, :] + 1j * radius_km[:, None], side="right")
    near = fleet.hub_key_train_cum_twh[hi] - fleet.hub_key_train_cum_twh[lo][None, :]
    return fleet.train_declared_twh[None, :] + near


def _pue_arrays(
    fleet: Fleet, scenario: Scenario, p: Mapping[str, np.ndarray], years: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Existing-fleet PUE (D, R) and new-build PUE (D, R, T)."""
    table = np.stack(
        [np.stack([p[f"pue_table.{s}.{z}"] for z in ZONES], axis=-1) for s in SIZE_CLASSES],
        axis=1,
    )  # (D, S, Z)
    by_region = table[:, :, fleet.zone_idx]  # (D, S, R)
    e0_total = fleet.e0_twh.sum(axis=1)
    weighted = fleet.own_pue_weighted_twh[None, :] + np.einsum(
        "rs,dsr->dr", fleet.e0_default_pue_twh, by_region
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        pue_exist = np.where(e0_total[None, :] > 0, weighted / e0_total[None, :], np.nan)
    sigma = p["pue.new_build_small_medium_share"][:, None]
    pue_new = sigma * by_region[:, 1, :] + (1.0 - sigma) * by_region[:, 0, :]  # (D, R)
    pue_new = np.repeat(pue_new[:, :, None], len(years), axis=2)
    for z_i, zone in enumerate(ZONES):
        cap = scenario.pue.new_build_cap.get(zone)
        if cap is None:
            continue
        mask = (fleet.zone_idx == z_i)[:, None] & (years >= cap.from_year)[None, :]
        capped = np.minimum(pue_new, p[f"pue.new_build_cap.{zone}.value"][:, None, None])
        pue_new = np.where(mask[None, :, :], capped, pue_new)
    return pue_exist, np.maximum(pue_new, 1.0)


def _multipliers(scenario: Scenario, p: Mapping[str, np.ndarray], years: np.ndarray, n_d: int) -> np.ndarray:
    """Software multipliers M_w(t): (D, T, W)."""
    m = np.ones((n_d, len(years), len(WORKLOADS)))
    for name, lever in scenario.levers.items():
        a = adoption_curve(
            years,
            p[f"levers.{name}.adoption_ceiling"],
            p[f"levers.{name}.adoption_midpoint"],
            p[f"levers.{name}.adoption_scale"],
        )
        factor = software_multiplier(a, p[f"levers.{name}.saving"])
        for w in lever.workloads:
            m[:, :, WORKLOADS.index(w)] *= factor
    return m


def simulate(
    fleet: Fleet,
    scenario: Scenario,
    params: Mapping[str, np.ndarray],
    build: tuple[np.ndarray, np.ndarray] | None = None,
) -> SimResult:
    """Run the equations of docs/methodology.md sections 3 and 3.19 for D parameter draws at once.

    A year's order: (1) trend, (2) pipeline of planned rows, (3) training shift to hubs
    (receivers weighted by base plus planned hub training), (4) trend and pipeline
    combined, (5) PUE, facility energy and peak on the combined IT energy.

    Args:
        fleet: arrays from :func:`build_fleet`.
        scenario: the resolved scenario (structure: years, levers, caps, pipeline mode).
        params: every name of :func:`models.scenario.parameter_ranges` plus
            ``pue_table.<size_class>.<zone>``, each a (D,) array.
        build: ``(row keys, draw index)`` for Bernoulli build draws of the planned rows
            (see :func:`models.pipeline.pipeline_energy`); None: expected values.
    """
    years = np.asarray(scenario.years, dtype=float)
    p = params
    n_d = len(p["growth.taper"])
    g = np.stack(
        [
            growth_index(p[f"growth.{w}"], p["growth.taper"], p[f"hardware_efficiency_gain.{w}"], len(years))
            for w in WORKLOADS
        ],
        axis=-1,
    )  # (D, T, W)
    m = _multipliers(scenario, p, years, n_d)
    diff = diffusion_index(years, p["rebound.diffusion_midpoint"], p["rebound.diffusion_scale"], fleet.lag_years)
    eps = np.stack(
        [np.zeros(n_d), p["rebound.elasticity_training"], p["rebound.elasticity_inference"]], axis=-1
    )
    it = fleet.e0_twh[None, :, None, :] * (g * m)[:, None, :, :] * rebound_factor(diff, m, eps)
    t_i = WORKLOADS.index("training")
    pipe, planned_hub = _pipeline(fleet, scenario, p, years, build, it.shape)
    hub_train = _hub_training(fleet, p["hubs.assignment_radius_km"])
    it[..., t_i] = shift_training_to_hubs(
        it[..., t_i], fleet.e0_twh[:, t_i], hub_train, p["hubs.training_shift_to_hubs"], planned_hub
    )
    mode = scenario.pipeline.mode if scenario.pipeline is not None else "additional"
    it, added = combine(it, pipe, mode)
    region_it = sum_last(it)
    pue_exist, pue_new = _pue_arrays(fleet, scenario, p, years)
    # a region without base centres has no existing-fleet PUE; its min(E, E0) term is 0
    region_fac = facility_energy(region_it, np.nan_to_num(pue_exist, nan=1.0), pue_new)
    with np.errstate(invalid="ignore", divide="ignore"):
        pue_eff = np.where(region_it > 0, region_fac / region_it, np.nan)
    region_fac = np.where(region_it > 0, region_fac, 0.0)
    fac = it * np.nan_to_num(pue_eff)[..., None]
    return SimResult(
        it_twh=it,
        facility_twh=fac,
        pue_effective=pue_eff,
        region_it_twh=region_it,
        region_facility_twh=region_fac,
        region_peak_mw=peak_load_mw(fac, fleet.peak_factors),
        national_peak_mw=peak_load_mw(fac.sum(axis=1), fleet.peak_factors),
        region_new_build_twh=np.maximum(0.0, region_it - region_it[:, :, :1]) * pue_new,
        pipeline_it_twh=sum_last(pipe),
        pipeline_added_it_twh=added,
    )


def _pipeline(
    fleet: Fleet,
    scenario: Scenario,
    p: Mapping[str, np.ndarray],
    years: np.ndarray,
    build: tuple[np.ndarray, np.ndarray] | None,
    shape: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Region pipeline (D, R, T, W) and its hub-assigned training part (None without rows)."""
    if fleet.planned is None or fleet.planned.n_rows == 0:
        return np.zeros(shape), None
    if scenario.pipeline is None:
        raise ValueError(f"scenario {scenario.name!r} has no [pipeline] table but the data has planned rows")
    return pipeline_energy(fleet.planned, years, p, build)
