"""What the compute load costs and emits: the two identities, vectorised over draws.

Per region r and year t (arrays carry a leading draw axis D):

* ``electricity_cost_bn_cny = F * price``: TWh times CNY/kWh is billion CNY exactly
  (1 TWh = 1e9 kWh, and 1e9 CNY = 1 bn CNY).
* ``green_supplied_twh = G = green_share_r * N``, with ``N = max(0, E - E0) * PUE_new``
  the new-build facility energy of the forecast (``SimResult.region_new_build_twh``).
* ``emissions_mt_co2 = (F - G) * factor``: TWh times kg CO2/kWh is Mt CO2 exactly
  (1e9 kWh x 1 kg = 1e9 kg = 1 Mt).

The grid factor of a year after the last given year is the last given factor times
``(1 + factor_change_per_year) ** (t - last)``; a year between given years takes the
nearest earlier given year's factor; a year before the first given year takes the first.

No file I/O here: ``flows.costs`` turns the input tables into these arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from models.summarize import stat_arrays

__all__ = [
    "ALL_REGIONS",
    "MissingFactorError",
    "electricity_cost_bn_cny",
    "emissions_mt_co2",
    "factor_grid",
    "factor_growth",
    "factor_paths",
    "green_share",
    "green_supplied_twh",
    "costs_table",
]

ALL_REGIONS = "ALL"
_ZONES: tuple[str, ...] = ("east", "west")


class MissingFactorError(ValueError):
    """Some regions have no grid emission factor row; ``regions`` names them."""

    def __init__(self, regions: Sequence[str]):
        self.regions = list(regions)
        super().__init__(f"no grid emission factor for region(s) {', '.join(self.regions)}")


def electricity_cost_bn_cny(facility_twh: np.ndarray, price_cny_per_kwh: np.ndarray) -> np.ndarray:
    """``F * price`` in billion CNY; facility (D, R, T), price (D, R).

    >>> float(electricity_cost_bn_cny(np.array([[[2.0]]]), np.array([[0.5]]))[0, 0, 0])
    1.0
    """
    return facility_twh * price_cny_per_kwh[:, :, None]


def green_supplied_twh(new_build_twh: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``G = share * N``: new-build facility energy (D, R, T) times green share (D, R)."""
    return new_build_twh * share[:, :, None]


def emissions_mt_co2(facility_twh: np.ndarray, green_twh: np.ndarray, factor_kg_per_kwh: np.ndarray) -> np.ndarray:
    """``(F - G) * factor`` in Mt CO2; all (D, R, T)."""
    return (facility_twh - green_twh) * factor_kg_per_kwh


def factor_paths(
    factors: pd.DataFrame, region_ids: Sequence[str], years: Sequence[int], change: np.ndarray
) -> np.ndarray:
    """Grid factor (kg CO2/kWh) of every region and year, for each draw of the change.

    Args:
        factors: ``region_id``, ``year``, ``kg_co2_per_kwh`` (one row per region and year).
        region_ids: (R,) regions in output order.
        years: (T,) calendar years.
        change: (D,) ``factor_change_per_year`` (fraction per year, e.g. -0.02).

    Returns:
        (D, R, T).

    Raises:
        MissingFactorError: a region of ``region_ids`` has no row.

    >>> f = pd.DataFrame({"region_id": ["A", "A"], "year": [2020, 2022], "kg_co2_per_kwh": [0.5, 0.4]})
    >>> factor_paths(f, ["A"], [2019, 2021, 2023], np.array([-0.5])).round(3).tolist()
    [[[0.5, 0.5, 0.2]]]
    """
    return factor_growth(*factor_grid(factors, region_ids, years), change)


def factor_grid(
    factors: pd.DataFrame, region_ids: Sequence[str], years: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The draw-free part of :func:`factor_paths`: base factors (R, T) and years past the last given (R, T).

    Raises:
        MissingFactorError: a region of ``region_ids`` has no row.
    """
    wide = factors.pivot(index="region_id", columns="year", values="kg_co2_per_kwh").reindex(list(region_ids))
    missing = wide.index[wide.isna().all(axis=1)].tolist()
    if missing:
        raise MissingFactorError(missing)
    given = wide.columns.to_numpy(dtype=int)
    yrs = np.asarray(years, dtype=int)
    grid = np.arange(min(given.min(), yrs.min()), max(given.max(), yrs.max()) + 1)
    filled = wide.reindex(columns=grid).ffill(axis=1).bfill(axis=1)
    base = filled[yrs].to_numpy(dtype=float)  # (R, T)
    last_year = np.where(wide.notna().to_numpy(), given[None, :], np.iinfo(int).min).max(axis=1)  # (R,)
    steps = np.maximum(0, yrs[None, :] - last_year[:, None])  # (R, T)
    return base, steps


def factor_growth(base: np.ndarray, steps: np.ndarray, change: np.ndarray) -> np.ndarray:
    """``base * (1 + change) ** steps``: (R, T) grid of :func:`factor_grid`, (D,) changes; (D, R, T).

    The power is taken once per draw and distinct step (a handful), then spread over (R, T).
    """
    distinct, where = np.unique(steps, return_inverse=True)
    growth = (1.0 + np.asarray(change, dtype=float))[:, None] ** distinct[None, :]  # (D, S)
    return base[None, :, :] * growth[:, where.reshape(steps.shape)]


def green_share(
    zone_idx: np.ndarray,
    hosts: np.ndarray,
    hub_ids: Sequence[str],
    shares: Mapping[str, np.ndarray],
    n_draws: int,
) -> np.ndarray:
    """Share of each region's new-build facility energy supplied by contracted green power.

    A hub node's share is its own key (its hub id) if the scenario sets one, else the
    ``hubs`` key (every hub node). A region that hosts hub nodes takes the largest share
    among its hubs that have one; any other region takes its zone's key (``east`` or
    ``west``); with no key at all, 0 (all new build on grid power).

    Args:
        zone_idx: (R,) 0 = east, 1 = west.
        hosts: (R, H) True where the region hosts the hub (a centre of the region declares it).
        hub_ids: (H,) hub ids, columns of ``hosts``.
        shares: key (``east``, ``west``, ``hubs`` or a hub id) -> (D,) share draws.
        n_draws: D.

    Returns:
        (D, R) shares in [0, 1].

    >>> green_share(np.array([0, 1, 1]), np.array([[True], [False], [False]]), ["h"],
    ...             {"hubs": np.array([0.8]), "west": np.array([0.3])}, 1).tolist()
    [[0.8, 0.3, 0.3]]
    """
    nan = np.full(n_draws, np.nan)
    hub = np.stack([shares.get(h, shares.get("hubs", nan)) for h in hub_ids], axis=-1) if len(hub_ids) else (
        np.empty((n_draws, 0)))  # (D, H)
    at_hub = np.where(hosts[None, :, :] & np.isfinite(hub)[:, None, :], hub[:, None, :], -np.inf)
    best = at_hub.max(axis=2, initial=-np.inf)  # (D, R)
    zone = np.stack([shares.get(z, np.zeros(n_draws)) for z in _ZONES], axis=-1)  # (D, Z)
    return np.where(np.isfinite(best), best, zone[:, np.asarray(zone_idx)])


def costs_table(
    scenario: str,
    region_ids: Sequence[str],
    years: Sequence[int],
    central: Mapping[str, np.ndarray],
    draws: Mapping[str, np.ndarray] | None,
) -> pd.DataFrame:
    """The ``costs`` rows of one scenario: per region and ``ALL`` (national), by year and stat.

    Args:
        central, draws: ``electricity_cost_bn_cny``, ``emissions_mt_co2``,
            ``green_supplied_twh`` -> (D, R, T) arrays (D = 1 for the central run).

    National rows are quantiles of the national sum of each draw (not sums of regional
    quantiles). ``stat`` is ``central`` and, with draws, ``p10``, ``p50``, ``p90``.
    """
    ids = np.concatenate([np.asarray(region_ids, dtype=object), [ALL_REGIONS]])
    yrs = np.asarray(years)

    def with_total(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, a.sum(axis=1, keepdims=True)], axis=1)

    fields = {k: stat_arrays(with_total(v), None if draws is None else with_total(draws[k]))
              for k, v in central.items()}
    frames = []
    for stat in next(iter(fields.values())):
        frames.append(pd.DataFrame({
            "scenario": scenario,
            "region_id": np.repeat(ids, len(yrs)),
            "year": np.tile(yrs, len(ids)),
            "stat": stat,
            **{k: v[stat].ravel() for k, v in fields.items()},
        }))
    out = pd.concat(frames, ignore_index=True)
    for col in ("scenario", "region_id", "stat"):
        out[col] = out[col].astype("string")
    out["year"] = out["year"].astype("int32")
    return out[["scenario", "region_id", "year", "stat", "electricity_cost_bn_cny", "emissions_mt_co2",
                "green_supplied_twh"]]
