"""Hub assignment (docs/methodology.md section 3.2) against a hand haversine with R = 6371.0088 km."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.hubs import assign_hubs, nearest_hub

R_KM = 6371.0088
HUBS = pd.DataFrame({"hub_id": ["H1", "H2"], "lat": [30.0, 40.0], "lon": [110.0, 116.0]})
# A centre 1 degree due north of H1: the great-circle distance is R * pi / 180 exactly
# (haversine: 2 R asin(sin(0.5 deg)) = R * 1 deg in radians).
ONE_DEG_KM = R_KM * math.pi / 180.0


def _centers(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["center_id", "hub_id", "lat", "lon"])
    df["hub_id"] = df["hub_id"].astype(object)
    df["lat"] = df["lat"].astype(float)
    df["lon"] = df["lon"].astype(float)
    return df


def test_haversine_of_the_boundary_case_is_one_degree(gc):
    assert gc.haversine_km(31.0, 110.0, 30.0, 110.0) == pytest.approx(ONE_DEG_KM, rel=1e-14)
    assert ONE_DEG_KM == pytest.approx(111.19508023353306, rel=1e-14)


def test_declared_hub_is_kept_even_if_another_hub_is_nearer():
    c = _centers([{"center_id": "c", "hub_id": "H2", "lat": 30.0, "lon": 110.5}])
    got = assign_hubs(c, HUBS, radius_km=500.0).iloc[0]
    assert got["assigned_hub_id"] == "H2"
    assert got["assignment"] == "declared"
    assert np.isnan(got["hub_distance_km"])


def test_nearest_hub_at_exactly_the_radius_is_inclusive(gc):
    radius = gc.haversine_km(31.0, 110.0, 30.0, 110.0)
    c = _centers(
        [
            {"center_id": "edge", "hub_id": None, "lat": 31.0, "lon": 110.0},
            {"center_id": "far", "hub_id": None, "lat": 32.0, "lon": 110.0},  # 2 degrees: outside
        ]
    )
    got = assign_hubs(c, HUBS, radius_km=radius).set_index("center_id")
    assert got.loc["edge", "assigned_hub_id"] == "H1"
    assert got.loc["edge", "assignment"] == "nearest"
    assert got.loc["edge", "hub_distance_km"] == pytest.approx(radius, rel=1e-12)
    assert pd.isna(got.loc["far", "assigned_hub_id"])
    assert got.loc["far", "assignment"] == "none"
    # just inside the boundary from the other side: a radius a metre short excludes it
    short = assign_hubs(c, HUBS, radius_km=radius - 1e-3).set_index("center_id")
    assert short.loc["edge", "assignment"] == "none"


def test_nearest_of_two_hubs_and_distance_matches_haversine(gc):
    c = _centers([{"center_id": "c", "hub_id": None, "lat": 39.0, "lon": 115.0}])
    d1 = gc.haversine_km(39.0, 115.0, 30.0, 110.0)
    d2 = gc.haversine_km(39.0, 115.0, 40.0, 116.0)
    assert d2 < d1
    near = nearest_hub(c, HUBS).iloc[0]
    assert near["nearest_hub_id"] == "H2"
    assert near["nearest_hub_km"] == pytest.approx(d2, rel=1e-12)
    assert assign_hubs(c, HUBS, radius_km=d2 + 1.0).iloc[0]["assigned_hub_id"] == "H2"
    assert assign_hubs(c, HUBS, radius_km=d2 - 1.0).iloc[0]["assignment"] == "none"


def test_no_coordinates_and_no_hub_id_means_no_hub():
    c = _centers([{"center_id": "c", "hub_id": None, "lat": np.nan, "lon": np.nan}])
    got = assign_hubs(c, HUBS, radius_km=20000.0).iloc[0]
    assert pd.isna(got["assigned_hub_id"])
    assert got["assignment"] == "none"


def test_simulate_counts_centre_at_exact_radius_as_hub_assigned(gc):
    """The boundary centre (region index 1) is hub capacity: region A's moved training goes to B."""
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "east"}],
        [
            {"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0},
            {"region_id": "B", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0,
             "lat": 31.0, "lon": 110.0},
        ],
        hubs=[{"hub_id": "H1", "lat": 30.0, "lon": 110.0}],
    )
    radius = gc.haversine_km(31.0, 110.0, 30.0, 110.0)
    sc = gc.make_scenario(
        growth={"taper": 1.0, "training": 0.5},
        hardware_efficiency_gain={"training": 0.0},
        hubs={"assignment_radius_km": radius, "training_shift_to_hubs": 0.6},
    )
    res = gc.run(fleet, sc)
    # 2025: each region 0.876 * 1.5 = 1.314; A moves 0.6 * 0.438 = 0.2628 to B (hubshare B = 1)
    assert res.it_twh[0, :, 1, 1].tolist() == [pytest.approx(1.0512), pytest.approx(1.5768)]
    # a radius a metre short: no hub capacity anywhere, nothing moves
    short = gc.make_params(sc, hubs__assignment_radius_km=radius - 1e-3)
    res = gc.run(fleet, sc, short)
    assert res.it_twh[0, :, 1, 1].tolist() == [pytest.approx(1.314), pytest.approx(1.314)]


def test_simulate_agrees_with_assign_hubs_just_outside_the_radius(gc):
    c = _centers([{"center_id": "x", "hub_id": None, "lat": 30.5, "lon": 112.3}])
    hubs = HUBS.iloc[:1]
    d = float(nearest_hub(c, hubs)["nearest_hub_km"].iloc[0])
    radius = d
    for _ in range(9):  # nine representable steps below the distance
        radius = float(np.nextafter(radius, 0.0))
    assert assign_hubs(c, hubs, radius).iloc[0]["assignment"] == "none"
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "east"}],
        [
            {"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0},
            {"region_id": "B", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0,
             "lat": 30.5, "lon": 112.3},
        ],
        hubs=[{"hub_id": "H1", "lat": 30.0, "lon": 110.0}],
    )
    sc = gc.make_scenario(
        growth={"taper": 1.0, "training": 0.5},
        hardware_efficiency_gain={"training": 0.0},
        hubs={"assignment_radius_km": radius, "training_shift_to_hubs": 0.6},
    )
    res = gc.run(fleet, sc)
    # no centre is hub-assigned, so nothing moves: both regions 0.876 * 1.5 in 2025
    assert res.it_twh[0, :, 1, 1].tolist() == [pytest.approx(1.314), pytest.approx(1.314)]
