"""Cost and emissions of one scenario's forecast, from the optional price and factor inputs.

Glue between the validated tables and :mod:`models.costs`: region arrays in the fleet's
order, the ``[emissions]`` parameters and the prices drawn per Monte Carlo draw.

Draws: the ``emissions.*`` parameters get their own triangular draws and every draw
picks one price quantile ``u`` shared by all regions (prices move together: one national
price level per draw, each region's price at that quantile of its own range). Both use a
third child of the scenario's seed, so the energy draws are unchanged by this module.
Without ``electricity_prices.csv`` the cost column is empty (NaN), without
``grid_emission_factors.csv`` the emissions column is empty: never a zero.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from flows.errors import InputError, ScenarioError
from flows.schema import TABLES, InputTables
from models.costs import (
    MissingFactorError,
    costs_table,
    electricity_cost_bn_cny,
    emissions_mt_co2,
    factor_grid,
    factor_growth,
    green_share,
    green_supplied_twh,
)
from models.engine import Fleet, SimResult
from models.sampling import central_params, draw_params, scenario_seed, triangular_ppf
from models.scenario import Scenario, parameter_ranges

__all__ = ["costs_for_scenario", "emission_ranges", "hub_hosts"]

_SHARE = "emissions.green_power_share."
_ZONE_KEYS = {"east", "west", "hubs"}


def emission_ranges(scenario: Scenario) -> dict[str, tuple[float, float, float]]:
    """The scenario's ``emissions.*`` parameter ranges."""
    return {k: v for k, v in parameter_ranges(scenario).items() if k.startswith("emissions.")}


def hub_hosts(inputs: InputTables, region_ids: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Hub ids and the (R, H) matrix of which region hosts which hub node.

    A region hosts a hub node when one of its compute centres declares that ``hub_id``
    (``compute_centers.csv``).
    """
    hub_ids = inputs.hub_nodes["hub_id"].astype(str).tolist()
    centers = inputs.compute_centers.dropna(subset=["hub_id"])
    r = pd.Index(region_ids).get_indexer(centers["region_id"].astype(str))
    h = pd.Index(hub_ids).get_indexer(centers["hub_id"].astype(str))
    hosts = np.zeros((len(region_ids), len(hub_ids)), dtype=bool)
    hosts[r, h] = True
    return hub_ids, hosts


def _check_share_keys(scenario: Scenario, hub_ids: list[str]) -> None:
    known = _ZONE_KEYS | set(hub_ids)
    for key in scenario.emissions.green_power_share:
        if key not in known:
            raise ScenarioError(
                scenario.name,
                f"green_power_share key {key!r} is not a zone (east, west), 'hubs' or a hub_id of "
                f"{TABLES['hub_nodes'].file} ({', '.join(hub_ids)})",
                key=f"emissions.green_power_share.{key}",
            )


def _prices(inputs: InputTables, ids: np.ndarray, u: np.ndarray | None) -> np.ndarray | None:
    """(D, R) prices at quantile ``u`` (D,) of each region's triangular range; None: central (1, R)."""
    if inputs.electricity_prices is None:
        return None

    def ranges() -> tuple[np.ndarray, ...]:
        pr = inputs.electricity_prices.set_index("region_id").reindex(ids)
        return tuple(pr[c].to_numpy(float)[None, :] for c in ("price_low", "price_central", "price_high"))

    lo, mid, hi = _per_run("prices", (inputs.electricity_prices, tuple(ids)), ranges)
    return mid if u is None else triangular_ppf(u[:, None], lo, mid, hi)


_RUN: dict[str, tuple[tuple, object]] = {}
_RUN_LOCK = threading.Lock()


def _per_run(name: str, key: tuple, make: Callable[[], Any]) -> Any:  # noqa: ANN401 - whatever make returns
    """``make()``, reused while ``key`` is the same (frames by identity): scenarios of a run share it.

    The cache holds the key's frames, so an identity cannot be reused by another frame.
    """
    with _RUN_LOCK:
        hit = _RUN.get(name)
        if hit is not None and len(hit[0]) == len(key) and all(
                a is b if isinstance(a, pd.DataFrame) else a == b for a, b in zip(hit[0], key, strict=True)):
            return hit[1]
    value = make()
    with _RUN_LOCK:
        _RUN[name] = (key, value)
    return value


def _arrays(inputs: InputTables, fleet: Fleet, scenario: Scenario, sim: SimResult, p: dict[str, np.ndarray],
            price: np.ndarray | None, hubs: tuple[list[str], np.ndarray]) -> dict[str, np.ndarray]:
    """Cost, green supply and emissions (D, R, T) for D draws of the parameters ``p`` and prices (D, R)."""
    ids = fleet.region_ids
    fac = np.asarray(sim.region_facility_twh, dtype=float)
    n_d = fac.shape[0]
    new_build = np.asarray(sim.region_new_build_twh, dtype=float)
    shares = {k.removeprefix(_SHARE): v for k, v in p.items() if k.startswith(_SHARE)}
    green = green_supplied_twh(new_build, green_share(fleet.zone_idx, hubs[1], hubs[0], shares, n_d))
    cost = np.full_like(fac, np.nan) if price is None else electricity_cost_bn_cny(fac, price)
    factors = inputs.grid_emission_factors
    if factors is None:
        emis = np.full_like(fac, np.nan)
    else:
        try:
            grid = _per_run("factors", (factors, tuple(ids), tuple(scenario.years)),
                            lambda: factor_grid(factors, ids, scenario.years))
        except MissingFactorError as err:
            raise InputError(TABLES["grid_emission_factors"].file,
                             f"{err}: emissions need a factor for every region", column="region_id") from None
        emis = emissions_mt_co2(fac, green, factor_growth(*grid, p["emissions.factor_change_per_year"]))
    return {"electricity_cost_bn_cny": cost, "emissions_mt_co2": emis, "green_supplied_twh": green}


def costs_for_scenario(inputs: InputTables, fleet: Fleet, scenario: Scenario, central: SimResult,
                       draws: SimResult | None, seed: int) -> pd.DataFrame | None:
    """The ``costs`` table of one scenario, or None when neither optional input is given."""
    if inputs.electricity_prices is None and inputs.grid_emission_factors is None:
        return None
    hubs = _per_run("hubs", (inputs.hub_nodes, inputs.compute_centers, tuple(fleet.region_ids)),
                    lambda: hub_hosts(inputs, fleet.region_ids))
    _check_share_keys(scenario, hubs[0])
    ranges = emission_ranges(scenario)
    c = _arrays(inputs, fleet, scenario, central, central_params(ranges), _prices(inputs, fleet.region_ids, None),
                hubs)
    d = None
    if draws is not None:
        n = draws.region_facility_twh.shape[0]
        param_seq, price_seq = scenario_seed(seed, scenario.name).spawn(3)[2].spawn(2)
        u = np.random.default_rng(price_seq).random(n)
        d = _arrays(inputs, fleet, scenario, draws, draw_params(ranges, n, param_seq),
                    _prices(inputs, fleet.region_ids, u), hubs)
    return costs_table(scenario.name, fleet.region_ids, scenario.years, c, d)
