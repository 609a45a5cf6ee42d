"""Cost and emissions inputs (validation), the costs table of a run and its report and compare parts.

The small case is worked by hand: general work only, growth 10%/yr, no levers or rebound,
so ``E(t) = E0 1.1^tau`` and every cost, green supply and emission follows by arithmetic.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows import outputs
from flows.compare import RunFolder
from flows.compare_costs import cost_comparison
from flows.compute import all_ranges, fleet_from_inputs, run_scenario
from flows.costs import costs_for_scenario
from flows.errors import InputError, ScenarioError
from flows.validate import load_inputs
from models.engine import simulate
from models.sampling import central_params
from models.scenario import _EXAMPLE, Scenario
from models.summarize import Baseline
from reports.inputs import ReportInputs
from reports.section_costs import section

REGIONS = "region_id,name,zone\nBJ,Beijing,east\nXJ,Xinjiang,west\n"
HUBS = "hub_id,name,lat,lon,zone\nH1,Jing-Jin-Ji,39.9,116.4,east\n"
# BJ: 100 MW at full use, own PUE 1.4, in hub H1. XJ: 50 MW, PUE from the table (1.5 small/medium west).
CENTERS = """center_id,name,region_id,lat,lon,hub_id,size_class,it_capacity_mw,utilization,ai_share,training_share,pue
C1,Alpha,BJ,,,H1,large,100,1,0,0,1.4
C2,Beta,XJ,,,,small_medium,50,1,0,0,
"""
PUE = """size_class,zone,pue_low,pue_central,pue_high
large,east,1.2,1.3,1.4
small_medium,east,1.3,1.5,1.6
large,west,1.1,1.2,1.3
small_medium,west,1.3,1.5,1.6
"""
DEMAND = "region_id,year,consumption_twh\nBJ,2022,130\nXJ,2022,380\nBJ,2023,130\nXJ,2023,380\n"
SHAPES = "workload,hour,factor\n" + "".join(f"{w},{h},1\n" for w in ("general", "training", "inference")
                                           for h in range(24))
FACTORS = """region_id,year,kg_co2_per_kwh,source
BJ,2020,0.6,test
BJ,2022,0.5,test
XJ,2023,0.7,test
"""
PRICES = """region_id,price_low,price_central,price_high,source
BJ,0.5,0.7,0.8,test
XJ,0.3,0.4,0.6,test
"""
BASE = {"regions.csv": REGIONS, "hub_nodes.csv": HUBS, "compute_centers.csv": CENTERS,
        "pue_assumptions.csv": PUE, "demand_history.csv": DEMAND, "load_shapes.csv": SHAPES,
        "grid_emission_factors.csv": FACTORS, "electricity_prices.csv": PRICES}


def _write(folder: Path, **over: str | None) -> Path:
    files = {**BASE, **{k.replace("__", "."): v for k, v in over.items()}}
    for name, text in files.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def _scenario(emissions: dict | None = None) -> Scenario:
    d = copy.deepcopy(_EXAMPLE)
    d["horizon"] = {"base_year": 2024, "end_year": 2026}
    d["growth"] = {"taper": 1.0, "general": 0.1, "training": 0.0, "inference": 0.0}
    d["hardware_efficiency_gain"] = {"general": 0.0, "training": 0.0, "inference": 0.0}
    d["pue"] = {"new_build_small_medium_share": 0.0}
    d["emissions"] = emissions if emissions is not None else {
        "factor_change_per_year": -0.1, "green_power_share": {"hubs": 0.8, "west": 0.25}}
    return Scenario.model_validate(d)


def _baseline(n_r: int, n_t: int) -> Baseline:
    level = np.full((n_r, n_t), 100.0)
    return Baseline(level, level * 0.9, level * 1.1)


def _run(folder: Path, scenario: Scenario, draws: int = 0) -> pd.DataFrame:
    inputs = load_inputs(folder)
    fleet = fleet_from_inputs(inputs)
    out = run_scenario(inputs, scenario, _baseline(2, len(scenario.years)), n_draws=draws, seed=11, fleet=fleet)
    return out.costs


def test_small_case_by_hand(tmp_path: Path) -> None:
    costs = _run(_write(tmp_path), _scenario())
    c = costs[costs["stat"] == "central"].set_index(["region_id", "year"])
    e0 = {"BJ": 100 * 8.76e-3, "XJ": 50 * 8.76e-3}
    pue_exist, pue_new = {"BJ": 1.4, "XJ": 1.5}, {"BJ": 1.3, "XJ": 1.2}  # new build: large, region's zone
    price = {"BJ": 0.7, "XJ": 0.4}
    share = {"BJ": 0.8, "XJ": 0.25}  # BJ hosts H1 (hubs key); XJ: its zone's key
    for tau, year in enumerate((2024, 2025, 2026)):
        factor = {"BJ": 0.5 * 0.9 ** (year - 2022), "XJ": 0.7 * 0.9 ** (year - 2023)}
        tot = dict.fromkeys(("cost", "co2", "green"), 0.0)
        for r in ("BJ", "XJ"):
            e = e0[r] * 1.1**tau
            new = (e - e0[r]) * pue_new[r]
            f = e0[r] * pue_exist[r] + new
            green = share[r] * new
            cost, co2 = f * price[r], (f - green) * factor[r]  # TWh x CNY/kWh = bn CNY; TWh x kg/kWh = Mt
            row = c.loc[(r, year)]
            assert row["electricity_cost_bn_cny"] == pytest.approx(cost, rel=1e-12)
            assert row["green_supplied_twh"] == pytest.approx(green, rel=1e-12, abs=1e-15)
            assert row["emissions_mt_co2"] == pytest.approx(co2, rel=1e-12)
            tot["cost"] += cost
            tot["co2"] += co2
            tot["green"] += green
        nat = c.loc[("ALL", year)]
        assert nat["electricity_cost_bn_cny"] == pytest.approx(tot["cost"], rel=1e-12)
        assert nat["emissions_mt_co2"] == pytest.approx(tot["co2"], rel=1e-12)
        assert nat["green_supplied_twh"] == pytest.approx(tot["green"], rel=1e-12, abs=1e-15)


def test_draws_give_ordered_quantiles_and_leave_energy_draws_alone(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    sc = _scenario({"factor_change_per_year": [-0.05, -0.02, 0.0], "green_power_share": {"hubs": [0.5, 0.8, 1.0]}})
    costs = _run(folder, sc, draws=200)
    for col in ("electricity_cost_bn_cny", "emissions_mt_co2", "green_supplied_twh"):
        wide = costs.pivot_table(index=["region_id", "year"], columns="stat", values=col)
        assert (wide["p10"] <= wide["p50"]).all() and (wide["p50"] <= wide["p90"]).all()
    # base-year cost varies only with the price: within each region's [low, high] times F(t0)
    base = costs[(costs["year"] == 2024) & (costs["region_id"] == "XJ")].set_index("stat")["electricity_cost_bn_cny"]
    f0 = 50 * 8.76e-3 * 1.5
    assert f0 * 0.3 <= base["p10"] < base["p90"] <= f0 * 0.6
    # the emissions keys are not energy parameters
    assert not any(k.startswith("emissions.") for k in all_ranges(sc, load_inputs(folder)))


def test_missing_files_leave_columns_empty_not_zero(tmp_path: Path) -> None:
    costs = _run(_write(tmp_path, grid_emission_factors__csv=None), _scenario())
    assert costs["emissions_mt_co2"].isna().all() and costs["electricity_cost_bn_cny"].notna().all()
    (tmp_path / "grid_emission_factors.csv").unlink(missing_ok=True)
    (tmp_path / "electricity_prices.csv").unlink()
    assert _run(tmp_path, _scenario()) is None
    inputs = load_inputs(tmp_path)
    assert inputs.grid_emission_factors is None and inputs.electricity_prices is None


def test_region_without_factor_row_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_inputs(_write(tmp_path, grid_emission_factors__csv="region_id,year,kg_co2_per_kwh\nBJ,2022,0.5\n"))
    assert info.value.file == "grid_emission_factors.csv" and info.value.column == "region_id"
    assert "XJ" in info.value.rule
    # the model refuses it too when the tables bypass validation
    inputs = load_inputs(_write(tmp_path))
    fleet = fleet_from_inputs(inputs)
    short = replace(inputs, grid_emission_factors=inputs.grid_emission_factors.query("region_id == 'BJ'"))
    sc = _scenario()
    central = simulate(fleet, sc, central_params(all_ranges(sc, inputs)))
    with pytest.raises(InputError) as info:
        costs_for_scenario(short, fleet, sc, central, None, 1)
    assert "XJ" in info.value.rule and info.value.file == "grid_emission_factors.csv"


@pytest.mark.parametrize(("file", "text", "row", "column", "rule"), [
    ("electricity_prices.csv", "region_id,price_low,price_central,price_high\nBJ,0.5,0.4,0.8\nXJ,0.3,0.4,0.6\n",
     2, "price_central", "price_low <= price_central <= price_high"),
    ("electricity_prices.csv", "region_id,price_low,price_central,price_high\nBJ,0.5,0.7,0.8\nXJ,0.3,0.7,0.6\n",
     3, "price_high", "price_low <= price_central <= price_high"),
    ("electricity_prices.csv", "region_id,price_low,price_central,price_high\nBJ,0,0.7,0.8\nXJ,0.3,0.4,0.6\n",
     2, "price_low", "must be in (0, 10]"),
    ("electricity_prices.csv", "region_id,price_low,price_central,price_high\nBJ,0.5,0.7,0.8\nXJ,0.3,0.4,0.6\n"
     "BJ,0.5,0.7,0.8\n", 4, "region_id", "must be unique"),
    ("electricity_prices.csv", "region_id,price_low,price_central,price_high\nBJ,0.5,0.7,0.8\n",
     None, "region_id", "no row for region(s) XJ"),
    ("electricity_prices.csv", "region_id,price_low,price_central,price_high\nBJ,0.5,0.7,0.8\nXX,0.3,0.4,0.6\n",
     3, "region_id", "is not a region_id"),
    ("grid_emission_factors.csv", "region_id,year,kg_co2_per_kwh\nBJ,2022,2.5\nXJ,2022,0.7\n",
     2, "kg_co2_per_kwh", "must be in [0, 2]"),
    ("grid_emission_factors.csv", "region_id,year,kg_co2_per_kwh\nBJ,2022,0.5\nXJ,2022,0.7\nBJ,2022,0.4\n",
     4, "year", "must be unique"),
    ("grid_emission_factors.csv", "region_id,year,kg_co2_per_kwh\nBJ,2022,\nXJ,2022,0.7\n",
     2, "kg_co2_per_kwh", "a value is required"),
])
def test_validation_rules(tmp_path: Path, file: str, text: str, row: int | None, column: str, rule: str) -> None:
    with pytest.raises(InputError) as info:
        load_inputs(_write(tmp_path, **{file.replace(".", "__"): text}))
    err = info.value
    assert (err.file, err.row, err.column) == (file, row, column), str(err)
    assert rule in err.rule, str(err)


def test_unknown_green_share_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        _run(_write(tmp_path), _scenario({"green_power_share": {"H9": 0.8}}))
    assert info.value.key == "emissions.green_power_share.H9" and "H1" in info.value.rule
    # a hub's own key wins over the hubs key
    costs = _run(tmp_path, _scenario({"green_power_share": {"hubs": 0.2, "H1": 1.0}}))
    c = costs[(costs["stat"] == "central") & (costs["region_id"] == "BJ") & (costs["year"] == 2026)]
    new = (100 * 8.76e-3 * (1.1**2 - 1)) * 1.3
    assert float(c["green_supplied_twh"].iloc[0]) == pytest.approx(new)


def test_compare_and_report_use_the_costs_table(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    folder = _write(tmp_path / "data")
    rows = []
    for name, share in (("hub_push", 1.0), ("distributed_small", 0.8)):
        em = {"factor_change_per_year": -0.1, "green_power_share": {"hubs": share}}
        sc = _scenario(em).model_copy(update={"name": name})
        rows.append(_run(folder, sc, draws=20))
    costs = pd.concat(rows, ignore_index=True)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    outputs.write_parquet(run_dir / "costs.parquet", costs)
    run = RunFolder(run_dir, {"scenarios": {"hub_push": {}, "distributed_small": {}}})
    comp = cost_comparison(run, ["distributed_small", "hub_push"])
    nat = costs[(costs["region_id"] == "ALL") & (costs["stat"] == "central")].set_index(["scenario", "year"])
    got = comp[(comp["stat"] == "central") & (comp["scenario"] == "hub_push")].set_index("year")
    want = nat.loc["hub_push", "emissions_mt_co2"] - nat.loc["distributed_small", "emissions_mt_co2"]
    assert got["emissions_diff_mt_co2"].to_numpy() == pytest.approx(want.to_numpy())
    assert (got["emissions_diff_mt_co2"].iloc[1:] < 0).all()  # 100% green hub new build emits less
    assert cost_comparison(RunFolder(tmp_path, {}), ["a", "b"]) is None

    regions = pd.DataFrame({"region_id": ["BJ", "XJ"], "name": ["Beijing", "Xinjiang"]})
    empty = pd.DataFrame()
    inputs = ReportInputs(national=empty, regional=empty, turning_points=empty, regions=regions, hubs=empty,
                          published=empty, costs=costs)
    sec = section(inputs)
    assert sec is not None and sec.title == "What it costs and emits"
    kinds = [getattr(b, "kind", "table") for b in sec.blocks]
    assert kinds.count("chart") == 2 and "group" in kinds
    pair = sec.blocks[-1]
    assert pair.caption == "hub_push versus distributed_small"
    assert section(ReportInputs(national=empty, regional=empty, turning_points=empty, regions=regions,
                                hubs=empty, published=empty)) is None


def test_cost_inputs_leave_the_energy_forecast_unchanged(tmp_path: Path) -> None:
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    sc = _scenario({"factor_change_per_year": [-0.05, -0.02, 0.0], "green_power_share": {"hubs": [0.5, 0.8, 1.0]}})
    runs = {}
    for name, over in (("with", {}), ("without", {"grid_emission_factors__csv": None,
                                                  "electricity_prices__csv": None})):
        inputs = load_inputs(_write(tmp_path / name, **over))
        runs[name] = run_scenario(inputs, sc, _baseline(2, 3), n_draws=50, seed=5, fleet=fleet_from_inputs(inputs))
    pd.testing.assert_frame_equal(runs["with"].regional, runs["without"].regional)
    assert runs["without"].costs is None
    inputs = load_inputs(tmp_path / "with")
    again = run_scenario(inputs, sc, _baseline(2, 3), n_draws=50, seed=5, fleet=fleet_from_inputs(inputs)).costs
    pd.testing.assert_frame_equal(runs["with"].costs, again)  # reproducible for the seed
