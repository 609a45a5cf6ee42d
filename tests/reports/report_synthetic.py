"""Small deterministic ReportInputs for the report tests (no randomness, closed forms).

Facility energy of region r in scenario s, year y (central):
    E = base_r * (1 + g_s * max(0, y - rise_s))    TWh
p10/p90 are E * 0.8 / E * 1.25, p50 = E. National rows are sums over regions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports import ReportInputs

#: 31 mainland provinces: id, name, zone, lat, lon (approximate centroids).
PROVINCES = [
    ("BJ", "北京", "North", 39.9, 116.4),
    ("TJ", "天津", "North", 39.1, 117.2),
    ("HE", "河北", "North", 38.0, 114.5),
    ("SX", "山西", "North", 37.9, 112.6),
    ("NM", "内蒙古", "North", 40.8, 111.7),
    ("LN", "辽宁", "Northeast", 41.8, 123.4),
    ("JL", "吉林", "Northeast", 43.9, 125.3),
    ("HL", "黑龙江", "Northeast", 45.8, 126.5),
    ("SH", "上海", "East", 31.2, 121.5),
    ("JS", "江苏", "East", 32.1, 118.8),
    ("ZJ", "浙江", "East", 30.3, 120.2),
    ("AH", "安徽", "East", 31.9, 117.3),
    ("FJ", "福建", "East", 26.1, 119.3),
    ("JX", "江西", "Central", 28.7, 115.9),
    ("SD", "山东", "North", 36.7, 117.0),
    ("HA", "河南", "Central", 34.8, 113.7),
    ("HB", "湖北", "Central", 30.6, 114.3),
    ("HN", "湖南", "Central", 28.2, 113.0),
    ("GD", "广东", "South", 23.1, 113.3),
    ("GX", "广西", "South", 22.8, 108.3),
    ("HI", "海南", "South", 20.0, 110.3),
    ("CQ", "重庆", "Southwest", 29.6, 106.5),
    ("SC", "四川", "Southwest", 30.7, 104.1),
    ("GZ", "贵州", "South", 26.6, 106.7),
    ("YN", "云南", "South", 25.0, 102.7),
    ("XZ", "西藏", "Southwest", 29.7, 91.1),
    ("SN", "陕西", "Northwest", 34.3, 108.9),
    ("GS", "甘肃", "Northwest", 36.1, 103.8),
    ("QH", "青海", "Northwest", 36.6, 101.8),
    ("NX", "宁夏", "Northwest", 38.5, 106.3),
    ("XJ", "新疆", "Northwest", 43.8, 87.6),
]
SCENARIOS = [
    "reference",
    "efficiency_push",
    "jevons_rebound",
    "east_data_west_compute",
    "slow_ai",
    "high_ai",
]
STATS = ["central", "p10", "p50", "p90"]
STAT_FACTOR = {"central": 1.0, "p10": 0.8, "p50": 1.0, "p90": 1.25}
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'
HOSTILE_BREAKOUT = "</script><script>window.__pwned=3</script>"


def _growth(k: int) -> float:
    return 0.08 + 0.03 * k


def _rise(k: int, first: int) -> int | None:
    # The last scenario never rises within the horizon (rise_start NA).
    return None if k == 5 else first + 1 + (k % 4)


def make_inputs(
    n_scenarios: int = 2,
    n_regions: int = 4,
    first: int = 2024,
    last: int = 2035,
    with_p: bool = True,
    optional: bool = True,
    hostile: bool = False,
) -> ReportInputs:
    """A ReportInputs with ``n_scenarios`` x ``n_regions`` x years x stats rows."""
    scenarios = list(SCENARIOS[:n_scenarios])
    provinces = [list(p) for p in PROVINCES[:n_regions]]
    if hostile:
        scenarios[0] = HOSTILE_SCRIPT
        provinces[0][1] = HOSTILE_IMG
        provinces[1][2] = HOSTILE_BREAKOUT
    regions = pd.DataFrame(provinces, columns=["region_id", "name", "zone", "lat", "lon"])
    if n_regions >= 3:  # one province without coordinates: listed, not plotted
        regions.loc[n_regions - 1, ["lat", "lon"]] = np.nan
    years = np.arange(first, last + 1)
    stats = STATS if with_p else ["central"]
    base = {p[0]: 0.5 + i * 0.37 for i, p in enumerate(provinces)}

    grid = pd.MultiIndex.from_product(
        [range(len(scenarios)), regions["region_id"], years, stats],
        names=["k", "region_id", "year", "stat"],
    ).to_frame(index=False)
    growth = grid["k"].map(_growth)
    rise = grid["k"].map(lambda k: _rise(k, first) or last + 1)
    energy = grid["region_id"].map(base) * (1 + growth * (grid["year"] - rise).clip(lower=0))
    energy = energy * grid["stat"].map(STAT_FACTOR)
    regional = grid.assign(
        scenario=grid["k"].map(dict(enumerate(scenarios))),
        facility_energy_twh=energy,
        it_energy_twh=energy / 1.3,
        peak_load_mw=energy * 1e6 / 8760 / 0.8,
        baseline_twh=grid["region_id"].map(base) * 100.0,
    )
    regional = regional.assign(
        total_twh=regional["baseline_twh"] + regional["facility_energy_twh"],
        compute_share=regional["facility_energy_twh"]
        / (regional["baseline_twh"] + regional["facility_energy_twh"]),
    )
    sums = regional.groupby(["k", "scenario", "year", "stat"], as_index=False, sort=False)[
        ["facility_energy_twh", "it_energy_twh", "peak_load_mw", "baseline_twh", "total_twh"]
    ].sum()
    national = sums.assign(compute_share=sums["facility_energy_twh"] / sums["total_twh"]).drop(
        columns="k"
    )
    regional = regional.drop(columns="k")[
        [
            "scenario",
            "region_id",
            "year",
            "stat",
            "facility_energy_twh",
            "peak_load_mw",
            "baseline_twh",
            "total_twh",
            "compute_share",
        ]
    ]

    tp_rows = []
    for k, s in enumerate(scenarios):
        r = _rise(k, first)
        for rid in ["ALL", *regions["region_id"]]:
            tp_rows.append(
                (s, rid, "flat" if r is None else "flat-then-rise", r, (r - 1) if r else last)
            )
    turning_points = pd.DataFrame(
        tp_rows, columns=["scenario", "region_id", "shape", "rise_start", "flat_until"]
    )
    turning_points = turning_points.astype({"rise_start": "Int64", "flat_until": "Int64"})

    hubs = pd.DataFrame(
        [
            ("H1", "京津冀枢纽", provinces[0][0], 39.5, 116.8, provinces[0][2]),
            ("H2", HOSTILE_BREAKOUT if hostile else "长三角枢纽", "SH", 31.0, 120.9, "East"),
        ],
        columns=["hub_id", "name", "region_id", "lat", "lon", "zone"],
    )
    published = pd.DataFrame(
        [
            (
                first,
                "China data-centre electricity consumption",
                90.0,
                120.0,
                "TWh",
                HOSTILE_SCRIPT if hostile else "Publisher A",
                "src-a",
            ),
            (
                2030,
                "China data-centre electricity consumption",
                200.0,
                380.0,
                "TWh",
                "Publisher B",
                "src-b",
            ),
            (
                2030,
                "China data-centre electricity consumption",
                250.0,
                250.0,
                "TWh",
                "Publisher C",
                "src-c",
            ),
            (2030, "Global data-centre electricity", 900.0, 1000.0, "TWh", "Publisher D", "src-d"),
        ],
        columns=[
            "year",
            "metric",
            "value_low",
            "value_high",
            "unit",
            "original_publisher",
            "source_id",
        ],
    )
    metadata = {
        "run_id": "run-0001",
        "started_at": "2026-01-01T00:00:00Z",
        "inputs_sha256": {"data/regions.csv": "ab" * 32, "data/hubs.csv": "cd" * 32},
        "parameters": {
            "pue": {"2024": 1.45, "2035": 1.2},
            "draws": 200,
            "note": HOSTILE_SCRIPT if hostile else "plain",
        },
        "scenario_descriptions": {s: f"scenario {s} description" for s in scenarios},
        "versions": {"gridcast": "0.1.0", "pandas": pd.__version__},
        "timings_s": {"load": 0.5, "forecast": 2.0, "report": 1.0},
    }
    extra = {}
    if optional:
        extra = _optional_frames(scenarios, regions, years, with_p)
    return ReportInputs(
        national=national,
        regional=regional,
        turning_points=turning_points,
        regions=regions,
        hubs=hubs,
        published=published,
        metadata=metadata,
        **extra,
    )


def _optional_frames(
    scenarios: list[str], regions: pd.DataFrame, years: np.ndarray, with_p: bool
) -> dict:
    params = ["pue", "gpu_efficiency_gain", "rebound_elasticity", "utilisation"]
    sensitivity = pd.DataFrame(
        [
            (s, 2030, p, 200.0 - 10 * (i + 1) - k, 200.0 + 15 * (i + 1), 200.0, 0.1 * (i + 1))
            for k, s in enumerate(scenarios)
            for i, p in enumerate(params)
        ],
        columns=[
            "scenario",
            "year",
            "parameter",
            "low_twh",
            "high_twh",
            "central_twh",
            "rank_corr",
        ],
    )
    assumptions = pd.DataFrame(
        [("PUE 2024", "1.45", "CAICT 2024"), ("utilisation", "0.6", "ASSUMPTION")],
        columns=["item", "value", "source"],
    )
    backtest = pd.DataFrame(
        [
            (r, m, 5, 0.03 + 0.01 * j, 0.8 + 0.1 * j, 0.8, j == 0)
            for r in regions["region_id"]
            for j, m in enumerate(["ets", "drift"])
        ],
        columns=[
            "region_id",
            "model",
            "n_origins",
            "mape",
            "mase_vs_drift",
            "coverage80",
            "selected",
        ],
    )
    ids = ["ALL", *regions["region_id"]]
    odds = pd.MultiIndex.from_product(
        [range(len(scenarios)), ids, years], names=["k", "region_id", "year"]
    )
    odds = odds.to_frame(index=False)
    centre = odds["k"].map(lambda k: _rise(k, int(years[0])) or int(years[-1]) + 3)
    p_started = 1 / (1 + np.exp(-(odds["year"] - centre)))
    rise_odds = odds.assign(scenario=odds["k"].map(dict(enumerate(scenarios))), p_started=p_started)
    rise_odds = rise_odds[["scenario", "region_id", "year", "p_started"]]
    co = pd.MultiIndex.from_product(
        [scenarios, regions["region_id"], years], names=["scenario", "region_id", "year"]
    )
    co = co.to_frame(index=False)
    inc = 10.0 + (co["year"] - years[0]) * 5.0
    coincident = co.assign(
        system_peak_mw=20000.0, system_peak_with_compute_mw=20000.0 + inc, compute_peak_contribution_mw=inc
    )
    return {
        "assumptions": assumptions,
        "backtest": backtest,
        "sensitivity": sensitivity,
        "rise_odds": rise_odds if with_p else None,
        "coincident": coincident,
    }
