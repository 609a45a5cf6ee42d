"""The cost and emissions maths (models/costs.py) against hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from models.costs import (
    MissingFactorError,
    costs_table,
    electricity_cost_bn_cny,
    emissions_mt_co2,
    factor_paths,
    green_share,
    green_supplied_twh,
)
from models.engine import simulate
from models.sampling import central_params
from models.scenario import parameter_ranges


def test_identities_by_hand() -> None:
    # 2 TWh at 0.6 CNY/kWh: 2e9 kWh x 0.6 CNY = 1.2e9 CNY = 1.2 bn CNY
    fac = np.array([[[2.0, 5.0]]])
    assert electricity_cost_bn_cny(fac, np.array([[0.6]])).ravel().tolist() == pytest.approx([1.2, 3.0])
    # new build 3 TWh in the second year, 80% green: 2.4 TWh; (5 - 2.4) TWh x 0.5 kg/kWh = 1.3e9 kg = 1.3 Mt
    green = green_supplied_twh(np.array([[[0.0, 3.0]]]), np.array([[0.8]]))
    assert green.ravel().tolist() == pytest.approx([0.0, 2.4])
    co2 = emissions_mt_co2(fac, green, np.array([[[0.5, 0.5]]]))
    assert co2.ravel().tolist() == pytest.approx([1.0, 1.3])


def test_factor_extrapolation_and_gaps_by_hand() -> None:
    f = pd.DataFrame({"region_id": ["A", "A", "B"], "year": [2020, 2022, 2023],
                      "kg_co2_per_kwh": [0.6, 0.5, 0.7]})
    years = [2019, 2020, 2021, 2022, 2023, 2025]
    got = factor_paths(f, ["A", "B"], years, np.array([0.1, -0.2]))
    assert got.shape == (2, 2, 6)
    a_up = [0.6, 0.6, 0.6, 0.5, 0.5 * 1.1, 0.5 * 1.1**3]  # before first: first; gap: earlier; after: growth
    b_up = [0.7, 0.7, 0.7, 0.7, 0.7, 0.7 * 1.1**2]  # B's last given year is 2023
    assert got[0, 0].tolist() == pytest.approx(a_up)
    assert got[0, 1].tolist() == pytest.approx(b_up)
    assert got[1, 0, -1] == pytest.approx(0.5 * 0.8**3)
    assert got[1, 1, -1] == pytest.approx(0.7 * 0.8**2)


def test_missing_factor_row_is_refused_by_name() -> None:
    f = pd.DataFrame({"region_id": ["A"], "year": [2022], "kg_co2_per_kwh": [0.5]})
    with pytest.raises(MissingFactorError) as info:
        factor_paths(f, ["A", "B", "C"], [2024], np.array([0.0]))
    assert info.value.regions == ["B", "C"]
    assert "B, C" in str(info.value)


def test_green_share_rules_by_hand() -> None:
    zone = np.array([0, 0, 1, 1, 0])
    # hubs: h1 hosted by region 0, h2 by region 1 and region 3 hosts h1 and h2; region 2, 4 none
    hosts = np.array([[True, False], [False, True], [False, False], [True, True], [False, False]])
    shares = {"hubs": np.array([0.8, 0.5]), "h2": np.array([1.0, 0.2]), "west": np.array([0.3, 0.3])}
    got = green_share(zone, hosts, ["h1", "h2"], shares, 2)
    # region 0: hubs 0.8 | region 1: h2's own key | region 2: west | region 3: max(h1 via hubs, h2)
    # region 4: east has no key -> 0
    assert got[0].tolist() == pytest.approx([0.8, 1.0, 0.3, 1.0, 0.0])
    assert got[1].tolist() == pytest.approx([0.5, 0.2, 0.3, 0.5, 0.0])
    # without a hubs key, a hub without its own key falls back to the zone
    got = green_share(zone, hosts, ["h1", "h2"], {"h2": np.array([0.9]), "east": np.array([0.1])}, 1)
    assert got[0].tolist() == pytest.approx([0.1, 0.9, 0.0, 0.9, 0.1])


def test_costs_table_national_rows_and_quantile_order() -> None:
    rng = np.random.default_rng(3)
    central = {k: np.abs(rng.normal(1, 0.3, (1, 3, 4))) for k in
               ("electricity_cost_bn_cny", "emissions_mt_co2", "green_supplied_twh")}
    draws = {k: np.abs(rng.normal(1, 0.3, (200, 3, 4))) for k in central}
    t = costs_table("s", ["A", "B", "C"], [2024, 2025, 2026, 2027], central, draws)
    assert set(t["stat"]) == {"central", "p10", "p50", "p90"}
    assert len(t) == 4 * 4 * 4
    c = t[t["stat"] == "central"].set_index(["region_id", "year"])
    for col in central:
        assert c.loc[("ALL", 2025), col] == pytest.approx(central[col][0, :, 1].sum())
        wide = t.pivot_table(index=["region_id", "year"], columns="stat", values=col)
        assert (wide["p10"] <= wide["p50"]).all() and (wide["p50"] <= wide["p90"]).all()
    # the national p90 is the p90 of the national sums, not the sum of regional p90s
    nat = draws["emissions_mt_co2"].sum(axis=1)[:, 0]
    p90 = t[(t["stat"] == "p90") & (t["region_id"] == "ALL") & (t["year"] == 2024)]["emissions_mt_co2"]
    assert float(p90.iloc[0]) == pytest.approx(np.quantile(nat, 0.9))


def test_new_build_energy_by_hand(gc) -> None:
    # one east region, general work only, growth 10%/yr: E = E0 1.1^tau; own PUE 1.4 for the existing
    # fleet, new build at pue_central(large, east) (new_build_small_medium_share = 0)
    sc = gc.make_scenario(growth={"general": 0.1, "taper": 1.0}, hardware_efficiency_gain={"general": 0.0},
                          pue={"new_build_small_medium_share": 0.0})
    fleet = gc.make_fleet([{"region_id": "A", "zone": "east"}],
                          [{"region_id": "A", "it_capacity_mw": 100.0, "pue": 1.4}])
    params = {**central_params({**parameter_ranges(sc), **gc.PUE_TABLE})}
    sim = simulate(fleet, sc, params)
    e0 = 100.0 * 8.76e-3
    pue_new = gc.PUE_TABLE["pue_table.large.east"][1]
    want = [max(0.0, e0 * 1.1**tau - e0) * pue_new for tau in range(len(sc.years))]
    assert sim.region_new_build_twh[0, 0].tolist() == pytest.approx(want)


@pytest.mark.parametrize("block", [
    {"green_power_share": {"hubs": 1.2}},
    {"green_power_share": {"west": [0.5, 0.4, 0.9]}},
    {"factor_change_per_year": 0.8},
    {"factor_change_per_year": [-0.1, 0.0, -0.05]},
    {"unknown_key": 1.0},
])
def test_emissions_block_rules(gc, block: dict) -> None:
    with pytest.raises(ValidationError):
        gc.make_scenario(emissions=block)


def test_emissions_keys_are_parameters(gc) -> None:
    sc = gc.make_scenario(emissions={"factor_change_per_year": [-0.03, -0.02, -0.01],
                                     "green_power_share": {"hubs": 0.8, "west": [0.1, 0.2, 0.3]}})
    r = parameter_ranges(sc)
    assert r["emissions.factor_change_per_year"] == (-0.03, -0.02, -0.01)
    assert r["emissions.green_power_share.hubs"] == (0.8, 0.8, 0.8)
    assert r["emissions.green_power_share.west"] == (0.1, 0.2, 0.3)
    # without a block: no change, no green power
    assert parameter_ranges(gc.make_scenario())["emissions.factor_change_per_year"] == (0.0, 0.0, 0.0)
