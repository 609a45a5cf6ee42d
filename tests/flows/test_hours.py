"""flows.hours and the PyPSA / CSV exports, on the shipped data (flat baseline, few draws).

Expected values are recomputed here from their definitions (sums, maxima, a bisection
for the headroom), never read from the code under test.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows import outputs
from flows.compare import open_run
from flows.compute import fleet_from_inputs, run_scenario
from flows.errors import GridcastError
from flows.export_pypsa import export_pypsa, snapshots_of
from flows.hours import resolve_hourly_years
from flows.scenarios import SHIPPED_SCENARIOS, load_scenarios
from flows.validate import load_inputs
from models.hourly import seasonal_modulation
from models.summarize import Baseline

pytestmark = pytest.mark.slow

NAMES = ("reference", "flexible_training")


def _flat_baseline(history: pd.DataFrame, region_ids: np.ndarray, years: list[int]) -> Baseline:
    last = history.sort_values("year").groupby("region_id")["consumption_twh"].last()
    level = last.reindex(list(region_ids)).to_numpy(float)[:, None] * np.linspace(1.0, 1.3, len(years))
    return Baseline(level, level * 0.95, level * 1.05)


@pytest.fixture(scope="module")
def shipped():
    inputs = load_inputs(Path("data/default"))
    fleet = fleet_from_inputs(inputs)
    scen = {s.name: s.scenario for s in load_scenarios(SHIPPED_SCENARIOS) if s.name in NAMES}
    return inputs, fleet, scen


@pytest.fixture(scope="module")
def results(shipped):
    inputs, fleet, scen = shipped
    out = {}
    for name, s in scen.items():
        base = _flat_baseline(inputs.demand_history, fleet.region_ids, s.years)
        out[name] = run_scenario(inputs, s, base, n_draws=40, seed=3, fleet=fleet)
    return out


@pytest.fixture(scope="module")
def run_folder(results, shipped, tmp_path_factory) -> Path:
    inputs, _, scen = shipped
    root = tmp_path_factory.mktemp("hours") / "run"
    cat = lambda attr: pd.concat([getattr(r, attr) for r in results.values()], ignore_index=True)  # noqa: E731
    for name in ("regional", "hourly"):
        outputs.write_partitioned(root / name, cat(name), "scenario")
    for name in ("national", "turning_points", "peaks", "headroom"):
        outputs.write_parquet(root / f"{name}.parquet", cat(name))
    outputs.write_json(root / "run.json", {
        "run_id": "test-hours", "data_dir": str(Path("data/default").resolve()),
        "inputs_sha256": dict(inputs.hashes),
        "scenarios": {n: {"description": s.description, "resolved": s.model_dump(mode="json")}
                      for n, s in scen.items()}})
    return root


def _central_regional(out) -> pd.DataFrame:
    r = out.regional
    return r.loc[r["stat"] == "central"].set_index(["region_id", "year"])


def test_hourly_energy_and_peak_match_the_annual_tables(results) -> None:
    out = results["reference"]
    h = out.hourly
    assert sorted(h["year"].unique()) == [2024, 2030, 2035]
    assert len(h) == 31 * 3 * 8760
    g = h.groupby(["region_id", "year"])
    reg = _central_regional(out).reindex(g.size().index)
    np.testing.assert_allclose(g["compute_load_mw"].sum() / 1e6, reg["facility_energy_twh"], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(g["total_load_mw"].sum() / 1e6, reg["total_twh"], rtol=1e-10)
    np.testing.assert_allclose(g["compute_load_mw"].max(), reg["peak_load_mw"], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(h["total_load_mw"], h["system_load_mw"] + h["compute_load_flex_mw"], rtol=1e-12)
    # no flexibility in the reference: the flexible load is the load
    np.testing.assert_allclose(h["compute_load_flex_mw"], h["compute_load_mw"], rtol=1e-12, atol=1e-9)


def test_flexible_training_moves_energy_within_days_and_lowers_peaks(results, shipped) -> None:
    h = results["flexible_training"].hourly
    h = h.assign(day=h["hour"] // 24)
    daily = h.groupby(["region_id", "year", "day"])[["compute_load_mw", "compute_load_flex_mw"]].sum()
    np.testing.assert_allclose(daily["compute_load_flex_mw"], daily["compute_load_mw"], rtol=1e-9, atol=1e-6)
    inflexible = (h["system_load_mw"] + h["compute_load_mw"]).groupby([h["region_id"], h["year"], h["day"]]).max()
    flexible = h.groupby(["region_id", "year", "day"])["total_load_mw"].max()
    assert (flexible <= inflexible + 1e-6).all()
    assert (flexible < inflexible - 1.0).any()  # training does move somewhere
    # one day of one province by hand: T from the forecast's training energy and shape,
    # the level by bisection, the flexible load from its definition
    inputs, _, scen = shipped
    share = scen["flexible_training"].flexibility.training_shiftable_share[1]
    f = results["flexible_training"].forecast
    train_twh = f.loc[(f["stat"] == "central") & (f["region_id"] == "CN-NM") & (f["year"] == 2035)
                      & (f["workload"] == "training"), "facility_energy_twh"].iloc[0]
    shapes = inputs.load_shapes
    factor = shapes.loc[shapes["workload"] == "training"].sort_values("hour")["factor"].to_numpy()
    day = h.loc[(h["region_id"] == "CN-NM") & (h["year"] == 2035) & (h["day"] == 200)].sort_values("hour")
    t = train_twh * 1e6 / 8760 * factor
    rest = (day["system_load_mw"] + day["compute_load_mw"]).to_numpy() - share * t
    energy = share * t.sum()
    lo, hi = rest.min(), rest.max() + energy
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(0.0, mid - rest).sum() < energy else (lo, mid)
    want = day["compute_load_mw"].to_numpy() - share * t + np.maximum(0.0, lo - rest)
    np.testing.assert_allclose(day["compute_load_flex_mw"], want, rtol=1e-9, atol=1e-6)


def _headroom_by_bisection(load: np.ndarray, x: float) -> float:
    peak, n = load.max(), len(load)
    lo, hi = 0.0, peak
    for _ in range(200):
        mid = (lo + hi) / 2
        ok = np.maximum(0.0, load + mid - peak).sum() <= x * mid * n
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


@pytest.mark.parametrize(("region", "year"), [("CN-GD", 2030), ("CN-NM", 2035)])
def test_headroom_is_the_curtailment_definition(results, region: str, year: int) -> None:
    out = results["flexible_training"]
    h = out.hourly
    load = h.loc[(h["region_id"] == region) & (h["year"] == year)].sort_values("hour")["total_load_mw"].to_numpy()
    room = out.headroom.loc[(out.headroom["region_id"] == region) & (out.headroom["year"] == year)]
    assert room["curtailment_limit"].tolist() == [0.0025, 0.005, 0.01]
    want = [_headroom_by_bisection(load, x) for x in room["curtailment_limit"]]
    np.testing.assert_allclose(room["headroom_mw"], want, rtol=1e-6)
    assert (np.diff(room["headroom_mw"]) > 0).all()


def test_peaks_central_matches_hourly_and_ranges_are_ordered(results) -> None:
    out = results["reference"]
    p = out.peaks
    h = out.hourly
    c = p.loc[(p["stat"] == "central") & (p["region_id"] != "ALL")].set_index(["region_id", "year"])
    g = h.assign(with_compute=h["system_load_mw"] + h["compute_load_mw"]).groupby(["region_id", "year"])
    idx = g.size().index
    np.testing.assert_allclose(c.loc[idx, "system_peak_mw"], g["with_compute"].max(), rtol=1e-10)
    np.testing.assert_allclose(c.loc[idx, "system_peak_without_compute_mw"], g["system_load_mw"].max(), rtol=1e-10)
    np.testing.assert_allclose(c.loc[idx, "system_peak_flex_mw"], g["total_load_mw"].max(), rtol=1e-10)
    base = c.xs(2024, level="year")
    np.testing.assert_allclose(c.xs(2030, level="year")["peak_increment_mw"],
                               c.xs(2030, level="year")["system_peak_mw"] - base["system_peak_mw"], rtol=1e-10)
    np.testing.assert_allclose(base["peak_increment_mw"], 0.0, atol=1e-9)
    wide = p.loc[p["region_id"] != "ALL"].pivot_table(index=["region_id", "year"], columns="stat",
                                                      values="system_peak_mw")
    assert (wide["p10"] <= wide["p50"] + 1e-6).all() and (wide["p50"] <= wide["p90"] + 1e-6).all()
    nat = p.loc[(p["region_id"] == "ALL") & (p["stat"] == "central")].set_index("year")
    national_hours = h.assign(w=h["system_load_mw"] + h["compute_load_mw"]).groupby(["year", "hour"])["w"].sum()
    np.testing.assert_allclose(nat.loc[[2024, 2030, 2035], "system_peak_mw"],
                               national_hours.groupby(level="year").max(), rtol=1e-10)


def test_region_without_profile_has_no_hours_and_is_named(shipped) -> None:
    inputs, fleet, scen = shipped
    s = scen["reference"]
    partial = dataclasses.replace(inputs, system_hourly=inputs.system_hourly.drop(columns=["CN-XZ"]))
    base = _flat_baseline(inputs.demand_history, fleet.region_ids, s.years)
    out = run_scenario(partial, s, base, n_draws=0, seed=1, fleet=fleet, hourly_years=(2030,))
    assert "CN-XZ" not in set(out.hourly["region_id"]) and set(out.hourly["year"]) == {2030}
    assert any("CN-XZ" in n for n in out.hours_notes)
    xz = out.peaks.loc[out.peaks["region_id"] == "CN-XZ"]
    assert xz["system_peak_mw"].isna().all() and xz["compute_peak_mw"].notna().all()
    none = run_scenario(dataclasses.replace(inputs, system_hourly=None), s, base, n_draws=0, seed=1, fleet=fleet)
    assert none.hourly is None and none.headroom is None
    assert any("no hourly system-load input" in n for n in none.hours_notes)


def test_seasonal_modulation_keeps_energy_and_scales_the_peak(shipped) -> None:
    inputs, fleet, scen = shipped
    s = scen["reference"].model_copy(update={"seasonal": scen["reference"].seasonal.model_copy(
        update={"pue_amplitude": 0.1})})
    base = _flat_baseline(inputs.demand_history, fleet.region_ids, s.years)
    out = run_scenario(inputs, s, base, n_draws=0, seed=1, fleet=fleet, hourly_years=(2030,))
    g = out.hourly.groupby("region_id")["compute_load_mw"]
    reg = _central_regional(out).xs(2030, level="year").reindex(g.size().index)
    np.testing.assert_allclose(g.sum() / 1e6, reg["facility_energy_twh"], rtol=1e-10, atol=1e-9)
    m = 1 + 0.1 * np.cos(2 * np.pi * (np.arange(365) - 196) / 365)
    np.testing.assert_allclose(g.max(), reg["peak_load_mw"] * (m / m.mean()).max(), rtol=1e-10, atol=1e-9)
    assert np.isclose(seasonal_modulation(0.1).max(), (m / m.mean()).max())
    july = out.hourly.loc[out.hourly["hour"] // 24 == 196]
    jan = out.hourly.loc[out.hourly["hour"] // 24 == 14]
    assert july["compute_load_mw"].sum() > jan["compute_load_mw"].sum()


def test_hourly_years_outside_the_horizon_are_refused(shipped) -> None:
    s = shipped[2]["reference"]
    assert resolve_hourly_years(s, None) == [2024, 2030, 2035]
    with pytest.raises(GridcastError, match="2040 is outside"):
        resolve_hourly_years(s, (2030, 2040))


# PyPSA 1.4's own CSV import calls DataFrame.set_index(inplace=True), deprecated in pandas 3.1
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_pypsa_reads_the_export_and_its_loads_are_the_total_load(run_folder: Path, tmp_path: Path) -> None:
    pypsa = pytest.importorskip("pypsa")
    pypsa.options.api.legacy_string_dtype = False  # pandas 3 strings; silences PyPSA's FutureWarning
    files = export_pypsa(open_run(run_folder), tmp_path / "net", "flexible_training", 2030)
    assert {f.name for f in files} >= {"buses.csv", "loads.csv", "loads-p_set.csv", "snapshots.csv"}
    n = pypsa.Network(str(tmp_path / "net"))
    assert n.name == "gridcast flexible_training 2030"
    assert len(n.buses) == 31 and list(n.loads.index) == list(n.buses.index)
    assert len(n.snapshots) == 8760 and n.snapshots[0] == pd.Timestamp("2030-01-01 00:00")
    hourly = open_run(run_folder).table("hourly", ["flexible_training"])
    want = hourly.loc[hourly["year"] == 2030].pivot(index="hour", columns="region_id", values="total_load_mw")
    got = n.loads_t.p_set[want.columns]
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-6)
    assert n.buses["x"].notna().all()  # coordinates from the run's regions.csv


def test_pypsa_export_refuses_a_year_without_profiles(run_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(GridcastError, match="2031"):
        export_pypsa(open_run(run_folder), tmp_path / "x", "reference", 2031)


def test_leap_year_snapshots_skip_29_february() -> None:
    snaps = snapshots_of(2032)
    assert len(snaps) == 8760 and pd.Timestamp("2032-02-29 12:00") not in snaps
    assert snaps[1416] == pd.Timestamp("2032-03-01 00:00")


def test_cli_exports_pypsa_and_hourly_wide(run_folder: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    done = runner.invoke(app, ["export", "--run", str(run_folder), "--out", str(tmp_path / "net"), "--format", "pypsa",
                               "--scenario", "reference", "--years", "2035"])
    assert done.exit_code == 0, done.output
    p_set = pd.read_csv(tmp_path / "net" / "loads-p_set.csv", index_col=0)
    assert p_set.shape == (8760, 31) and p_set.index[0] == "2035-01-01 00:00:00"
    two = runner.invoke(app, ["export", "--run", str(run_folder), "--out", str(tmp_path / "n2"), "--format", "pypsa",
                              "--years", "2030-2035"])
    assert two.exit_code == 2 and "one year" in two.output
    csv = runner.invoke(app, ["export", "--run", str(run_folder), "--out", str(tmp_path / "csv"), "--format", "csv",
                              "--table", "peaks,headroom,hourly", "--years", "2030"])
    assert csv.exit_code == 0, csv.output
    assert {"peaks.csv", "headroom.csv", "hourly.csv"} <= {p.name for p in (tmp_path / "csv").iterdir()}
    cols = pd.read_csv(tmp_path / "csv" / "columns.csv")
    assert {"peaks", "headroom", "hourly"} <= set(cols["table"])
    hourly = pd.read_csv(tmp_path / "csv" / "hourly.csv")
    assert set(hourly["year"]) == {2030}
    assert len(hourly) == 8760 * hourly["region_id"].nunique() * hourly["scenario"].nunique()


def test_cli_hourly_years_parse() -> None:
    from flows.cli import _parse_hourly_years

    assert _parse_hourly_years("2035, 2024,2030") == (2024, 2030, 2035)
    assert _parse_hourly_years(None) is None
    with pytest.raises(GridcastError, match="commas"):
        _parse_hourly_years("2030;2035")


def test_a_leap_year_input_gives_the_8760_hour_result(shipped) -> None:
    """A metered leap year: 29 February is dropped, the other 8,760 hours are the shape."""
    inputs, fleet, scen = shipped
    s = scen["reference"]
    base = _flat_baseline(inputs.demand_history, fleet.region_ids, s.years)
    year = inputs.system_hourly.sort_values("hour_of_year").reset_index(drop=True)
    feb29 = year.iloc[1416:1440].assign(**{c: 1e9 for c in year.columns if c != "hour_of_year"})
    leap = pd.concat([year.iloc[:1416], feb29, year.iloc[1416:]], ignore_index=True)
    leap["hour_of_year"] = np.arange(8784)
    plain = run_scenario(inputs, s, base, n_draws=0, seed=1, fleet=fleet, hourly_years=(2030,))
    out = run_scenario(dataclasses.replace(inputs, system_hourly=leap), s, base, n_draws=0, seed=1, fleet=fleet,
                       hourly_years=(2030,))
    np.testing.assert_allclose(out.hourly["total_load_mw"], plain.hourly["total_load_mw"], rtol=1e-12)
    assert any("8784 hours" in n and "29 February" in n for n in out.hours_notes)
