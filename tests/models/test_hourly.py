"""models.hourly and models.peaks: hand-worked days, hand-worked headroom, properties, brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from models.hourly import (
    compute_load_mw,
    headroom_mw,
    representative_year,
    seasonal_modulation,
    system_load_mw,
    water_fill,
)
from models.peaks import candidate_hours, hour_features, peaks_on_candidates

# ------------------------------------------------------------------ water-filling


def test_water_fill_hand_worked_day() -> None:
    # R = 2, 4, 6 then 10 for the other 21 hours; 6 MWh to place (0.25 MW in each hour).
    # The level that takes 6 MWh: (L - 2) + (L - 4) = 6 -> L = 6, which just reaches hour 2.
    rest = np.array([2.0, 4.0, 6.0] + [10.0] * 21)
    shift = np.full(24, 0.25)
    placed = water_fill(rest, shift)
    np.testing.assert_allclose(placed, [4.0, 2.0] + [0.0] * 22, atol=1e-12)


def test_water_fill_flat_day_rises_evenly_and_days_are_separate() -> None:
    rest = np.concatenate([np.full(24, 5.0), np.arange(24.0)])
    shift = np.concatenate([np.full(24, 1.0), np.zeros(24)])
    placed = water_fill(rest, shift)
    np.testing.assert_allclose(placed[:24], 1.0)
    np.testing.assert_allclose(placed[24:], 0.0)  # day 2 has nothing to move


def test_water_fill_level_below_second_hour() -> None:
    # only the lowest hour fills: (L - 1) = 0.5 -> L = 1.5 < 3
    rest = np.array([1.0, 3.0] + [9.0] * 22)
    shift = np.array([0.5] + [0.0] * 23)
    np.testing.assert_allclose(water_fill(rest, shift)[:2], [0.5, 0.0])


@settings(max_examples=200, deadline=None)
@given(
    base=hnp.arrays(np.float64, 72, elements=st.floats(0, 1e4)),
    comp=hnp.arrays(np.float64, 72, elements=st.floats(0, 1e3)),
    train_frac=hnp.arrays(np.float64, 72, elements=st.floats(0, 1)),
    share=st.floats(0, 1),
)
def test_water_fill_conserves_each_day_and_never_raises_its_peak(base, comp, train_frac, share) -> None:
    """Any shiftable share: daily compute energy unchanged, no day's peak higher, no negative load."""
    train = comp * train_frac
    shift = share * train
    flex = comp - shift + water_fill(base + comp - shift, shift)
    by_day = lambda a: a.reshape(3, 24)  # noqa: E731
    np.testing.assert_allclose(by_day(flex).sum(axis=1), by_day(comp).sum(axis=1), rtol=1e-9, atol=1e-6)
    assert (by_day(base + flex).max(axis=1) <= by_day(base + comp).max(axis=1) + 1e-6).all()
    assert (flex >= -1e-9).all()


# ------------------------------------------------------------------ headroom


def _headroom_by_bisection(load: np.ndarray, x: float) -> float:
    """Independent: the largest dL with sum max(0, S + dL - max S) <= x dL N, by bisection."""
    peak, n = load.max(), len(load)
    ok = lambda d: np.maximum(0.0, load + d - peak).sum() <= x * d * n + 1e-12  # noqa: E731
    lo, hi = 0.0, (peak - load.min()) / max(1e-9, 1 - x) + 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def test_headroom_hand_worked() -> None:
    # S = 10, 9, then eight hours at 5; N = 10. Curtailed energy of dL: dL on [0, 1],
    # 2 dL - 1 on [1, 5]. x = 10%: budget dL -> dL <= 1. x = 15%: 2 dL - 1 <= 1.5 dL -> dL <= 2.
    load = np.array([10.0, 9.0] + [5.0] * 8)
    np.testing.assert_allclose(headroom_mw(load, np.array([0.10, 0.15])), [1.0, 2.0])


def test_headroom_flat_load_has_none_and_tiny_curve() -> None:
    assert headroom_mw(np.full(8760, 100.0), np.array([0.005]))[0] == 0.0
    # S = 10, 8, 6, 6; x = 25% of N = 4 -> budget dL: 2 dL - 2 <= dL on [2, 4] -> dL = 2
    np.testing.assert_allclose(headroom_mw(np.array([10.0, 8.0, 6.0, 6.0]), np.array([0.25])), [2.0])


@pytest.mark.parametrize("seed", range(5))
def test_headroom_matches_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    load = rng.gamma(5.0, 100.0, size=(2, 500))
    limits = np.array([0.0025, 0.005, 0.01, 0.05])
    got = headroom_mw(load, limits)
    want = np.array([[_headroom_by_bisection(row, x) for x in limits] for row in load])
    np.testing.assert_allclose(got, want, rtol=1e-6)


# ------------------------------------------------------------------ year, load


def test_leap_year_drops_29_february() -> None:
    leap = np.arange(8784.0)[:, None] * np.ones((1, 2))
    year = representative_year(leap)
    assert year.shape == (8760, 2)
    assert year[1415, 0] == 1415.0 and year[1416, 0] == 1440.0 and year[-1, 0] == 8783.0
    with pytest.raises(ValueError, match="8760 or 8784"):
        representative_year(np.ones(8000))


def test_season_mean_one_peaks_in_july_and_keeps_energy() -> None:
    m = seasonal_modulation(0.15)
    assert abs(m.mean() - 1.0) < 1e-14 and m.argmax() == 196 and m.argmin() in (13, 14)
    np.testing.assert_allclose(m.max() / m.min(), 1.15 / 0.85, rtol=1e-4)
    factors = np.vstack([np.ones(24), np.linspace(0.5, 1.5, 24)])
    load = compute_load_mw(np.array([[100.0, 50.0]]), factors, m)
    np.testing.assert_allclose(load.sum(axis=-1), [[100.0 * 8760, 50.0 * 8760]])


def test_system_load_sums_to_energy() -> None:
    profile = np.random.default_rng(0).uniform(1, 2, size=(2, 8760))
    b = system_load_mw(profile, np.array([[1.0, 2.0], [0.5, 0.0]]))
    np.testing.assert_allclose(b.sum(axis=-1), [[1e6, 2e6], [5e5, 0.0]])


# ------------------------------------------------------------------ peaks


@pytest.mark.parametrize("seed", range(6))
def test_candidate_peaks_equal_brute_force_over_8760_hours(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = rng.gamma(20.0, 1.0, 8760) * (1 + 0.3 * np.sin(np.arange(8760) * 2 * np.pi / 24))
    share = shape / shape.sum()
    factors = rng.uniform(0.3, 1.7, size=(3, 24))
    if seed % 2:
        factors[0] = 1.0  # a flat workload, as the shipped general and training shapes
    season = seasonal_modulation(rng.uniform(0, 0.3))
    feats = hour_features(share, factors, season)
    cand = candidate_hours(feats)
    nc = rng.uniform(0, 50, size=(40, 1, 2))  # TWh without compute
    fac = rng.uniform(0, 20, size=(40, 1, 2, 3)) * (rng.uniform(size=(40, 1, 2, 3)) > 0.2)
    got = peaks_on_candidates(nc, fac, feats[None], cand[None])
    # brute force: every hour of the year, written out from the definitions
    b = nc[..., None] * 1e6 * share
    hod = np.arange(8760) % 24
    comp = np.einsum("drtw,wh->drth", fac * 1e6 / 8760, factors[:, hod]) * np.repeat(season, 24)
    np.testing.assert_allclose(got, (b + comp).max(axis=-1), rtol=1e-12)
    assert len(cand) < 200
