"""Rebuild gridcast's shipped default dataset (``data/default/``) from ``data/raw/``.

Run from anywhere::

    .venv/bin/python data/build_default.py            # writes data/default/
    .venv/bin/python data/build_default.py --out DIR  # writes DIR/ instead

Every number written here is either read from a file in ``data/raw/`` (source keys
S1...S43 are defined in ``data/raw/SOURCES-reference.md``, G1-G9 and SGERI in ``data/SOURCES.md``)
or is one of the constants below, each labelled SOURCED (with its key) or ASSUMPTION.
``data/SOURCES.md`` documents the derivation step by step. The build is
deterministic: the same raw files give byte-identical outputs.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RAW_DIR = HERE / "raw"
DEFAULT_OUT_DIR = HERE / "default"

# --- Constants. SOURCED = read from a cited source; ASSUMPTION = our choice. -----------------
RACK_POWER_KW = 2.5  # SOURCED S29: the plan counts capacity in "2.5 kW standard racks".
UTILIZATION = 0.6272  # SOURCED S11 (clusters' rack utilisation); ASSUMPTION: power draw/rated ~ it.
AI_SHARE = 0.35  # ASSUMPTION, informed by SGERI "intelligent computing under 40%"
# (State Grid Energy Research Institute, China Electric Power News, 2025-03-18; data/SOURCES.md).
TRAINING_SHARE = 0.4  # ASSUMPTION: share of AI energy that trains.
LARGE_SIZE_SHARE = 0.8  # ASSUMPTION: share of a province's racks in large centres.
SIZE_SHARES = {"large": LARGE_SIZE_SHARE, "small_medium": 1.0 - LARGE_SIZE_SHARE}
RACKS_DATE = "2024-12-31"  # base-year fleet: national racks in use at end-2024 (S26, S27)
RACK_SOURCES = ("S26", "S27")  # two conflicting lower bounds; ASSUMPTION: use their mean
HUB_SHARE_DATE = "2023-12-31"  # S26 hub shares of national racks, end-2023
GDP_SPLIT_YEAR = 2024  # ASSUMPTION: within a group, racks follow 2024 GDP (S6)
GDP_PER_HEAD_YEAR = 2022  # the year S7 population is available for
MAX_LAG_YEARS = 6  # ASSUMPTION: cap of the diffusion lag
LAG_YEARS_PER_HALVING = 2.0  # ASSUMPTION: 2 years of lag per halving of GDP per head
HISTORY_FIRST_YEAR, HISTORY_LAST_YEAR = 2007, 2024  # span of S1 rows
# PUE ranges from SGERI (China Electric Power News, 2025-03-18): large 1.1-1.3, small and medium 1.3-1.5.
PUE_RANGES = {"large": (1.1, 1.3), "small_medium": (1.3, 1.5)}
HOURS_PER_DAY = 24
TWH_PER_MW_YEAR = 8.76e-3  # MWh in 8760 h / 1e6 (docs/methodology.md, conventions)
MW_DECIMALS = 4  # 0.1 kW: keeps files readable; the 62 roundings move the total < 0.01 MW
FACTOR_DECIMALS = 12  # keeps each load-shape mean within 1e-11 of 1
GUIZHOU_RACKS_S27 = 200_000  # S27 lower bound (built and under construction)

# --- Observed provincial points and the planned pipeline (data/raw/datacenter_points_verified.csv,
# keys G2-G9, each verified against the publication named in its row; see data/SOURCES.md s6-s7).
BASE_YEAR = 2024
# Base-fleet floors: a province whose GDP share gives less than what is observed operating in
# the base year gets the observed figure; the rest of its S26 group gives it up in proportion.
FLOOR_POINTS = {
    "CN-SX": ("G2", "internet data services electricity use"),  # TWh -> racks (see floor_racks)
    "CN-NX": ("G5", "standard racks"),  # racks
}
PLANNED_AI_SHARE = (
    0.8  # ASSUMPTION, informed by S38/S39: >90% of new western compute is "intelligent"
)
PLANNED_TRAINING_SHARE = 0.5  # ASSUMPTION: new western cluster capacity leans to training
ZHONGJIN_ONLINE_YEAR = 2026  # ASSUMPTION: structures finish end-2025 (G6), first racks in 2026
SHANXI_BUILD_YEARS = (
    2025,
    2026,
)  # ASSUMPTION: Aug-2024 construction comes online evenly over 2 years
GUIZHOU_ONLINE_YEAR = 2025  # ASSUMPTION: the S27 construction (end-2024) comes online in 2025
QINGYANG_TARGET_YEARS = (2025, 2030)  # G4 (2025 total) and S29 (2030 total)

# Grid emission factors (E1-E4 in data/SOURCES.md). Tibet is not in the provincial table of
# the MEE/NBS announcements; ASSUMPTION: it takes the factor of the regional grid the
# announcements group it with (Southwest: Sichuan, Chongqing, Tibet).
FACTOR_FALLBACK_REGIONAL_GRID = {"西藏": "西南"}
FACTOR_SOURCES = {
    "E1": "MEE/NBS announcement 2024 No. 12 (2021 factors, 2024-04-12)",
    "E2": "MEE/NBS announcement of the 2022 factors (2024-12-20)",
    "E4": "MEE/NBS announcement of the 2023 factors (reported 2026-01)",
}
# Electricity prices paid by compute centres, CNY/kWh (low, central, high). No provincial
# table from a primary source was found (data/SOURCES.md, section P).
PRICE_COAST = (0.55, 0.65, 0.80)  # ASSUMPTION: coastal large-industrial level (agency-purchase order of magnitude)
PRICE_INLAND_EAST = (0.50, 0.60, 0.75)  # ASSUMPTION: between coast and west
WEST_DISCOUNT = 0.30  # SOURCED P1, P2: western hub provinces ~30% cheaper than the eastern coast
PRICE_WEST_LOW_HIGH = (0.35, 0.55)  # ASSUMPTION around the ~0.4 subsidised tariff (P1) and P3's 0.38
COASTAL_PROVINCES = ("CN-BJ", "CN-TJ", "CN-HE", "CN-LN", "CN-SD", "CN-SH", "CN-JS", "CN-ZJ",
                     "CN-FJ", "CN-GD", "CN-HI")  # ASSUMPTION: "coastal" as the eastern seaboard

# Hub membership beyond the provinces that host a cluster: Beijing and Tianjin are named in
# the Beijing-Tianjin-Hebei hub's name but host no cluster (the Zhangjiakou cluster is in
# Hebei). S26's 21.5% is read as covering all three (ASSUMPTION).
EXTRA_HUB_PROVINCES = {"Beijing-Tianjin-Hebei hub": ("Beijing", "Tianjin")}
# S26 reports two named hubs; the other six hubs are reported combined under this scope.
OTHER_HUBS_SCOPE = "other six hubs combined"
NON_HUB_GROUP = "non-hub provinces"
# DataV names carry the administrative suffix; S1's province_zh does not.
DATAV_NAME_SUFFIX = r"(壮族自治区|回族自治区|维吾尔自治区|自治区|省|市)$"

# Fleet-average central PUE (80% large at 1.2, 20% small/medium at 1.4 = 1.24): converts an
# observed facility TWh into the base fleet's IT MW.
PUE_CENTRAL_MIX = sum(SIZE_SHARES[k] * (lo + hi) / 2 for k, (lo, hi) in PUE_RANGES.items())

HUB_IDS = {  # short slugs for the 10 clusters (keyed by the file's cluster_en)
    "Zhangjiakou cluster": "zhangjiakou",
    "Yangtze River Delta Ecological Green Integrated Development Demonstration Zone cluster": (
        "yrd_green"
    ),
    "Wuhu cluster": "wuhu",
    "Shaoguan cluster": "shaoguan",
    "Tianfu cluster": "tianfu",
    "Chongqing cluster": "chongqing",
    "Horinger cluster": "horinger",
    "Gui'an cluster": "guian",
    "Qingyang cluster": "qingyang",
    "Zhongwei cluster": "zhongwei",
}
# The YRD cluster spans three provinces; its file row gives Shanghai as main city and the
# starting areas in Suzhou (Jiangsu) and Jiaxing (Zhejiang) as alternative coordinates (S21).
CLUSTER_ALT_CITY_BY_PROVINCE = {"Jiangsu": "Suzhou", "Zhejiang": "Jiaxing"}

OUTPUT_FILES = (
    "regions.csv",
    "hub_nodes.csv",
    "compute_centers.csv",
    "pue_assumptions.csv",
    "demand_history.csv",
    "load_shapes.csv",
    "system_hourly_load_2018_mw.csv",
    "published_estimates.csv",
    "grid_emission_factors.csv",
    "electricity_prices.csv",
    "planned_centers.csv",
    "observed_provincial.csv",
)


def read_raw(raw_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the raw CSVs the build uses.

    Args:
        raw_dir: folder holding the unchanged reference copies.

    Returns:
        Frames keyed by short name.
    """
    files = {
        "consumption": "china_province_electricity_consumption_annual.csv",
        "gdp": "china_province_gdp_annual.csv",
        "population": "china_province_population_2022.csv",
        "hourly": "china_province_hourly_load_2018_pypsa_mw.csv",
        "clusters": "china_edwc_hubs_clusters.csv",
        "capacity": "china_datacenter_capacity_figures.csv",
        "centers": "province_centers_datav.csv",
        "factors": "china_grid_emission_factors_mee_nbs.csv",
        "leads": "china_datacenter_pipeline_leads.csv",
        "points": "datacenter_points_verified.csv",
    }
    return {key: pd.read_csv(raw_dir / name) for key, name in files.items()}


def province_table(consumption: pd.DataFrame, centers: pd.DataFrame) -> pd.DataFrame:
    """Return the 31 provinces with ISO code, names, S1 macro-region and capital coordinates.

    Coordinates are the DataV GeoAtlas ``center`` (seat of the provincial government, G1),
    matched on the Chinese name (DataV names carry a suffix such as 省 or 自治区).

    Returns:
        Columns ``region_id, name, name_zh, region4, lat, lon``, sorted by region_id.
    """
    s1 = consumption[consumption["source"].str.startswith("S1")]
    prov = (
        s1[["iso_3166_2", "province", "province_zh", "region4"]]
        .drop_duplicates()
        .rename(columns={"iso_3166_2": "region_id", "province": "name", "province_zh": "name_zh"})
        .sort_values("region_id", ignore_index=True)
    )
    if len(prov) != 31 or prov["region_id"].duplicated().any():
        raise ValueError(f"expected 31 unique provinces in S1 rows, got {len(prov)}")
    short_zh = centers["name_zh"].str.replace(DATAV_NAME_SUFFIX, "", regex=True)
    coords = centers.assign(name_zh=short_zh).set_index("name_zh")
    if set(coords.index) != set(prov["name_zh"]) or coords.index.duplicated().any():
        raise ValueError("province centre coordinates do not match the 31 provinces one-to-one")
    return prov.assign(
        lat=prov["name_zh"].map(coords["center_lat"]),
        lon=prov["name_zh"].map(coords["center_lon"]),
    )


def cluster_table(clusters: pd.DataFrame, provinces: pd.DataFrame) -> pd.DataFrame:
    """Return one row per cluster with slug, host province(s) and coordinates.

    Returns:
        Columns of the raw file plus ``hub_id`` and ``province_list`` (list of names).
    """
    out = clusters.assign(
        hub_id=clusters["cluster_en"].map(HUB_IDS),
        province_list=clusters["provinces"].str.split("; "),
    )
    if out["hub_id"].isna().any():
        raise ValueError("a cluster in china_edwc_hubs_clusters.csv has no slug in HUB_IDS")
    known = set(provinces["name"])
    unknown = {p for plist in out["province_list"] for p in plist} - known
    if unknown:
        raise ValueError(f"cluster provinces not in the province table: {sorted(unknown)}")
    return out


def hub_nodes(clusters: pd.DataFrame, provinces: pd.DataFrame) -> pd.DataFrame:
    """Return ``hub_nodes.csv``: the 10 clusters, located at their main city (S21, approximate).

    region_id is the province of the main city: the cluster's first listed province (for
    the three-province YRD cluster that is Shanghai, its main city).
    """
    name_to_id = provinces.set_index("name")["region_id"]
    return pd.DataFrame(
        {
            "hub_id": clusters["hub_id"],
            "name": clusters["cluster_en"],
            "name_zh": clusters["cluster_zh"],
            "hub": clusters["hub_en"],
            "region_id": clusters["province_list"].str[0].map(name_to_id),
            "lat": clusters["lat"],
            "lon": clusters["lon"],
            "zone": clusters["east_west"],
        }
    )


def hub_membership(clusters: pd.DataFrame) -> pd.DataFrame:
    """Return the provinces of each national hub with the hub's east/west type.

    Returns:
        Columns ``name`` (province), ``hub_en``, ``hub_zone``; one row per province.
    """
    hosted = clusters[["hub_en", "east_west", "province_list"]].explode("province_list")
    hosted = hosted.rename(columns={"province_list": "name", "east_west": "hub_zone"})
    hub_zone = clusters.drop_duplicates("hub_en").set_index("hub_en")["east_west"]
    extra = pd.DataFrame(
        [(p, hub) for hub, provs in EXTRA_HUB_PROVINCES.items() for p in provs],
        columns=["name", "hub_en"],
    )
    extra["hub_zone"] = extra["hub_en"].map(hub_zone)
    members = pd.concat([hosted, extra], ignore_index=True).drop_duplicates("name")
    return members[["name", "hub_en", "hub_zone"]]


def diffusion_lag_years(
    gdp: pd.DataFrame, population: pd.DataFrame, provinces: pd.DataFrame
) -> pd.Series:
    """Return the diffusion lag (whole years) per region from GDP per head in 2022.

    ``lag = clip(round(2 * log2(max_gdppc / gdppc_r)), 0, 6)``: the richest province leads,
    each halving of GDP per head adds two years (ASSUMPTION). numpy rounds half to even.

    Returns:
        Integer lag indexed by region_id.
    """
    gdp_cny = (
        gdp.loc[gdp["year"] == GDP_PER_HEAD_YEAR].set_index("province")["gdp_100m_cny_current"]
        * 1e8
    )
    persons = population.set_index("region_name")["population_total"]
    names = provinces.set_index("region_id")["name"]
    gdppc_cny = names.map(gdp_cny) / names.map(persons)
    if gdppc_cny.isna().any():
        missing = sorted(names[gdppc_cny.isna()])
        raise ValueError(f"GDP or population missing (check name matching): {missing}")
    lag = np.log2(gdppc_cny.max() / gdppc_cny) * LAG_YEARS_PER_HALVING
    return np.clip(np.round(lag), 0, MAX_LAG_YEARS).astype(int).rename("diffusion_lag_years")


def regions(provinces: pd.DataFrame, members: pd.DataFrame, lag_years: pd.Series) -> pd.DataFrame:
    """Return ``regions.csv``.

    zone: a hub province takes the hub's type (S14; Chengdu-Chongqing is "east"); any other
    province is ``west`` if S1's region4 is West, else ``east`` (convention).
    """
    hub_zone = provinces["name"].map(members.set_index("name")["hub_zone"])
    default_zone = np.where(provinces["region4"].eq("West"), "west", "east")
    return pd.DataFrame(
        {
            "region_id": provinces["region_id"],
            "name": provinces["name"],
            "name_zh": provinces["name_zh"],
            "zone": hub_zone.fillna(pd.Series(default_zone, index=provinces.index)),
            "grid": "",
            "diffusion_lag_years": provinces["region_id"].map(lag_years),
            "lat": provinces["lat"],
            "lon": provinces["lon"],
        }
    )


def national_racks(capacity: pd.DataFrame) -> float:
    """Return national standard racks in use at end-2024: mean of S26 and S27 (ASSUMPTION)."""
    rows = capacity[
        capacity["date"].eq(RACKS_DATE)
        & capacity["scope"].eq("China (national)")
        & capacity["metric"].eq("standard racks in use")
        & capacity["source_id"].isin(RACK_SOURCES)
    ]
    if sorted(rows["source_id"]) != sorted(RACK_SOURCES):
        raise ValueError(f"expected one end-2024 rack figure from each of {RACK_SOURCES}")
    return float(rows["value"].mean())


def group_rack_shares(capacity: pd.DataFrame) -> pd.Series:
    """Return the share (0-1) of national racks per province group (S26, end-2023).

    Groups: the two named hubs, the other six hubs combined, and the non-hub provinces,
    which receive the remainder.
    """
    rows = capacity[
        capacity["date"].eq(HUB_SHARE_DATE)
        & capacity["metric"].eq("share of national racks in use")
        & capacity["source_id"].eq("S26")
        & ~capacity["scope"].str.startswith("8 national")  # the ">70%" lower bound overlaps
    ]
    shares = rows.set_index("scope")["value"] / 100.0
    shares[NON_HUB_GROUP] = 1.0 - shares.sum()
    return shares


def province_it_capacity_mw(
    provinces: pd.DataFrame,
    members: pd.DataFrame,
    gdp: pd.DataFrame,
    capacity: pd.DataFrame,
    floors: pd.Series | None = None,
) -> pd.DataFrame:
    """Split national IT capacity over provinces: S26 group shares, then 2024 GDP within groups.

    A province with an observed base-year floor (racks, ``floors``) above its GDP share gets
    the floor; the other provinces of its group give the difference up in proportion to their
    GDP share, so every group keeps its S26 share and the nation its total.

    Returns:
        Columns ``region_id, name, group, group_share, gdp_share_in_group, racks_gdp, racks,
        it_capacity_mw`` (racks and MW of the whole province, both size classes;
        ``racks_gdp`` is the GDP split before the floors).
    """
    shares = group_rack_shares(capacity)
    named_hubs = set(shares.index) - {OTHER_HUBS_SCOPE, NON_HUB_GROUP}
    hub_of = provinces["name"].map(members.set_index("name")["hub_en"])
    group = np.where(
        hub_of.isin(named_hubs),
        hub_of,
        np.where(hub_of.notna(), OTHER_HUBS_SCOPE, NON_HUB_GROUP),
    )
    gdp_2024 = gdp.loc[gdp["year"] == GDP_SPLIT_YEAR].set_index("province")["gdp_100m_cny_current"]
    table = provinces[["region_id", "name"]].assign(
        group=group, gdp_100m_cny=provinces["name"].map(gdp_2024)
    )
    if table["gdp_100m_cny"].isna().any():
        raise ValueError(f"2024 GDP missing for some province in {GDP_SPLIT_YEAR}")
    table["group_share"] = table["group"].map(shares)
    table["gdp_share_in_group"] = table["gdp_100m_cny"] / table.groupby("group")[
        "gdp_100m_cny"
    ].transform("sum")
    table["racks_gdp"] = (
        national_racks(capacity) * table["group_share"] * table["gdp_share_in_group"]
    )
    floor = table["region_id"].map(floors if floors is not None else {}).astype(float)
    lifted = floor.gt(table["racks_gdp"])
    raised = table["racks_gdp"].where(~lifted, floor)
    group_total = table.groupby("group")["racks_gdp"].transform("sum")
    fixed = raised.where(lifted, 0.0).groupby(table["group"]).transform("sum")
    free = table["racks_gdp"].where(~lifted, 0.0).groupby(table["group"]).transform("sum")
    table["racks"] = raised.where(lifted, table["racks_gdp"] * (group_total - fixed) / free)
    table["it_capacity_mw"] = table["racks"] * RACK_POWER_KW / 1000.0
    return table


def _point(points: pd.DataFrame, key: str, metric: str) -> pd.Series:
    """The one row of ``datacenter_points_verified.csv`` with this key and metric."""
    rows = points[points["key"].eq(key) & points["metric"].eq(metric)]
    if len(rows) != 1:
        raise ValueError(f"expected one point {key} {metric!r}, got {len(rows)}")
    return rows.iloc[0]


def _capacity_point(capacity: pd.DataFrame, source: str, date: str) -> float:
    rows = capacity[capacity["source_id"].eq(source) & capacity["date"].eq(date)]
    if len(rows) != 1:
        raise ValueError(f"expected one {source} capacity figure dated {date}, got {len(rows)}")
    return float(rows["value"].iloc[0])


def racks_of_facility_twh(twh: float) -> float:
    """Standard racks whose base-fleet facility energy is ``twh`` (central PUE mix, S11 load)."""
    it_mw = twh / (UTILIZATION * TWH_PER_MW_YEAR * PUE_CENTRAL_MIX)
    return it_mw * 1000.0 / RACK_POWER_KW


def floor_racks(points: pd.DataFrame) -> pd.Series:
    """Observed base-year floors (racks) per region_id, from ``FLOOR_POINTS``.

    Shanxi: internet-data-services electricity (G2, TWh; a lower bound) read as the facility
    energy of its fleet. Ningxia: Zhongwei's standard racks in August 2024 (G5); Zhongwei
    holds the hub's large centres (ASSUMPTION: the rest of Ningxia is small).
    """
    out = {}
    for region, (key, metric) in FLOOR_POINTS.items():
        row = _point(points, key, metric)
        value = float(row["value"])
        out[region] = racks_of_facility_twh(value) if str(row["unit"]).startswith("TWh") else value
    return pd.Series(out, dtype=float)


def _planned_row(
    project_id: str,
    name: str,
    region_id: str,
    racks: float,
    stage: str,
    year: int,
    source: str,
    hub: pd.Series | None = None,
) -> dict:
    return {
        "project_id": project_id,
        "name": name,
        "region_id": region_id,
        "lat": np.nan if hub is None else hub["lat"],
        "lon": np.nan if hub is None else hub["lon"],
        "hub_id": "" if hub is None else hub["hub_id"],
        "it_capacity_mw": round(racks * RACK_POWER_KW / 1000.0, MW_DECIMALS),
        "utilization": np.nan,
        "ai_share": PLANNED_AI_SHARE,
        "training_share": PLANNED_TRAINING_SHARE,
        "stage": stage,
        "online_year": int(year),
        "source": source,
    }


def planned_centers(
    points: pd.DataFrame, capacity: pd.DataFrame, province_mw: pd.DataFrame, hubs: pd.DataFrame
) -> pd.DataFrame:
    """Return ``planned_centers.csv``: cluster targets and verified projects, net of the base fleet.

    Rules (data/SOURCES.md s7): racks x 2.5 kW; a government target is ``announced`` and
    only its part above what operates (reported, or held by the base fleet, whichever is
    larger) and above the named projects of the same cluster is added; built-and-under-
    construction totals become ``under_construction`` net of the base fleet's racks.
    """
    hub = hubs.set_index("hub_id", drop=False)
    base_racks = province_mw.set_index("region_id")["racks"]
    rows = []

    # Qingyang (Gansu): G4 2025 total, S29 2030 total, minus G3 racks in operation end-2024.
    operating = float(_point(points, "G3", "standard racks in operation")["value"])
    t2025 = float(_point(points, "G4", "standard racks target (cluster total)")["value"])
    t2030 = _capacity_point(capacity, "S29", "2030-12-31")
    first, last = QINGYANG_TARGET_YEARS
    rows.append(
        _planned_row(
            f"GS-qingyang-target-{first}",
            f"Qingyang cluster target to {first} (net of operating)",
            "CN-GS",
            t2025 - operating,
            "announced",
            first,
            f"G4 target {t2025:,.0f} racks by end-{first} minus G3 {operating:,.0f} operating "
            f"end-2024; 2.5 kW/rack (S29)",
            hub.loc["qingyang"],
        )
    )
    years = range(first + 1, last + 1)
    for year in years:
        rows.append(
            _planned_row(
                f"GS-qingyang-target-{year}",
                f"Qingyang cluster target {first + 1}-{last}, year {year}",
                "CN-GS",
                (t2030 - t2025) / len(years),
                "announced",
                year,
                f"S29 target {t2030:,.0f} racks by {last} minus G4 {t2025:,.0f} by {first}, "
                f"spread evenly over {first + 1}-{last} (ASSUMPTION); 2.5 kW/rack (S29)",
                hub.loc["qingyang"],
            )
        )

    # Ningxia: the Zhongjin Zhongwei project (G6, 820,000 racks, about 2,050 MW reported).
    zhongjin = float(_point(points, "G6", "planned standard racks of one project")["value"])
    rows.append(
        _planned_row(
            "NX-zhongjin-zhongwei",
            "Zhongjin Data Group Zhongwei project",
            "CN-NX",
            zhongjin,
            "under_construction",
            ZHONGJIN_ONLINE_YEAR,
            f"G6 (S40): {zhongjin:,.0f} racks, IT load about 2050 MW reported; construction began "
            f"2025; online {ZHONGJIN_ONLINE_YEAR} ASSUMPTION",
            hub.loc["zhongwei"],
        )
    )
    # The S32 hub target (720,000 racks by end-2025) is not added on top: net of what operates
    # (G5) and of the named project above, nothing is left (see ningxia_target_remainder).
    remainder = ningxia_target_remainder(points, capacity, base_racks, zhongjin)
    if remainder > 0:
        rows.append(
            _planned_row(
                "NX-hub-target-2025",
                "Ningxia hub target to 2025 (net)",
                "CN-NX",
                remainder,
                "announced",
                2025,
                "S32 target net of G5 operating and G6",
                hub.loc["zhongwei"],
            )
        )

    # Shanxi: racks in use and under construction (G2, Aug 2024) minus the base fleet's racks.
    sx_total = float(_point(points, "G2", "standard racks in use and under construction")["value"])
    sx_building = sx_total - base_racks["CN-SX"]
    for year in SHANXI_BUILD_YEARS:
        rows.append(
            _planned_row(
                f"SX-under-construction-{year}",
                f"Shanxi data centres under construction, part {year}",
                "CN-SX",
                sx_building / len(SHANXI_BUILD_YEARS),
                "under_construction",
                year,
                f"G2 (S36): {sx_total:,.0f} racks in use and under construction (Aug 2024) minus "
                f"{base_racks['CN-SX']:,.0f} in the base fleet, online evenly {SHANXI_BUILD_YEARS} "
                "(ASSUMPTION); 2.5 kW/rack",
            )
        )

    # Guizhou: S27 >= 200,000 racks built and under construction (end-2024) minus the base fleet.
    gz_building = GUIZHOU_RACKS_S27 - base_racks["CN-GZ"]
    if gz_building > 0:
        rows.append(
            _planned_row(
                "GZ-under-construction",
                "Guizhou data centres under construction",
                "CN-GZ",
                gz_building,
                "under_construction",
                GUIZHOU_ONLINE_YEAR,
                f"S27: >= {GUIZHOU_RACKS_S27:,} racks built and under construction (end-2024) minus "
                f"{base_racks['CN-GZ']:,.0f} in the base fleet; online {GUIZHOU_ONLINE_YEAR} "
                "(ASSUMPTION); 2.5 kW/rack",
                hub.loc["guian"],
            )
        )
    out = pd.DataFrame(rows)
    out["online_year"] = out["online_year"].astype(int)
    return out


def ningxia_target_remainder(
    points: pd.DataFrame, capacity: pd.DataFrame, base_racks: pd.Series, named_racks: float
) -> float:
    """Racks of the S32 Ningxia target (end-2025) not yet operating nor in a named project."""
    target = _capacity_point(capacity, "S32", "2025-12-31")
    operating = max(float(_point(points, "G5", "standard racks")["value"]), base_racks["CN-NX"])
    return target - operating - named_racks


def observed_provincial(
    points: pd.DataFrame, leads: pd.DataFrame, capacity: pd.DataFrame
) -> pd.DataFrame:
    """Return ``observed_provincial.csv``: every observed provincial figure, in model units.

    Racks become IT MW at 2.5 kW. Quantities: ``facility_energy_twh`` (a year's electricity),
    ``facility_energy_twh_quarter`` (one quarter), ``it_capacity_mw``.
    """

    def mw(racks: float) -> float:
        return round(racks * RACK_POWER_KW / 1000.0, MW_DECIMALS)

    sx_twh = _point(points, "G2", "internet data services electricity use")
    sx_racks = _point(points, "G2", "standard racks in use and under construction")
    qy = _point(points, "G3", "standard racks in operation")
    nx = _point(points, "G5", "standard racks")
    nm = leads[leads["source_id"].eq("S37")].iloc[0]
    rows = [
        (
            "CN-SX",
            2024,
            "facility_energy_twh",
            float(sx_twh["value"]),
            "TWh",
            "whole province, internet data services (mainly data centres), Jan to early Dec; lower bound",
            "G2 (S36): " + sx_twh["publisher"],
        ),
        (
            "CN-SX",
            2024,
            "it_capacity_mw",
            mw(sx_racks["value"]),
            "MW",
            "in use and under construction, Aug 2024 (1,012,000 racks x 2.5 kW)",
            "G2 (S36): " + sx_racks["publisher"],
        ),
        (
            "CN-NM",
            2025,
            "facility_energy_twh_quarter",
            float(nm["value"]),
            "TWh",
            "Horinger cluster only, Q1 2025",
            "S37 (goinnermongolia.com.cn, July 2025): UNVERIFIED, the figure was not found by our search",
        ),
        (
            "CN-GZ",
            2024,
            "it_capacity_mw",
            mw(GUIZHOU_RACKS_S27),
            "MW",
            "built and under construction, lower bound (200,000 racks x 2.5 kW)",
            "S27 (secondary)",
        ),
        (
            "CN-NX",
            2024,
            "it_capacity_mw",
            mw(nx["value"]),
            "MW",
            "Zhongwei, racks in place Aug 2024 (96,200 x 2.5 kW)",
            "G5: " + nx["publisher"],
        ),
        (
            "CN-GS",
            2024,
            "it_capacity_mw",
            mw(qy["value"]),
            "MW",
            "Qingyang cluster only, in operation end-2024 (31,000 x 2.5 kW)",
            "G3 (S41): " + qy["publisher"],
        ),
    ]
    return pd.DataFrame(
        rows, columns=["region_id", "year", "quantity", "value", "unit", "scope", "source"]
    )


def compute_centers(
    provinces: pd.DataFrame, province_mw: pd.DataFrame, clusters: pd.DataFrame
) -> pd.DataFrame:
    """Return ``compute_centers.csv``: one large and one small_medium aggregate per province.

    The large row of a province hosting a cluster carries the cluster's hub_id and sits at
    the cluster's coordinates (S21); Jiangsu and Zhejiang, part of the YRD cluster, use its
    Suzhou and Jiaxing alternatives. Other rows sit at the provincial capital (G1).
    """
    hosted = clusters[["hub_id", "lat", "lon", "alt_city_coords_lon_lat", "province_list"]]
    hosted = hosted.explode("province_list").rename(columns={"province_list": "name"})
    alt = (
        hosted["alt_city_coords_lon_lat"]
        .fillna("")
        .str.extractall(r"(?P<city>[A-Za-z']+) (?P<lon>[0-9.]+)/(?P<lat>[0-9.]+)")
    )
    alt = alt.droplevel("match").astype({"lon": float, "lat": float})
    alt = alt.assign(name=alt["city"].map({c: p for p, c in CLUSTER_ALT_CITY_BY_PROVINCE.items()}))
    alt = alt.dropna(subset=["name"]).drop_duplicates("name").set_index("name")
    hosted = hosted.set_index("name")
    hosted[["lat", "lon"]] = alt[["lat", "lon"]].combine_first(hosted[["lat", "lon"]])

    base = provinces[["region_id", "name", "lat", "lon"]].merge(
        province_mw[["region_id", "it_capacity_mw"]], on="region_id"
    )
    rows = pd.concat([base.assign(size_class=size) for size in SIZE_SHARES], ignore_index=True)
    is_large = rows["size_class"].eq("large")
    cluster_of = rows["name"].map(hosted["hub_id"]).where(is_large)
    at_cluster = cluster_of.notna()
    label = np.where(is_large, "large", "small and medium")
    return pd.DataFrame(
        {
            "center_id": rows["region_id"] + "-" + rows["size_class"],
            "name": rows["name"] + " " + label + " data centres (aggregate)",
            "region_id": rows["region_id"],
            "lat": rows["lat"].mask(at_cluster, rows["name"].map(hosted["lat"])),
            "lon": rows["lon"].mask(at_cluster, rows["name"].map(hosted["lon"])),
            "hub_id": cluster_of.fillna(""),
            "size_class": rows["size_class"],
            "it_capacity_mw": (rows["it_capacity_mw"] * rows["size_class"].map(SIZE_SHARES)).round(
                MW_DECIMALS
            ),
            "utilization": UTILIZATION,
            "ai_share": AI_SHARE,
            "training_share": TRAINING_SHARE,
            "pue": np.nan,
            "commissioning_year": pd.array([pd.NA] * len(rows), dtype="Int64"),
        }
    ).sort_values(["region_id", "size_class"], ignore_index=True)


def pue_assumptions(zones: list[str]) -> pd.DataFrame:
    """Return ``pue_assumptions.csv``: SGERI ranges, central = midpoint (ASSUMPTION)."""
    rows = [
        {
            "size_class": size,
            "zone": zone,
            "pue_low": low,
            "pue_central": round((low + high) / 2, 6),
            "pue_high": high,
            "source": (
                "SGERI, China Electric Power News 2025-03-18 (large 1.1-1.3, small and medium 1.3-1.5); "
                "central = midpoint (ASSUMPTION); same for both zones (ASSUMPTION)"
            ),
        }
        for size, (low, high) in PUE_RANGES.items()
        for zone in zones
    ]
    return pd.DataFrame(rows)


def demand_history(consumption: pd.DataFrame) -> pd.DataFrame:
    """Return ``demand_history.csv``: S1 whole-society consumption, 31 provinces x 2007-2024."""
    s1 = consumption[
        consumption["source"].str.startswith("S1")
        & consumption["year"].between(HISTORY_FIRST_YEAR, HISTORY_LAST_YEAR)
    ]
    out = s1.rename(columns={"iso_3166_2": "region_id"})[
        ["region_id", "year", "consumption_twh", "flag"]
    ]
    return out.sort_values(["region_id", "year"], ignore_index=True)


def system_hourly_load_mw(hourly: pd.DataFrame, region_ids: pd.Series) -> pd.DataFrame:
    """Return the 2018 hourly reconstruction (S6b) with ISO columns and 0-based hours.

    The file's ``hour_of_year`` runs 1..8760; hour 1 is taken as 00:00-01:00 on 1 January
    (the national daily minimum then falls at 04:00-06:00), so ``hour_of_year - 1`` gives
    0..8759. The file's two-letter codes are the ISO 3166-2 suffixes.
    """
    out = hourly.rename(columns=lambda c: c if c == "hour_of_year" else f"CN-{c}")
    if set(out.columns) - {"hour_of_year"} != set(region_ids):
        raise ValueError("hourly load columns do not match the 31 region ids")
    out = out.assign(hour_of_year=out["hour_of_year"] - 1)
    return out[["hour_of_year", *sorted(region_ids)]]


def load_shapes(system_mw: pd.DataFrame) -> pd.DataFrame:
    """Return ``load_shapes.csv``: 24 factors (mean 1) for general, training and inference.

    general and training are flat (ASSUMPTION: continuous batch work). inference follows
    the national average daily profile of 2018 system load (ASSUMPTION, from S6b).
    """
    hour_of_day = system_mw["hour_of_year"] % HOURS_PER_DAY
    national_mw = system_mw.drop(columns="hour_of_year").sum(axis=1)
    profile = national_mw.groupby(hour_of_day).mean().to_numpy()
    hours = np.arange(HOURS_PER_DAY)
    flat_source = "ASSUMPTION: flat, continuous batch work"
    shapes = {
        "general": (np.ones(HOURS_PER_DAY), flat_source),
        "training": (np.ones(HOURS_PER_DAY), flat_source),
        "inference": (
            (profile / profile.mean()).round(FACTOR_DECIMALS),
            "ASSUMPTION: follows national 2018 daily load profile (S6b), mean-normalised",
        ),
    }
    return pd.concat(
        [
            pd.DataFrame({"workload": w, "hour": hours, "factor": f, "source": s})
            for w, (f, s) in shapes.items()
        ],
        ignore_index=True,
    )


def grid_emission_factors(factors: pd.DataFrame, provinces: pd.DataFrame) -> pd.DataFrame:
    """Return ``grid_emission_factors.csv``: MEE/NBS provincial factors by year (E1, E2).

    Provinces are matched on the Chinese name; a province missing from the provincial
    table takes its regional grid's factor for every year that grid has one (ASSUMPTION).
    """
    by_name = provinces.set_index("name_zh")["region_id"]
    prov = factors[factors["scope"] == "province"]
    grid = factors[factors["scope"] == "regional_grid"]
    rows = prov.assign(region_id=prov["name_zh"].map(by_name),
                       source=prov["source_key"].map(FACTOR_SOURCES) + ", provincial table (" + prov["source_key"] + ")")
    for name_zh, grid_zh in FACTOR_FALLBACK_REGIONAL_GRID.items():
        g = grid[grid["name_zh"] == grid_zh]
        rows = pd.concat([rows, g.assign(
            region_id=by_name[name_zh],
            source="ASSUMPTION: not in the provincial table; regional grid " + grid_zh + " factor, "
            + g["source_key"].map(FACTOR_SOURCES) + ", regional table (" + g["source_key"] + ")",
        )])
    if rows["region_id"].isna().any() or set(rows["region_id"]) != set(provinces["region_id"]):
        raise ValueError("grid emission factors do not cover the 31 provinces one-to-one")
    out = rows[["region_id", "year", "kg_co2_per_kwh", "source"]]
    return out.sort_values(["region_id", "year"], ignore_index=True)


def electricity_prices(region_table: pd.DataFrame) -> pd.DataFrame:
    """Return ``electricity_prices.csv``: three price tiers (coast, inland east, west zone).

    West central = coast central x (1 - WEST_DISCOUNT) (P1, P2); every level is otherwise
    an ASSUMPTION, with the range showing how uncertain it is.
    """
    west = (PRICE_WEST_LOW_HIGH[0], round(PRICE_COAST[1] * (1 - WEST_DISCOUNT), 6), PRICE_WEST_LOW_HIGH[1])
    tiers = {
        "coast": (PRICE_COAST, "ASSUMPTION: coastal level"),
        "inland_east": (PRICE_INLAND_EAST, "ASSUMPTION: inland east level"),
        "west": (west, "central SOURCED P1, P2 (west ~30% below the coast's central); range ASSUMPTION (P1, P3)"),
    }
    ids = region_table["region_id"]
    tier = np.where(region_table["zone"] == "west", "west",
                    np.where(ids.isin(COASTAL_PROVINCES), "coast", "inland_east"))
    prices = pd.DataFrame([tiers[t][0] for t in tier], columns=["price_low", "price_central", "price_high"])
    return pd.DataFrame({"region_id": ids.to_numpy(), **{c: prices[c].to_numpy() for c in prices},
                         "source": [tiers[t][1] for t in tier]})


#: Sources of ``china_datacenter_electricity_estimates.csv`` left out of ``published_estimates.csv``:
#: S23 is an unattributed secondary article on an unrelated website (data/raw/SOURCES-reference.md).
DROPPED_ESTIMATE_SOURCES = frozenset({"S23"})


def published_estimates(estimates_text: str, points: pd.DataFrame) -> str:
    """Return ``published_estimates.csv``: the reference estimates without S23, plus S43.

    The kept rows are copied line for line (byte-identical to the raw file). The 2024
    national figure of S43 (S&P Global, reported by Caixin; verified as G9) is appended
    in the same columns, its value read from ``datacenter_points_verified.csv``.
    """
    lines = estimates_text.splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    source_col = header.index("source_id")
    kept = [lines[0]] + [
        line for line in lines[1:]
        if next(csv.reader([line]))[source_col] not in DROPPED_ESTIMATE_SOURCES
    ]
    g9 = _point(points, "G9", "data-centre electricity use")
    year = int(str(g9["date"])[:4])
    value = float(g9["value"])
    row = {
        "year": year,
        "metric": "China data-centre electricity consumption",
        "value_low": value,
        "value_high": value,
        "unit": str(g9["unit"]),
        "kind": "historical estimate",
        "original_publisher": "S&P Global (reported by Caixin Global, 2025-05-16)",
        "source_id": str(g9["lead"]),
        "quality": "medium",
        "note": f"verified as G9 (data/SOURCES.md section 6): {g9['note']}",
    }
    added = pd.DataFrame([row], columns=header).to_csv(
        index=False, header=False, lineterminator="\n"
    )
    if not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    return "".join(kept) + added


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write one output CSV: UTF-8, LF line ends, no index, shortest round-trip floats."""
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def _print_checks(
    province_mw: pd.DataFrame, system_mw: pd.DataFrame, consumption: pd.DataFrame
) -> None:
    """Print the cross-checks reported in data/SOURCES.md (they do not change any output)."""
    gz_racks = province_mw.set_index("region_id").at["CN-GZ", "racks"]
    print(
        f"check: Guizhou racks allocated {gz_racks:,.0f} vs S27 >= {GUIZHOU_RACKS_S27:,} "
        f"(built and under construction): ratio {gz_racks / GUIZHOU_RACKS_S27:.2f}"
    )
    s1_2018 = demand_history(consumption).query("year == 2018").set_index("region_id")
    hourly_twh = system_mw.drop(columns="hour_of_year").sum() / 1e6
    ratio = hourly_twh / s1_2018["consumption_twh"]
    off = ratio[(ratio - 1).abs() > 0.001]
    print(
        "check: S6b 2018 annual sum / S1 2018 off by > 0.1%: "
        + ", ".join(f"{r} {v:.3f}" for r, v in off.items())
    )


def _print_pipeline(
    planned: pd.DataFrame, province_mw: pd.DataFrame, observed: pd.DataFrame, nx_rest: float
) -> None:
    """Print the base-fleet floors, the observed comparison and the planned MW by stage."""
    mw = province_mw.set_index("region_id")
    base_twh = mw["it_capacity_mw"] * UTILIZATION * TWH_PER_MW_YEAR * PUE_CENTRAL_MIX
    gdp_twh = (
        mw["racks_gdp"] * RACK_POWER_KW / 1000 * UTILIZATION * TWH_PER_MW_YEAR * PUE_CENTRAL_MIX
    )
    print("observed vs base fleet (GDP split -> with floors):")
    for rec in observed.itertuples():
        if rec.quantity == "it_capacity_mw":
            before = mw.at[rec.region_id, "racks_gdp"] * RACK_POWER_KW / 1000
            after = mw.at[rec.region_id, "it_capacity_mw"]
        else:
            scale = 0.25 if rec.quantity.endswith("quarter") else 1.0
            before, after = gdp_twh[rec.region_id] * scale, base_twh[rec.region_id] * scale
        print(
            f"  {rec.region_id} {rec.year} {rec.quantity}: {before:,.2f} -> {after:,.2f} "
            f"vs observed {rec.value:,.2f} {rec.unit} ({rec.scope})"
        )
    print(
        f"check: Ningxia S32 target left after operating and named projects: {nx_rest:,.0f} racks"
    )
    by = planned.pivot_table(
        index="region_id", columns="stage", values="it_capacity_mw", aggfunc="sum", fill_value=0.0
    )
    print("planned IT MW by province and stage:")
    print(by.round(1).to_string())
    print(planned.groupby("stage")["it_capacity_mw"].sum().round(1).to_string())
    print(f"planned total: {planned['it_capacity_mw'].sum():,.1f} MW in {len(planned)} rows")


def build(raw_dir: Path, out_dir: Path) -> dict[str, float]:
    """Build every file of the default dataset into ``out_dir``.

    Returns:
        Headline figures: ``national_racks``, ``national_it_mw``, ``base_it_twh``.
    """
    raw = read_raw(raw_dir)
    provinces = province_table(raw["consumption"], raw["centers"])
    clusters = cluster_table(raw["clusters"], provinces)
    members = hub_membership(clusters)
    lag = diffusion_lag_years(raw["gdp"], raw["population"], provinces)
    region_table = regions(provinces, members, lag)
    province_mw = province_it_capacity_mw(
        provinces, members, raw["gdp"], raw["capacity"], floor_racks(raw["points"])
    )
    centers = compute_centers(provinces, province_mw, clusters)
    hub_table = hub_nodes(clusters, provinces)
    planned = planned_centers(raw["points"], raw["capacity"], province_mw, hub_table)
    observed = observed_provincial(raw["points"], raw["leads"], raw["capacity"])
    system_mw = system_hourly_load_mw(raw["hourly"], provinces["region_id"])

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "regions.csv": region_table,
        "hub_nodes.csv": hub_table,
        "compute_centers.csv": centers,
        "pue_assumptions.csv": pue_assumptions(sorted(region_table["zone"].unique())),
        "demand_history.csv": demand_history(raw["consumption"]),
        "load_shapes.csv": load_shapes(system_mw),
        "system_hourly_load_2018_mw.csv": system_mw,
        "grid_emission_factors.csv": grid_emission_factors(raw["factors"], provinces),
        "electricity_prices.csv": electricity_prices(region_table),
        "planned_centers.csv": planned,
        "observed_provincial.csv": observed,
    }
    for name, frame in tables.items():
        _write_csv(frame, out_dir / name)
    estimates = (raw_dir / "china_datacenter_electricity_estimates.csv").read_text(encoding="utf-8")
    (out_dir / "published_estimates.csv").write_text(
        published_estimates(estimates, raw["points"]), encoding="utf-8", newline=""
    )
    # the known scope breaks of the S1 provincial series, curated by hand (data/SOURCES.md)
    shutil.copyfile(raw_dir / "statistical_breaks.csv", out_dir / "statistical_breaks.csv")

    it_mw = float(centers["it_capacity_mw"].sum())
    _print_checks(province_mw, system_mw, raw["consumption"])
    _print_pipeline(
        planned,
        province_mw,
        observed,
        ningxia_target_remainder(
            raw["points"],
            raw["capacity"],
            province_mw.set_index("region_id")["racks"],
            float(_point(raw["points"], "G6", "planned standard racks of one project")["value"]),
        ),
    )
    return {
        "national_racks": national_racks(raw["capacity"]),
        "national_it_mw": it_mw,
        "base_it_twh": float((centers["it_capacity_mw"] * centers["utilization"]).sum())
        * TWH_PER_MW_YEAR,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse ``--out`` and build; print the national headline figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="output folder")
    parser.add_argument("--raw", type=Path, default=RAW_DIR, help="raw input folder")
    args = parser.parse_args(argv)
    figures = build(args.raw, args.out)
    print(f"wrote {len(OUTPUT_FILES)} files to {args.out}")
    print(f"national standard racks (end-2024): {figures['national_racks']:,.0f}")
    print(f"national IT capacity: {figures['national_it_mw']:,.1f} MW")
    print(f"implied base IT energy: {figures['base_it_twh']:.2f} TWh")


if __name__ == "__main__":
    main()
