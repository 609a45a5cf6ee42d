"""Triangular draws and p10/p50/p90 summaries, against the closed-form triangular CDF.

Triangular(a, c, b): CDF(x) = (x-a)^2 / ((b-a)(c-a)) for a <= x <= c,
1 - (b-x)^2 / ((b-a)(b-c)) for c <= x <= b; inverse at u:
a + sqrt(u (b-a)(c-a)) if u < (c-a)/(b-a), else b - sqrt((1-u)(b-a)(b-c)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.engine import simulate
from models.sampling import central_params, draw_params, scenario_seed, triangular_ppf
from models.scenario import parameter_ranges
from models.summarize import Baseline, forecast_table, regional_table, stat_arrays


def tri_cdf(x: float, a: float, c: float, b: float) -> float:
    if x <= a:
        return 0.0
    if x >= b:
        return 1.0
    if x <= c:
        return (x - a) ** 2 / ((b - a) * (c - a))
    return 1.0 - (b - x) ** 2 / ((b - a) * (b - c))


def tri_ppf(u: float, a: float, c: float, b: float) -> float:
    if b == a:
        return c
    if u < (c - a) / (b - a):
        return a + math.sqrt(u * (b - a) * (c - a))
    return b - math.sqrt((1.0 - u) * (b - a) * (b - c))


U = [0.0, 0.01, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 0.9, 0.99, 1.0]
CASES = [(0.0, 1.0, 4.0), (2.0, 2.0, 3.0), (2.0, 3.0, 3.0), (-1.0, 0.5, 1.0), (0.9, 0.95, 1.0)]


def test_triangular_ppf_hand_values():
    # a=0, c=1, b=4: F(c) = 1/4; u=0.125 -> sqrt(0.125*4*1) = sqrt(0.5); u=0.5 -> 4 - sqrt(0.5*4*3)
    got = triangular_ppf(np.array([0.125, 0.25, 0.5]), 0.0, 1.0, 4.0)
    assert got.tolist() == [pytest.approx(math.sqrt(0.5)), pytest.approx(1.0), pytest.approx(4.0 - math.sqrt(6.0))]


@pytest.mark.parametrize(("a", "c", "b"), CASES)
def test_triangular_ppf_inverts_closed_form_cdf(a, c, b):
    x = triangular_ppf(np.array(U), a, c, b)
    for u, xi in zip(U, x.tolist(), strict=True):
        assert a <= xi <= b
        assert tri_cdf(xi, a, c, b) == pytest.approx(u, abs=1e-12)
        assert xi == pytest.approx(tri_ppf(u, a, c, b), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("a", "c", "b"), CASES)
def test_triangular_ppf_matches_scipy(a, c, b):
    stats = pytest.importorskip("scipy.stats")
    u = np.linspace(0.0, 1.0, 101)
    expected = stats.triang(c=(c - a) / (b - a), loc=a, scale=b - a).ppf(u)
    assert triangular_ppf(u, a, c, b) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_degenerate_range_gives_central():
    x = triangular_ppf(np.array(U), 1.3, 1.3, 1.3)
    assert x.tolist() == [1.3] * len(U)
    d = draw_params({"p": (0.7, 0.7, 0.7), "q": (0.0, 1.0, 2.0)}, 200, np.random.SeedSequence(1))
    assert (d["p"] == 0.7).all()
    assert central_params({"q": (0.0, 1.0, 2.0)})["q"].tolist() == [1.0]


RANGES = {"a": (0.0, 1.0, 4.0), "b": (0.9, 0.95, 1.0), "c": (10.0, 10.0, 20.0), "d": (5.0, 5.0, 5.0)}


def test_draw_params_reproducible_and_seed_dependent():
    one = draw_params(RANGES, 50, scenario_seed(42, "ref"))
    two = draw_params(RANGES, 50, scenario_seed(42, "ref"))
    # same seed, ranges in another dict order: identical
    three = draw_params(dict(reversed(list(RANGES.items()))), 50, scenario_seed(42, "ref"))
    other = draw_params(RANGES, 50, scenario_seed(43, "ref"))
    other_name = draw_params(RANGES, 50, scenario_seed(42, "low"))
    for k in RANGES:
        assert one[k].shape == (50,)
        np.testing.assert_array_equal(one[k], two[k])
        np.testing.assert_array_equal(one[k], three[k])
    for k in ("a", "b", "c"):
        assert not np.array_equal(one[k], other[k])
        assert not np.array_equal(one[k], other_name[k])


def test_many_draws_match_closed_form_quantiles():
    n = 40_000
    d = draw_params(RANGES, n, np.random.SeedSequence(2024))
    for k, (a, c, b) in RANGES.items():
        x = d[k]
        assert x.min() >= a and x.max() <= b
        if b == a:
            continue
        for q in (0.1, 0.5, 0.9):
            # sampling sd of an empirical quantile ~ sqrt(q(1-q)/n)/pdf; 0.01 of the width is ample
            assert np.quantile(x, q) == pytest.approx(tri_ppf(q, a, c, b), abs=0.01 * (b - a))
        # mean of a triangular is (a + b + c) / 3
        assert x.mean() == pytest.approx((a + b + c) / 3.0, abs=0.01 * (b - a))


# ----------------------------------------------------------------- summarize


def _fleet(gc):
    return gc.make_fleet(
        [{"region_id": "A", "zone": "east"}, {"region_id": "B", "zone": "west", "diffusion_lag_years": 2.0}],
        [
            {"region_id": "A", "it_capacity_mw": 100.0, "ai_share": 0.5, "training_share": 0.4,
             "hub_id": "H"},
            {"region_id": "B", "it_capacity_mw": 60.0, "ai_share": 0.3, "training_share": 0.5,
             "size_class": "small_medium"},
        ],
        hubs=[{"hub_id": "H", "lat": 30.0, "lon": 110.0}],
    )


def _ranged_scenario(gc):
    return gc.make_scenario(
        growth={"taper": [0.7, 0.8, 0.9], "training": [0.2, 0.5, 0.9], "inference": [0.1, 0.4, 0.8]},
        levers={
            "x": {"workloads": ["inference"], "saving": [0.4, 0.6, 0.7], "adoption_ceiling": [0.3, 0.5, 0.9],
                  "adoption_midpoint": [2025.0, 2026.0, 2027.5], "adoption_scale": [0.8, 1.0, 2.0]}
        },
        rebound={"elasticity_inference": [0.5, 1.0, 1.5], "elasticity_training": [0.0, 0.3, 0.6]},
        hubs={"training_shift_to_hubs": [0.2, 0.5, 0.8]},
        pue={"new_build_small_medium_share": [0.1, 0.25, 0.4]},
    )


def _baseline(sd: bool) -> Baseline:
    central = np.array([[100.0, 102.0, 104.0, 106.0], [50.0, 51.0, 52.0, 53.0]])
    width = 5.0 if sd else 0.0
    return Baseline(central_twh=central, lo80_twh=central - width, hi80_twh=central + width)


def test_summary_quantiles_are_ordered(gc):
    sc = _ranged_scenario(gc)
    fleet = _fleet(gc)
    ranges = {**parameter_ranges(sc), **gc.PUE_TABLE}
    central = simulate(fleet, sc, central_params(ranges))
    draws = simulate(fleet, sc, draw_params(ranges, 300, scenario_seed(7, sc.name)))
    for arr in (draws.it_twh, draws.facility_twh, draws.region_facility_twh, draws.region_peak_mw):
        s = stat_arrays(central.region_it_twh, arr)
        assert (s["p10"] <= s["p50"]).all() and (s["p50"] <= s["p90"]).all()
    z = np.random.default_rng(0).standard_normal((300, 2))
    reg = regional_table(sc.name, fleet.region_ids, sc.years, central, draws, _baseline(True), z)
    wide = reg.pivot_table(index=["region_id", "year"], columns="stat", values="total_twh")
    assert (wide["p10"] <= wide["p50"]).all() and (wide["p50"] <= wide["p90"]).all()
    fc = forecast_table(sc.name, fleet.region_ids, sc.years, central, draws)
    wide = fc.pivot_table(index=["region_id", "year", "workload"], columns="stat", values="facility_energy_twh")
    assert (wide["p10"] <= wide["p50"]).all() and (wide["p50"] <= wide["p90"]).all()
    # there is real spread after the base year
    assert (wide["p90"] - wide["p10"]).max() > 0


def test_degenerate_scenario_quantiles_equal_central(gc):
    sc = gc.make_scenario()  # every parameter a single number
    fleet = _fleet(gc)
    table = {k: (v[1], v[1], v[1]) for k, v in gc.PUE_TABLE.items()}
    ranges = {**parameter_ranges(sc), **table}
    central = simulate(fleet, sc, central_params(ranges))
    draws = simulate(fleet, sc, draw_params(ranges, 25, scenario_seed(1, sc.name)))
    z = np.random.default_rng(0).standard_normal((25, 2))
    reg = regional_table(sc.name, fleet.region_ids, sc.years, central, draws, _baseline(False), z)
    for col in ("facility_energy_twh", "peak_load_mw", "total_twh", "compute_share"):
        wide = reg.pivot_table(index=["region_id", "year"], columns="stat", values=col)
        # baseline-dependent draw statistics are summarised in float32 (models/summarize.py):
        # equal to central to float32 precision; the rest are exact here (float64 draws)
        rel = 1e-6 if col in ("total_twh", "compute_share") else 1e-12
        for stat in ("p10", "p50", "p90"):
            assert wide[stat].to_numpy() == pytest.approx(wide["central"].to_numpy(), rel=rel), (col, stat)
    fc = forecast_table(sc.name, fleet.region_ids, sc.years, central, draws)
    for col in ("it_energy_twh", "facility_energy_twh", "pue_effective"):
        wide = fc.pivot_table(index=["region_id", "year", "workload"], columns="stat", values=col)
        for stat in ("p10", "p50", "p90"):
            assert wide[stat].to_numpy() == pytest.approx(wide["central"].to_numpy(), rel=1e-12), (col, stat)
