"""Engine equations (docs/methodology.md section 3) against hand calculations.

Expected values are written out from the equations of docs/methodology.md with plain Python scalars and
loops; the code under test is only ever called to produce the *actual* value.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.engine import (
    adoption_curve,
    base_it_energy,
    diffusion_index,
    growth_index,
    peak_load_mw,
    rebound_factor,
    software_multiplier,
)
from models.summarize import turning_points_table

YEARS = [2024, 2025, 2026, 2027]
W = ("general", "training", "inference")
REL = 1e-12


def approx(x, rel=REL, abs=1e-15):
    return pytest.approx(x, rel=rel, abs=abs)


# --------------------------------------------------------------------------- E0


def test_base_it_energy_split_and_region_sum(gc):
    centers = pd.DataFrame(
        {
            "it_capacity_mw": [200.0, 50.0],
            "utilization": [0.6, 0.8],
            "ai_share": [0.3, 1.0],
            "training_share": [0.7, 0.25],
        }
    )
    got = base_it_energy(centers)
    # c0: 200 MW * 0.6 * 8.76e-3 = 1.0512 TWh; general 70%, training 0.3*0.7, inference 0.3*0.3
    # c1: 50 MW * 0.8 * 8.76e-3 = 0.3504 TWh; general 0, training 0.25, inference 0.75
    assert got["e0_twh"].tolist() == [approx(1.0512), approx(0.3504)]
    assert got["general"].tolist() == [approx(0.73584), approx(0.0)]
    assert got["training"].tolist() == [approx(0.220752), approx(0.0876)]
    assert got["inference"].tolist() == [approx(0.094608), approx(0.2628)]

    # Region totals are sums over the region's centres (build_fleet), order general/training/inference.
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}],
        [
            {"region_id": "A", "it_capacity_mw": 200.0, "utilization": 0.6, "ai_share": 0.3, "training_share": 0.7},
            {"region_id": "A", "it_capacity_mw": 50.0, "utilization": 0.8, "ai_share": 1.0, "training_share": 0.25},
        ],
    )
    assert fleet.e0_twh[0].tolist() == [approx(0.73584), approx(0.308352), approx(0.357408)]


# ------------------------------------------------------------------------ growth


def test_growth_index_taper_and_hardware_gain():
    got = growth_index(np.array([0.2, 0.5]), np.array([0.5, 0.5]), np.array([0.1, 0.0]), 4)
    # draw 0: steps (1+0.2)*0.9 = 1.08, (1+0.1)*0.9 = 0.99, (1+0.05)*0.9 = 0.945
    # draw 1: steps 1.5, 1.25, 1.125
    assert got.shape == (2, 4)
    assert got[0].tolist() == [1.0, approx(1.08), approx(1.0692), approx(1.010394)]
    assert got[1].tolist() == [1.0, approx(1.5), approx(1.875), approx(2.109375)]


def test_growth_index_in_simulate_is_one_in_base_year(gc):
    sc = gc.make_scenario()
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4}],
    )
    res = gc.run(fleet, sc)
    e0 = {"general": 0.438, "training": 0.1752, "inference": 0.2628}
    g = {"general": (0.1, 0.05), "training": (0.5, 0.1), "inference": (0.4, 0.2)}
    for j, w in enumerate(W):
        for tau in range(4):
            expected = e0[w] * gc.g_hand(g[w][0], 0.8, g[w][1], tau)
            assert res.it_twh[0, 0, tau, j] == approx(expected), (w, tau)
    assert res.it_twh[0, 0, 0].tolist() == [approx(0.438), approx(0.1752), approx(0.2628)]


# ---------------------------------------------------------------------- adoption


def test_adoption_curve_whole_years_fractional_midpoint():
    got = adoption_curve(np.array(YEARS, dtype=float), np.array([0.8]), np.array([2025.5]), np.array([2.0]))
    expected = [0.8 / (1.0 + math.exp(-(t - 2025.5) / 2.0)) for t in YEARS]
    # (t - mid)/scale = -0.75, -0.25, 0.25, 0.75: symmetric about the midpoint
    assert expected[1] + expected[2] == approx(0.8)
    assert got[0].tolist() == [approx(x) for x in expected]
    assert got[0, 0] == approx(0.8 / (1.0 + math.exp(0.75)))


def test_software_multiplier_is_one_in_base_year():
    a = np.array([[0.2, 0.5, 0.8]])
    got = software_multiplier(a, np.array([0.5]))
    # (1 - a s) / (1 - a0 s): 0.9 / 0.9, 0.75 / 0.9, 0.6 / 0.9
    assert got[0].tolist() == [1.0, approx(0.75 / 0.9), approx(0.6 / 0.9)]


LEVERS = {
    "a": {
        "workloads": ["training", "inference"],
        "saving": 0.5,
        "adoption_ceiling": 0.8,
        "adoption_midpoint": 2025.5,
        "adoption_scale": 2.0,
    },
    "b": {
        "workloads": ["inference"],
        "saving": 0.6,
        "adoption_ceiling": 0.5,
        "adoption_midpoint": 2027.0,
        "adoption_scale": 1.0,
    },
}


def _m_hand(levers: dict, workload: str, t: int, t0: int = 2024) -> float:
    out = 1.0
    for lv in levers.values():
        if workload not in lv["workloads"]:
            continue
        c, mid, sc, s = lv["adoption_ceiling"], lv["adoption_midpoint"], lv["adoption_scale"], lv["saving"]
        a_t = c / (1.0 + math.exp(-(t - mid) / sc))
        a_0 = c / (1.0 + math.exp(-(t0 - mid) / sc))
        out *= (1.0 - a_t * s) / (1.0 - a_0 * s)
    return out


def _one_centre_fleet(gc, **kw):
    return gc.make_fleet(
        [{"region_id": "A", "zone": "east"}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4, **kw}],
    )


def test_software_multiplier_product_over_levers_general_untouched(gc):
    sc = gc.make_scenario(levers=LEVERS)
    res = gc.run(_one_centre_fleet(gc), sc)
    e0 = {"general": 0.438, "training": 0.1752, "inference": 0.2628}
    g = {"general": (0.1, 0.05), "training": (0.5, 0.1), "inference": (0.4, 0.2)}
    # hand check of one value: inference in 2024 is M = 1 (relative to the base year)
    assert _m_hand(LEVERS, "inference", 2024) == 1.0
    assert _m_hand(LEVERS, "general", 2027) == 1.0
    for j, w in enumerate(W):
        for tau, t in enumerate(YEARS):
            expected = e0[w] * gc.g_hand(g[w][0], 0.8, g[w][1], tau) * _m_hand(LEVERS, w, t)
            assert res.it_twh[0, 0, tau, j] == approx(expected), (w, t)
    # inference carries both levers: strictly below training's single-lever path relative to G
    m_inf_2027 = res.it_twh[0, 0, 3, 2] / (0.2628 * gc.g_hand(0.4, 0.8, 0.2, 3))
    a_a = 0.8 / (1 + math.exp(-0.75))
    a_a0 = 0.8 / (1 + math.exp(0.75))
    a_b = 0.25  # 0.5 / (1 + exp(0)) at its midpoint 2027
    a_b0 = 0.5 / (1 + math.exp(3.0))
    assert m_inf_2027 == approx((1 - 0.5 * a_a) / (1 - 0.5 * a_a0) * (1 - 0.6 * a_b) / (1 - 0.6 * a_b0))


def test_software_multiplier_applies_to_general_when_named(gc):
    lever = {
        "g": {
            "workloads": ["general"],
            "saving": 0.3,
            "adoption_ceiling": 1.0,
            "adoption_midpoint": 2024.0,
            "adoption_scale": 1.0,
        }
    }
    sc = gc.make_scenario(levers=lever)
    res = gc.run(_one_centre_fleet(gc), sc)
    # a(2024) = 0.5 -> base 1 - 0.15 = 0.85; a(2026) = 1/(1+e^-2)
    a2026 = 1.0 / (1.0 + math.exp(-2.0))
    expected_2026 = 0.438 * gc.g_hand(0.1, 0.8, 0.05, 2) * (1 - 0.3 * a2026) / 0.85
    assert res.it_twh[0, 0, 2, 0] == approx(expected_2026)
    # training and inference untouched by a general-only lever
    assert res.it_twh[0, 0, 2, 1] == approx(0.1752 * gc.g_hand(0.5, 0.8, 0.1, 2))
    assert res.it_twh[0, 0, 2, 2] == approx(0.2628 * gc.g_hand(0.4, 0.8, 0.2, 2))


# ------------------------------------------------------------- diffusion/rebound


def test_diffusion_index_with_regional_lag():
    got = diffusion_index(np.array(YEARS, dtype=float), np.array([2026.0]), np.array([1.5]), np.array([0.0, 2.0]))
    assert got.shape == (1, 2, 4)
    for r, lag in enumerate([0.0, 2.0]):
        d = [1.0 / (1.0 + math.exp(-(t - (2026.0 + lag)) / 1.5)) for t in YEARS]
        expected = [(x - d[0]) / (1.0 - d[0]) for x in d]
        assert got[0, r].tolist() == [approx(x) for x in expected]
    assert got[0, :, 0].tolist() == [0.0, 0.0]
    # the lagged region diffuses later
    assert (got[0, 1, 1:] < got[0, 0, 1:]).all()
    # one written-out value: lag 0, 2026 is the midpoint: d = 0.5, d0 = 1/(1+e^(4/3))
    d0 = 1.0 / (1.0 + math.exp(4.0 / 3.0))
    assert got[0, 0, 2] == approx((0.5 - d0) / (1.0 - d0))


def test_rebound_factor_hand_value_and_zero_elasticity():
    diffusion = np.array([[[0.0, 0.5]]])  # (D=1, R=1, T=2)
    mult = np.array([[[1.0, 1.0, 1.0], [1.0, 0.6, 0.4]]])  # (D, T, W)
    eps = np.array([[0.0, 0.8, 1.5]])
    got = rebound_factor(diffusion, mult, eps)
    assert got.shape == (1, 1, 2, 3)
    assert got[0, 0, 0].tolist() == [1.0, 1.0, 1.0]  # D = 0 in the base year
    assert got[0, 0, 1, 0] == 1.0  # general: epsilon 0
    assert got[0, 0, 1, 1] == approx(1.0 + 0.5 * (0.6**-0.8 - 1.0))
    assert got[0, 0, 1, 2] == approx(1.0 + 0.5 * (0.4**-1.5 - 1.0))
    zero = rebound_factor(diffusion, mult, np.zeros((1, 3)))
    assert (zero == 1.0).all()


def test_it_energy_with_rebound_and_lag_through_simulate(gc):
    sc = gc.make_scenario(
        levers=LEVERS,
        rebound={"elasticity_training": 0.5, "elasticity_inference": 1.2},
    )
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east", "diffusion_lag_years": 0.0},
         {"region_id": "B", "zone": "west", "diffusion_lag_years": 2.0}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4},
         {"region_id": "B", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4}],
    )
    res = gc.run(fleet, sc)
    e0 = {"general": 0.438, "training": 0.1752, "inference": 0.2628}
    g = {"general": (0.1, 0.05), "training": (0.5, 0.1), "inference": (0.4, 0.2)}
    eps = {"general": 0.0, "training": 0.5, "inference": 1.2}
    for r, lag in enumerate([0.0, 2.0]):
        d0 = 1.0 / (1.0 + math.exp(-(2024 - (2026.0 + lag)) / 1.5))
        for tau, t in enumerate(YEARS):
            d = 1.0 / (1.0 + math.exp(-(t - (2026.0 + lag)) / 1.5))
            big_d = (d - d0) / (1.0 - d0)
            for j, w in enumerate(W):
                m = _m_hand(LEVERS, w, t)
                rb = 1.0 + big_d * (m ** (-eps[w]) - 1.0)
                expected = e0[w] * gc.g_hand(g[w][0], 0.8, g[w][1], tau) * m * rb
                assert res.it_twh[0, r, tau, j] == approx(expected), (r, t, w)
    # rebound raises AI energy where the multiplier is below 1 and diffusion has begun
    assert res.it_twh[0, 0, 3, 2] > res.it_twh[0, 1, 3, 2]


def test_zero_elasticity_means_no_rebound_in_simulate(gc):
    sc = gc.make_scenario(levers=LEVERS)  # elasticities 0 in the base scenario
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east", "diffusion_lag_years": 3.0}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4}],
    )
    res = gc.run(fleet, sc)
    expected_inf_2027 = 0.2628 * gc.g_hand(0.4, 0.8, 0.2, 3) * _m_hand(LEVERS, "inference", 2027)
    assert res.it_twh[0, 0, 3, 2] == approx(expected_inf_2027)


# ------------------------------------------------------------ training shift


HUB = {"hub_id": "H", "lat": 30.0, "lon": 110.0}


def _shift_fleet(gc, with_hubs: bool = True):
    hub_id = "H" if with_hubs else None
    return gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "east"},
         {"region_id": "C", "zone": "west"}],
        [
            # A: all training in a hub-assigned centre: 100 MW -> 0.876 TWh, training 0.438
            {"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 0.5, "hub_id": hub_id},
            # B: partial hub: 50 MW hub (training 0.438) + 150 MW far away (training 1.314)
            {"region_id": "B", "it_capacity_mw": 50.0, "ai_share": 1.0, "training_share": 1.0, "hub_id": hub_id},
            {"region_id": "B", "it_capacity_mw": 150.0, "ai_share": 1.0, "training_share": 1.0,
             "lat": 45.0, "lon": 130.0},
            # C: no hub, no coordinates: 80 MW, training 0.3504
            {"region_id": "C", "it_capacity_mw": 80.0, "ai_share": 1.0, "training_share": 0.5},
        ],
        hubs=[HUB] if with_hubs else [],
    )


SHIFT_SCENARIO = {
    "growth": {"taper": 1.0, "training": 0.5},
    "hardware_efficiency_gain": {"training": 0.0},
    "hubs": {"assignment_radius_km": 100.0, "training_shift_to_hubs": 0.6},
}


def test_training_shift_three_regions_by_hand(gc):
    sc = gc.make_scenario(**SHIFT_SCENARIO)
    res = gc.run(_shift_fleet(gc), sc)
    train0 = {"A": 0.438, "B": 1.752, "C": 0.3504}
    hub0 = {"A": 0.438, "B": 0.438, "C": 0.0}
    hubshare = {r: hub0[r] / train0[r] for r in train0}  # A 1, B 0.25, C 0
    weight = {r: hub0[r] / sum(hub0.values()) for r in hub0}  # A 0.5, B 0.5, C 0
    ti = 1
    for tau in range(4):
        before = {r: train0[r] * 1.5**tau for r in train0}
        moved = {r: 0.6 * max(0.0, before[r] - train0[r]) * (1.0 - hubshare[r]) for r in train0}
        pool = sum(moved.values())
        for i, r in enumerate("ABC"):
            expected = before[r] - moved[r] + weight[r] * pool
            assert res.it_twh[0, i, tau, ti] == approx(expected), (r, tau)
        # national training energy conserved by the shift
        assert res.it_twh[0, :, tau, ti].sum() == approx(sum(before.values()))
    # 2025 written out: moved B = 0.6*0.876*0.75 = 0.3942, C = 0.6*0.1752 = 0.10512,
    # pool 0.49932 split 50/50 between A and B (B gives and receives).
    assert res.it_twh[0, :, 1, ti].tolist() == [approx(0.90666), approx(2.48346), approx(0.42048)]


def test_training_shift_nothing_moves_without_hub(gc):
    sc = gc.make_scenario(**SHIFT_SCENARIO)
    # no hub table and no declared hub_id
    res = gc.run(_shift_fleet(gc, with_hubs=False), sc)
    train0 = [0.438, 1.752, 0.3504]
    for tau in range(4):
        assert res.it_twh[0, :, tau, 1].tolist() == [approx(x * 1.5**tau) for x in train0]
    # hubs exist, but no centre is hub-assigned (none declared, all beyond the radius)
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "west"}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0,
          "lat": 45.0, "lon": 130.0},
         {"region_id": "B", "it_capacity_mw": 100.0, "ai_share": 1.0, "training_share": 1.0}],
        hubs=[HUB],
    )
    res = gc.run(fleet, sc)
    for tau in range(4):
        assert res.it_twh[0, :, tau, 1].tolist() == [approx(0.876 * 1.5**tau)] * 2


# ------------------------------------------------------------------------- PUE


def _pue_fleet(gc):
    return gc.make_fleet(
        [{"region_id": "E", "zone": "east"}, {"region_id": "W", "zone": "west"}],
        [
            # E: L1 large own PUE 1.25 (E0 0.438), S1 small_medium table (E0 0.3504),
            #    L2 large table (E0 0.3504)
            {"region_id": "E", "it_capacity_mw": 100.0, "utilization": 0.5, "ai_share": 0.5,
             "training_share": 0.4, "pue": 1.25},
            {"region_id": "E", "size_class": "small_medium", "it_capacity_mw": 50.0, "utilization": 0.8},
            {"region_id": "E", "it_capacity_mw": 80.0, "utilization": 0.5},
            # W: one large centre, table PUE (west) 1.15, E0 0.876
            {"region_id": "W", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.5},
        ],
    )


# E0 by region and workload (TWh)
PUE_E0 = {
    "E": {"general": 0.219 + 0.3504 + 0.3504, "training": 0.0876, "inference": 0.1314},
    "W": {"general": 0.438, "training": 0.219, "inference": 0.219},
}
GROWTH = {"general": (0.1, 0.05), "training": (0.5, 0.1), "inference": (0.4, 0.2)}


def _region_it(r: str, tau: int, gc) -> dict[str, float]:
    return {w: PUE_E0[r][w] * gc.g_hand(GROWTH[w][0], 0.8, GROWTH[w][1], tau) for w in W}


def test_pue_existing_new_build_cap_and_facility_energy(gc):
    sc = gc.make_scenario(
        pue={
            "new_build_small_medium_share": 0.25,
            "new_build_cap": {
                "west": {"value": 1.18, "from_year": 2026},
                "east": {"value": 1.3, "from_year": 2024},  # above PUE_new: no effect
            },
        }
    )
    res = gc.run(_pue_fleet(gc), sc)
    pue_exist = {
        "E": (0.438 * 1.25 + 0.3504 * 1.4 + 0.3504 * 1.2) / (0.438 + 0.3504 + 0.3504),  # ~1.28077
        "W": 1.15,
    }
    pue_new = {
        "E": {t: 0.25 * 1.4 + 0.75 * 1.2 for t in YEARS},  # 1.25
        "W": {2024: 1.2, 2025: 1.2, 2026: 1.18, 2027: 1.18},  # 0.25*1.35 + 0.75*1.15 = 1.2, cap 1.18
    }
    assert pue_exist["E"] == approx(1.45854 / 1.1388)
    for i, r in enumerate("EW"):
        base = sum(_region_it(r, 0, gc).values())
        for tau, t in enumerate(YEARS):
            it = _region_it(r, tau, gc)
            e = sum(it.values())
            f = min(e, base) * pue_exist[r] + max(0.0, e - base) * pue_new[r][t]
            assert res.region_it_twh[0, i, tau] == approx(e)
            assert res.region_facility_twh[0, i, tau] == approx(f), (r, t)
            assert res.pue_effective[0, i, tau] == approx(f / e)
            for j, w in enumerate(W):
                assert res.facility_twh[0, i, tau, j] == approx(it[w] * f / e), (r, t, w)
                # same pue_effective for every workload of a region-year
                assert res.facility_twh[0, i, tau, j] / res.it_twh[0, i, tau, j] == approx(f / e)
    # base year: pue_effective is the existing-fleet PUE
    assert res.pue_effective[0, :, 0].tolist() == [approx(pue_exist["E"]), approx(1.15)]


def test_facility_energy_when_it_falls_uses_existing_pue(gc):
    sc = gc.make_scenario(
        growth={"general": -0.2, "training": -0.2, "inference": -0.2, "taper": 1.0},
        hardware_efficiency_gain={"general": 0.0, "training": 0.0, "inference": 0.0},
    )
    res = gc.run(_pue_fleet(gc), sc)
    for tau in range(4):
        e = 0.876 * 0.8**tau
        assert res.region_facility_twh[0, 1, tau] == approx(e * 1.15)  # min branch only
        assert res.pue_effective[0, 1, tau] == approx(1.15)


def test_new_build_pue_floored_at_one(gc):
    sc = gc.make_scenario(pue={"new_build_cap": {"west": {"value": 1.1, "from_year": 2026}}})
    table = {
        **gc.PUE_TABLE,
        "pue_table.small_medium.east": (0.9, 0.9, 0.9),
        "pue_table.large.east": (0.95, 0.95, 0.95),
    }
    # a cap below 1 (not allowed by the scenario file, but the equations must still floor)
    params = gc.make_params(sc, table, pue__new_build_cap__west__value=0.97)
    res = gc.run(_pue_fleet(gc), sc, params)
    exist_e = (0.438 * 1.25 + 0.3504 * 0.9 + 0.3504 * 0.95) / 1.1388
    new = {"E": {t: 1.0 for t in YEARS},  # 0.25*0.9 + 0.75*0.95 = 0.9375 -> 1.0
           "W": {2024: 1.2, 2025: 1.2, 2026: 1.0, 2027: 1.0}}  # cap 0.97 -> floor 1.0
    exist = {"E": exist_e, "W": 1.15}
    for i, r in enumerate("EW"):
        base = sum(_region_it(r, 0, gc).values())
        for tau, t in enumerate(YEARS):
            e = sum(_region_it(r, tau, gc).values())
            f = min(e, base) * exist[r] + max(0.0, e - base) * new[r][t]
            assert res.region_facility_twh[0, i, tau] == approx(f), (r, t)


def test_region_without_centres_zero_energy_nan_pue_flat(gc):
    sc = gc.make_scenario()
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "X", "zone": "west"}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4}],
    )
    res = gc.run(fleet, sc)
    assert (res.it_twh[0, 1] == 0.0).all()
    assert (res.facility_twh[0, 1] == 0.0).all()
    assert (res.region_facility_twh[0, 1] == 0.0).all()
    assert (res.region_peak_mw[0, 1] == 0.0).all()
    assert np.isnan(res.pue_effective[0, 1]).all()
    assert np.isfinite(res.pue_effective[0, 0]).all()
    tp = turning_points_table("t", fleet.region_ids, YEARS, res, 0.05).set_index("region_id")
    assert tp.loc["X", "shape"] == "flat"
    assert pd.isna(tp.loc["X", "rise_start"]) and pd.isna(tp.loc["X", "flat_until"])


# ------------------------------------------------------------------------ peak


def test_peak_load_mw_hand_loop(gc):
    fac = {"general": 2.0, "training": 3.0, "inference": 1.5}  # TWh
    avg = {w: fac[w] * 1e6 / 8760.0 for w in W}
    expected = max(sum(avg[w] * gc.FACTORS[w](h) for w in W) for h in range(24))
    # hours 0-11 (not 4): 2 + 4.5 + 1.5 = 8 TWh-equivalent; hour 20: 2 + 1.5 + 3 = 6.5
    assert expected == approx(8.0e6 / 8760.0)
    factors = np.array([[gc.FACTORS[w](h) for h in range(24)] for w in W])
    got = peak_load_mw(np.array([[fac["general"], fac["training"], fac["inference"]]]), factors)
    assert got.tolist() == [approx(expected)]


def test_peak_load_in_simulate_base_year(gc):
    sc = gc.make_scenario()
    fleet = gc.make_fleet(
        [{"region_id": "A", "zone": "east"}],
        [{"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.9, "training_share": 0.1, "pue": 1.3}],
    )
    res = gc.run(fleet, sc)
    # base year facility = E0_w * 1.3; E0 = 0.876: general 0.0876, training 0.07884, inference 0.70956
    fac = {"general": 0.0876 * 1.3, "training": 0.07884 * 1.3, "inference": 0.70956 * 1.3}
    avg = {w: fac[w] * 1e6 / 8760.0 for w in W}
    expected = max(sum(avg[w] * gc.FACTORS[w](h) for w in W) for h in range(24))
    # inference-heavy: the evening hour 20 (factor 2) is the peak
    hour20 = sum(avg[w] * gc.FACTORS[w](20) for w in W)
    assert expected == approx(hour20)
    assert res.region_peak_mw[0, 0, 0] == approx(expected)
    # every year: peak over the year's facility energy by workload
    for tau in range(4):
        f = res.facility_twh[0, 0, tau]
        hand = max(sum(f[j] * 1e6 / 8760.0 * gc.FACTORS[w](h) for j, w in enumerate(W)) for h in range(24))
        assert res.region_peak_mw[0, 0, tau] == approx(hand)
