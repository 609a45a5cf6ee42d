"""The per-scenario shortcuts of flows.compute, flows.hours and flows.costs on the shipped data.

Each is compared with a brute-force evaluation written here (every hour of the year for
the coincident peak), or with itself under another block size (results must not depend
on how the work is cut), or with a fresh computation after its cache key changes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows import compute, costs, hours
from flows.compute import all_ranges, coincident_table, fleet_from_inputs, simulate_draws
from flows.scenarios import load_scenarios
from flows.validate import load_inputs
from models.engine import HOURS_PER_YEAR, simulate
from models.hourly import seasonal_modulation
from models.pipeline import row_keys
from models.sampling import central_params, draw_params, scenario_seed
from models.summarize import Baseline


@pytest.fixture(scope="module")
def shipped():
    inputs = load_inputs(Path("data/default"))
    fleet = fleet_from_inputs(inputs)
    scenarios = {s.name: s.scenario for s in load_scenarios(None)}
    return inputs, fleet, scenarios


def _baseline(inputs, fleet, years) -> Baseline:  # noqa: ANN001
    last = inputs.demand_history.sort_values("year").groupby("region_id")["consumption_twh"].last()
    level = last.reindex(list(fleet.region_ids)).to_numpy(float)[:, None] * np.linspace(1.0, 1.2, len(years))
    return Baseline(level, level * 0.95, level * 1.05)


def test_draws_do_not_depend_on_the_chunk_size(shipped) -> None:  # noqa: ANN001
    inputs, fleet, scenarios = shipped
    s = scenarios["reference"]
    ranges = all_ranges(s, inputs)
    draws = draw_params(ranges, 60, scenario_seed(3, s.name).spawn(1)[0])
    keys = None if fleet.planned is None else row_keys(fleet.planned, 3, s.name)
    a = simulate_draws(fleet, s, draws, chunk=7, build_keys=keys)
    b = simulate_draws(fleet, s, draws, chunk=1000, build_keys=keys)
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=f.name)


def test_coincident_table_equals_every_hour_of_the_year(shipped) -> None:  # noqa: ANN001
    inputs, fleet, scenarios = shipped
    s = scenarios["hub_push"]
    base = _baseline(inputs, fleet, s.years)
    central = simulate(fleet, s, central_params(all_ranges(s, inputs)))
    got = coincident_table(inputs.system_hourly, fleet, s, base, central)
    # brute force from the definitions: B(h) = E * 1e6 * p(h) / sum(p), L(h) = sum_w avgMW_w f_w(h % 24)
    prof = inputs.system_hourly.sort_values("hour_of_year").rename(columns=str)
    ids = [str(r) for r in fleet.region_ids if str(r) in prof.columns]
    rows = []
    for r in ids:
        i = list(map(str, fleet.region_ids)).index(r)
        p = prof[r].to_numpy(float)
        share = p / p.sum()
        hod = np.arange(len(p)) % 24
        for t, year in enumerate(s.years):
            e = max(base.central_twh[i, t] - central.region_facility_twh[0, i, 0], 0.0) * 1e6
            load = (central.facility_twh[0, i, t] * (1e6 / HOURS_PER_YEAR)) @ fleet.load_factors  # (24,)
            system = e * share
            total = system + load[hod]
            h = int(np.argmax(total))
            rows.append((r, year, system.max(), total[h], load[hod[h]]))
    want = pd.DataFrame(rows, columns=["region_id", "year", "system_peak_mw", "system_peak_with_compute_mw",
                                       "compute_at_system_peak_mw"])
    assert got["region_id"].tolist() == want["region_id"].tolist()
    assert got["year"].tolist() == want["year"].tolist()
    for col in ("system_peak_mw", "system_peak_with_compute_mw", "compute_at_system_peak_mw"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, err_msg=col)
    np.testing.assert_allclose(got["compute_peak_contribution_mw"],
                               want["system_peak_with_compute_mw"] - want["system_peak_mw"], rtol=1e-9)
    first = want.groupby("region_id", sort=False)["system_peak_with_compute_mw"].transform("first")
    np.testing.assert_allclose(got["peak_growth_since_base_mw"], want["system_peak_with_compute_mw"] - first,
                               rtol=1e-9, atol=1e-6)
    assert str(got["scenario"].dtype) == "string" and str(got["region_id"].dtype) == "string"
    assert (got["scenario"] == "hub_push").all()


def test_hour_arrays_do_not_depend_on_the_region_block(shipped, monkeypatch) -> None:  # noqa: ANN001
    inputs, fleet, scenarios = shipped
    s = scenarios["flexible_training"]
    central = simulate(fleet, s, central_params(all_ranges(s, inputs)))
    share, have = hours._profiles(inputs, fleet.region_ids)
    nc = hours._noncompute_twh(_baseline(inputs, fleet, s.years).paths(None), central.region_facility_twh)
    args = (share[have], fleet, nc[0][have][:, [0, 6]], central.facility_twh[0][have][:, [0, 6]],
            seasonal_modulation(0.1), 0.4)
    monkeypatch.setattr(hours, "_REGION_CHUNK", 1)
    one = hours._central_hours(*args)
    monkeypatch.setattr(hours, "_REGION_CHUNK", 1000)
    whole = hours._central_hours(*args)
    for k in whole:
        np.testing.assert_array_equal(one[k], whole[k], err_msg=k)


def test_per_run_caches_follow_their_inputs(shipped) -> None:  # noqa: ANN001
    inputs, fleet, scenarios = shipped
    s = scenarios["reference"]
    central = simulate(fleet, s, central_params(all_ranges(s, inputs)))
    first = costs.costs_for_scenario(inputs, fleet, s, central, None, 1)
    doubled = inputs.grid_emission_factors.assign(kg_co2_per_kwh=inputs.grid_emission_factors["kg_co2_per_kwh"] * 2)
    dear = inputs.electricity_prices.assign(price_central=inputs.electricity_prices["price_central"] * 3)
    other = dataclasses.replace(inputs, grid_emission_factors=doubled, electricity_prices=dear)
    second = costs.costs_for_scenario(other, fleet, s, central, None, 1)
    np.testing.assert_allclose(second["emissions_mt_co2"], first["emissions_mt_co2"] * 2, rtol=1e-12)
    np.testing.assert_allclose(second["electricity_cost_bn_cny"], first["electricity_cost_bn_cny"] * 3, rtol=1e-12)
    again = costs.costs_for_scenario(inputs, fleet, s, central, None, 1)
    pd.testing.assert_frame_equal(again, first)
    # the coincident profile shares follow the hourly table the same way
    table = inputs.system_hourly
    a = compute._coincident_profiles(table, [str(c) for c in table.columns if c != "hour_of_year"][:2])
    b = compute._coincident_profiles(table.copy(), a.regions)
    assert a is not b
    np.testing.assert_array_equal(a.shares, b.shares)
