"""Tests of the shipped default dataset in data/default/ and of its build script.

Expected values are recomputed here from data/raw/ (or written as closed forms), never
taken from data/build_default.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEFAULT_DIR = DATA_DIR / "default"
RAW_DIR = DATA_DIR / "raw"

# Province groups of S26's end-2023 hub shares, spelled out independently of the build.
GROUPS = {
    "jjj": (["CN-BJ", "CN-TJ", "CN-HE"], 0.215),
    "yrd": (["CN-SH", "CN-JS", "CN-ZJ", "CN-AH"], 0.245),
    "six_hubs": (["CN-GD", "CN-SC", "CN-CQ", "CN-NM", "CN-GZ", "CN-GS", "CN-NX"], 0.255),
}
NON_HUB_SHARE = 1 - 0.215 - 0.245 - 0.255  # 0.285


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DEFAULT_DIR / name, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def regions() -> pd.DataFrame:
    return _read("regions.csv")


@pytest.fixture(scope="module")
def hubs() -> pd.DataFrame:
    return _read("hub_nodes.csv")


@pytest.fixture(scope="module")
def centers() -> pd.DataFrame:
    return _read("compute_centers.csv")


@pytest.mark.slow
def test_build_is_reproducible_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "default"
    subprocess.run(
        [sys.executable, str(DATA_DIR / "build_default.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    built = sorted(p.name for p in out.iterdir())
    shipped = sorted(p.name for p in DEFAULT_DIR.iterdir())
    assert built == shipped
    for name in shipped:
        assert (out / name).read_bytes() == (DEFAULT_DIR / name).read_bytes(), name


def test_regions_are_the_31_provinces(regions: pd.DataFrame) -> None:
    assert len(regions) == 31
    assert regions["region_id"].is_unique
    assert regions["region_id"].str.fullmatch(r"CN-[A-Z]{2}").all()
    assert set(regions["zone"]) == {"east", "west"}
    assert regions["diffusion_lag_years"].between(0, 6).all()
    assert regions["lat"].between(18, 54).all() and regions["lon"].between(73, 136).all()


def test_zone_of_hub_provinces_follows_hub_type(regions: pd.DataFrame) -> None:
    zone = regions.set_index("region_id")["zone"]
    # Chengdu-Chongqing hub is an "east" (demand) hub although S1 puts both in the West.
    assert zone["CN-SC"] == "east" and zone["CN-CQ"] == "east"
    assert (zone[["CN-NM", "CN-GZ", "CN-GS", "CN-NX"]] == "west").all()
    assert (zone[["CN-XJ", "CN-XZ", "CN-QH", "CN-YN", "CN-GX", "CN-SN"]] == "west").all()


def test_diffusion_lag_from_gdp_per_head(regions: pd.DataFrame) -> None:
    gdp = pd.read_csv(RAW_DIR / "china_province_gdp_annual.csv").query("year == 2022")
    pop = pd.read_csv(RAW_DIR / "china_province_population_2022.csv")
    per_head = (
        gdp.set_index("province")["gdp_100m_cny_current"]
        * 1e8
        / pop.set_index("region_name")["population_total"].reindex(gdp["province"]).to_numpy()
    )
    expected = np.clip(np.round(2 * np.log2(per_head.max() / per_head)), 0, 6)
    got = regions.set_index("name")["diffusion_lag_years"]
    assert (got.reindex(expected.index) == expected).all()
    assert got["Beijing"] == 0


def test_ten_hub_nodes(hubs: pd.DataFrame, regions: pd.DataFrame) -> None:
    assert len(hubs) == 10 and hubs["hub_id"].is_unique
    assert set(hubs["region_id"]) <= set(regions["region_id"])
    assert set(hubs["zone"]) == {"east", "west"}


def test_center_references_resolve(
    centers: pd.DataFrame, regions: pd.DataFrame, hubs: pd.DataFrame
) -> None:
    assert len(centers) == 62 and centers["center_id"].is_unique
    assert set(centers["region_id"]) == set(regions["region_id"])
    assert set(centers["hub_id"].dropna()) <= set(hubs["hub_id"])
    per_region = centers.groupby("region_id")["size_class"].agg(sorted)
    assert (per_region.map(tuple) == ("large", "small_medium")).all()
    assert centers.loc[centers["size_class"] == "small_medium", "hub_id"].isna().all()
    # every cluster is the hub of at least one large row
    assert set(centers["hub_id"].dropna()) == set(hubs["hub_id"])


def test_national_it_capacity_equals_racks_times_rack_power(centers: pd.DataFrame) -> None:
    cap = pd.read_csv(RAW_DIR / "china_datacenter_capacity_figures.csv")
    racks = cap[
        (cap["date"] == "2024-12-31")
        & (cap["metric"] == "standard racks in use")
        & cap["source_id"].isin(["S26", "S27"])
    ]["value"]
    assert sorted(racks) == [8.5e6, 9.0e6]
    expected_mw = racks.mean() * 2.5 / 1000  # 8.75 M racks x 2.5 kW = 21,875 MW
    assert expected_mw == pytest.approx(21_875.0)
    assert centers["it_capacity_mw"].sum() == pytest.approx(expected_mw, abs=0.01)


def test_group_shares_and_size_split(centers: pd.DataFrame) -> None:
    mw = centers.groupby("region_id")["it_capacity_mw"].sum()
    total = mw.sum()
    hub_ids: list[str] = []
    for ids, share in GROUPS.values():
        assert mw[ids].sum() / total == pytest.approx(share, abs=1e-6)
        hub_ids += ids
    assert mw.drop(hub_ids).sum() / total == pytest.approx(NON_HUB_SHARE, abs=1e-6)
    large = centers[centers["size_class"] == "large"].set_index("region_id")["it_capacity_mw"]
    assert np.allclose(large / mw.reindex(large.index), 0.8, atol=1e-5)


def test_within_group_split_follows_2024_gdp(centers: pd.DataFrame) -> None:
    gdp = pd.read_csv(RAW_DIR / "china_province_gdp_annual.csv").query("year == 2024")
    gdp = gdp.set_index("province")["gdp_100m_cny_current"]
    mw = centers.groupby("region_id")["it_capacity_mw"].sum()
    # Beijing vs Hebei, both in the Beijing-Tianjin-Hebei group.
    assert mw["CN-BJ"] / mw["CN-HE"] == pytest.approx(gdp["Beijing"] / gdp["Hebei"], rel=1e-6)


def test_center_parameters_in_contract_ranges(centers: pd.DataFrame) -> None:
    assert (centers["it_capacity_mw"] > 0).all()
    assert centers["utilization"].between(0, 1, inclusive="right").all()
    assert centers[["ai_share", "training_share"]].stack().between(0, 1).all()
    assert centers["pue"].isna().all() and centers["commissioning_year"].isna().all()


def test_pue_assumptions_cover_every_size_and_zone() -> None:
    pue = _read("pue_assumptions.csv")
    assert len(pue) == 4
    assert set(zip(pue["size_class"], pue["zone"], strict=True)) == {
        (s, z) for s in ("large", "small_medium") for z in ("east", "west")
    }
    assert ((pue["pue_low"] <= pue["pue_central"]) & (pue["pue_central"] <= pue["pue_high"])).all()


def test_load_shapes_have_mean_one() -> None:
    shapes = _read("load_shapes.csv")
    assert set(shapes["workload"]) == {"general", "training", "inference"}
    for _, shape in shapes.groupby("workload"):
        assert sorted(shape["hour"]) == list(range(24))
        assert (shape["factor"] >= 0).all()
        assert abs(shape["factor"].mean() - 1) < 1e-9


def test_inference_shape_is_national_daily_profile() -> None:
    hourly = pd.read_csv(RAW_DIR / "china_province_hourly_load_2018_pypsa_mw.csv")
    national = hourly.drop(columns="hour_of_year").sum(axis=1).to_numpy().reshape(365, 24)
    expected = national.mean(axis=0) / national.mean()
    shapes = _read("load_shapes.csv").query("workload == 'inference'").sort_values("hour")
    assert np.allclose(shapes["factor"], expected, atol=1e-11)


def test_demand_history_is_31_by_18(regions: pd.DataFrame) -> None:
    hist = _read("demand_history.csv")
    assert len(hist) == 31 * 18
    assert not hist.duplicated(["region_id", "year"]).any()
    assert set(hist["year"]) == set(range(2007, 2025))
    assert set(hist["region_id"]) == set(regions["region_id"])
    assert (hist["consumption_twh"] >= 0).all()
    flagged = hist.dropna(subset=["flag"]).set_index(["region_id", "year"])
    assert ("CN-SD", 2015) in flagged.index and ("CN-XJ", 2019) in flagged.index


def test_system_hourly_load_shape(regions: pd.DataFrame) -> None:
    load = _read("system_hourly_load_2018_mw.csv")
    assert list(load["hour_of_year"]) == list(range(8760))
    assert sorted(load.columns[1:]) == sorted(regions["region_id"])
    raw = pd.read_csv(RAW_DIR / "china_province_hourly_load_2018_pypsa_mw.csv")
    assert load["CN-GD"].to_numpy() == pytest.approx(raw["GD"].to_numpy())


def test_published_estimates_drop_s23_and_add_s43() -> None:
    """The reference estimates line for line, without the unattributed S23, plus S43 (G9)."""
    shipped = (DEFAULT_DIR / "published_estimates.csv").read_text(encoding="utf-8").splitlines()
    raw = (RAW_DIR / "china_datacenter_electricity_estimates.csv").read_text(encoding="utf-8")
    kept = [line for line in raw.splitlines() if ",S23," not in line]
    assert len(kept) == len(raw.splitlines()) - 4  # the four S23 rows of the reference file
    assert shipped[:-1] == kept
    last = pd.read_csv(DEFAULT_DIR / "published_estimates.csv").iloc[-1]
    assert (last["year"], last["unit"], last["source_id"]) == (2024, "TWh", "S43")
    assert last["value_low"] == last["value_high"] == 140.0  # Caixin citing S&P Global
    assert last["metric"] == "China data-centre electricity consumption"


# ------------------------------------------------------- base-fleet floors and the pipeline

RACK_KW = 2.5  # S29 standard rack
LOAD = 0.6272  # S11 utilisation, as in the centres file
PUE_MIX = 0.8 * 1.2 + 0.2 * 1.4  # central PUE of large (80%) and small/medium (20%) rows
STAGES = {"announced", "requested", "approved", "under_construction"}
BASE_YEAR = 2024


@pytest.fixture(scope="module")
def planned() -> pd.DataFrame:
    return _read("planned_centers.csv")


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    return pd.read_csv(RAW_DIR / "datacenter_points_verified.csv")


def _racks(frame: pd.DataFrame, region: str) -> float:
    return float(frame.loc[frame["region_id"] == region, "it_capacity_mw"].sum()) * 1000 / RACK_KW


def test_shanxi_base_fleet_reproduces_its_observed_electricity(centers: pd.DataFrame) -> None:
    sx = centers[centers["region_id"] == "CN-SX"]
    pue = sx["size_class"].map({"large": 1.2, "small_medium": 1.4})
    facility_twh = (sx["it_capacity_mw"] * sx["utilization"] * 8.76e-3 * pue).sum()
    assert facility_twh == pytest.approx(4.0, abs=1e-5)  # G2: > 4.0 TWh in 2024


def test_ningxia_base_fleet_holds_the_zhongwei_racks(centers: pd.DataFrame) -> None:
    assert _racks(centers, "CN-NX") == pytest.approx(96_200, abs=0.1)  # G5, Aug 2024


def test_floors_are_taken_from_their_group_in_gdp_proportion(centers: pd.DataFrame) -> None:
    gdp = pd.read_csv(RAW_DIR / "china_province_gdp_annual.csv").query("year == 2024")
    gdp = gdp.set_index("province")["gdp_100m_cny_current"]
    mw = centers.groupby("region_id")["it_capacity_mw"].sum()
    # Non-floored members of a group still follow GDP: Shandong vs Henan (non-hub group),
    # Guangdong vs Sichuan (six hubs).
    assert mw["CN-SD"] / mw["CN-HA"] == pytest.approx(gdp["Shandong"] / gdp["Henan"], rel=1e-6)
    assert mw["CN-GD"] / mw["CN-SC"] == pytest.approx(gdp["Guangdong"] / gdp["Sichuan"], rel=1e-6)
    # ... and the non-hub group as a whole gave up exactly what Shanxi gained.
    non_hub = sorted(set(mw.index) - {i for ids, _ in GROUPS.values() for i in ids})
    assert mw[non_hub].sum() == pytest.approx(21_875.0 * NON_HUB_SHARE, abs=0.01)


def test_planned_rows_follow_the_input_contract(
    planned: pd.DataFrame, regions: pd.DataFrame, hubs: pd.DataFrame
) -> None:
    assert list(planned.columns[:13]) == [
        "project_id", "name", "region_id", "lat", "lon", "hub_id", "it_capacity_mw",
        "utilization", "ai_share", "training_share", "stage", "online_year", "source",
    ]  # fmt: skip
    assert planned["project_id"].is_unique and len(planned) > 0
    assert set(planned["region_id"]) <= set(regions["region_id"])
    assert set(planned["hub_id"].dropna()) <= set(hubs["hub_id"])
    assert (planned["it_capacity_mw"] > 0).all()
    assert planned["utilization"].isna().all()  # the scenario's utilisation applies
    assert planned[["ai_share", "training_share"]].stack().between(0, 1).all()
    assert set(planned["stage"]) <= STAGES
    assert pd.api.types.is_integer_dtype(planned["online_year"])
    assert (planned["online_year"] > BASE_YEAR).all()
    located = planned["lat"].notna()
    assert (located == planned["lon"].notna()).all()
    assert (planned["source"].fillna("").str.strip() != "").all()


def test_planned_capacity_is_racks_times_2_5_kw(planned: pd.DataFrame) -> None:
    zhongjin = planned.set_index("project_id").loc["NX-zhongjin-zhongwei"]
    assert zhongjin["it_capacity_mw"] == pytest.approx(820_000 * RACK_KW / 1000)  # G6: 820k racks
    assert zhongjin["it_capacity_mw"] == pytest.approx(2050.0)  # ... reported as ~2050 MW of IT
    assert zhongjin["stage"] == "under_construction"


def test_cluster_targets_are_not_double_counted(
    planned: pd.DataFrame, centers: pd.DataFrame, points: pd.DataFrame
) -> None:
    cap = pd.read_csv(RAW_DIR / "china_datacenter_capacity_figures.csv")

    def target(source: str, date: str) -> float:
        rows = cap[(cap["source_id"] == source) & (cap["date"] == date)]["value"]
        return float(rows.iloc[0])

    def point(key: str) -> float:
        return float(points.loc[points["key"] == key, "value"].iloc[0])

    def planned_racks(region: str, by_year: int) -> float:
        rows = planned[(planned["region_id"] == region) & (planned["online_year"] <= by_year)]
        return rows["it_capacity_mw"].sum() * 1000 / RACK_KW

    # Qingyang: operating end-2024 (G3) + planned <= 100k by 2025 (G4) and <= 800k by 2030 (S29).
    operating_qy = point("G3")
    assert operating_qy + planned_racks("CN-GS", 2025) <= point("G4") + 1e-6
    assert operating_qy + planned_racks("CN-GS", 2030) <= target("S29", "2030-12-31") + 1e-6
    assert operating_qy <= _racks(centers, "CN-GS")  # the base fleet holds what operates
    # Ningxia: base fleet + planned by 2025 <= the 720k hub target (S32).
    assert _racks(centers, "CN-NX") + planned_racks("CN-NX", 2025) <= target("S32", "2025-12-31")
    # Shanxi: base fleet + under construction <= 1.012 M racks in use and under construction (G2).
    sx_total = float(
        points.loc[(points["key"] == "G2") & (points["unit"] == "racks"), "value"].iloc[0]
    )
    assert _racks(centers, "CN-SX") + planned_racks("CN-SX", 2100) <= sx_total + 0.1
    # Guizhou: base fleet + under construction <= 200k built and under construction (S27).
    assert _racks(centers, "CN-GZ") + planned_racks("CN-GZ", 2100) <= 200_000 + 0.1


def test_observed_provincial_validates_and_is_sourced(regions: pd.DataFrame) -> None:
    from flows.validate import load_inputs

    observed = load_inputs(DEFAULT_DIR).observed_provincial
    assert observed is not None and len(observed) >= 6
    assert set(observed["region_id"]) <= set(regions["region_id"])
    assert (observed["source"].str.strip() != "").all()
    by = observed.set_index(["region_id", "quantity"])["value"]
    assert by[("CN-NX", "it_capacity_mw")] == pytest.approx(96_200 * RACK_KW / 1000)
    assert by[("CN-GS", "it_capacity_mw")] == pytest.approx(31_000 * RACK_KW / 1000)
