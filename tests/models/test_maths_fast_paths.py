"""The shortcuts that make a scenario cheap, each against a brute-force calculation written here.

Coincident peaks reduced to 24 hour-of-day maxima (ties included), candidate-hour peaks
laid out by region, short-axis sums and maxima, feature-by-feature dominance, the pipeline
combined only where it has energy, quantiles with NaN draws, Arrow string columns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from models import coincident
from models.coincident import peaks_of_rows, profile_shares
from models.columns import constant_strings, string_column
from models.peaks import _dominated, candidate_hours, hour_features, peaks_on_candidates
from models.pipeline import combine
from models.short_axis import max_last, sum_last
from models.summarize import draw_quantiles

# ------------------------------------------------------------------ coincident peak


def _brute_coincident(shares: np.ndarray, energy_mwh: np.ndarray, compute: np.ndarray):
    """Every hour of the year, written out: peak without, peak with, compute in the first peak hour."""
    out = []
    for e, s, c in zip(energy_mwh, shares, compute, strict=True):
        system = [e * s[h] for h in range(len(s))]
        total = [system[h] + c[h % 24] for h in range(len(s))]
        best = max(range(len(s)), key=lambda h: (total[h], -h))  # the first hour of the largest total
        out.append((max(system), total[best], c[best % 24]))
    return np.array(out).T


def _profile_frame(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"hour_of_year": np.arange(values.shape[1]),
                         **{f"R{i}": v for i, v in enumerate(values)}})


@pytest.mark.parametrize("seed", range(4))
def test_coincident_rows_equal_every_hour(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.gamma(5.0, 1.0, size=(3, 24 * 20))
    profiles = profile_shares(_profile_frame(values), ["R0", "R1", "R2"])
    pos = rng.integers(0, 3, size=12)
    energy = rng.uniform(0, 5e4, size=12)
    compute = rng.uniform(0, 300, size=(12, 24)) * (rng.uniform(size=(12, 24)) > 0.3)
    got = peaks_of_rows(profiles, pos, energy, compute)
    want = _brute_coincident(values[pos] / values[pos].sum(axis=1, keepdims=True), energy, compute)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_coincident_ties_pick_the_first_hour_of_the_year(monkeypatch: pytest.MonkeyPatch) -> None:
    full_rows = []
    real = coincident._full_peaks
    monkeypatch.setattr(coincident, "_full_peaks", lambda s, e, c: full_rows.append(len(e)) or real(s, e, c))
    # Two days of 24 hours. Hours of day 3 and 7 reach the same largest share (on different
    # days): with compute 10 at 03:00 and 10 at 07:00 the tie is harmless; with 10 and 4 the
    # peak total ties only if the shares make it so, and the first such hour must win.
    day1, day2 = np.ones(24), np.ones(24)
    day1[7], day2[3] = 4.0, 4.0  # hour 7 (day 1) comes before hour 27 (day 2, 03:00)
    values = np.concatenate([day1, day2])[None, :]
    profiles = profile_shares(_profile_frame(values), ["R0"])
    share = values[0] / values[0].sum()
    comp_same = np.zeros(24)
    comp_same[[3, 7]] = 10.0
    comp_diff = np.zeros(24)
    comp_diff[3], comp_diff[7] = 10.0, 4.0  # totals: 03:00 -> E*4/52 + 10, 07:00 -> E*4/52 + 4
    flat = np.full(24, 2.5)  # every hour of day ties when the energy is 0
    tie_energy = 0.0
    energy = np.array([52.0, 52.0, tie_energy, 52.0])
    compute = np.stack([comp_same, comp_diff, flat, np.where(np.arange(24) == 7, 6.0, 0.0)])
    # row 3: 07:00 gets 6 MW, so E*4/52 + 6 at hour 7 (first) and E*4/52 + 0 at hour 27
    got = peaks_of_rows(profiles, np.zeros(4, dtype=int), energy, compute)
    want = _brute_coincident(np.repeat(share[None], 4, axis=0), energy, compute)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert full_rows == []  # ties between hours of day with the same compute load need no full pass
    # a genuine tie between two hours of day with different compute: 03:00 day 2 vs 07:00 day 1
    values = np.concatenate([np.where(np.arange(24) == 7, 3.0, 1.0), np.where(np.arange(24) == 3, 2.0, 1.0)])[None]
    profiles = profile_shares(_profile_frame(values), ["R0"])
    share = values[0] / values[0].sum()
    e = values[0].sum()  # system MW = the profile: 3 at hour 7, 2 at hour 27
    comp = np.zeros(24)
    comp[3], comp[7] = 1.0, 0.0  # both totals are 3: hour 7 comes first -> compute 0
    got = peaks_of_rows(profiles, np.zeros(1, dtype=int), np.array([e]), comp[None])
    want = _brute_coincident(share[None], np.array([e]), comp[None])
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got[2][0] == 0.0 and got[1][0] == 3.0
    assert full_rows == [1]  # the tie with different compute loads was evaluated hour by hour


def test_coincident_non_finite_and_negative_energy_fall_back() -> None:
    rng = np.random.default_rng(9)
    values = rng.gamma(5.0, 1.0, size=(1, 48))
    profiles = profile_shares(_profile_frame(values), ["R0"])
    share = values / values.sum()
    energy = np.array([np.nan, -5.0, 3.0])
    compute = rng.uniform(0, 1, size=(3, 24))
    got = peaks_of_rows(profiles, np.zeros(3, dtype=int), energy, compute)
    # brute force as numpy evaluates it (argmax of an all-NaN row is hour 0)
    system = energy[:, None] * share
    total = system + compute[:, np.arange(48) % 24]
    idx = np.argmax(total, axis=1)
    np.testing.assert_array_equal(got[0], system.max(axis=1))
    np.testing.assert_array_equal(got[1], total[np.arange(3), idx])
    np.testing.assert_array_equal(got[2], compute[np.arange(3), idx % 24])


# ------------------------------------------------------------------ short axes


@pytest.mark.parametrize(("n", "dtype"), list(itertools.product(range(1, 10), (np.float64, np.float32))))
def test_short_axis_sum_and_max_equal_numpy(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    a = (rng.gamma(2.0, size=(50, 7, n)) * 10.0 ** rng.uniform(-6, 6, size=(50, 7, n))).astype(dtype)
    a[0, 0, 0] = np.nan
    np.testing.assert_array_equal(sum_last(a), a.sum(axis=-1))
    if n < 8:  # left to right, one scalar at a time, in the array's precision
        want_sum = np.empty(a.shape[:-1], dtype=dtype)
        for i, j in itertools.product(range(50), range(7)):
            acc = a[i, j, 0]
            for k in range(1, n):
                acc = acc + a[i, j, k]
            want_sum[i, j] = acc
        np.testing.assert_array_equal(sum_last(a), want_sum)
    want_max = np.array([[np.nan if np.isnan(a[i, j]).any() else max(a[i, j]) for j in range(7)]
                         for i in range(50)], dtype=dtype)
    np.testing.assert_array_equal(max_last(a), want_max)


# ------------------------------------------------------------------ candidate hours


def test_dominated_equals_pairwise_definition() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 3, size=(2, 6, 3)).astype(float)
    b = rng.integers(0, 3, size=(2, 5, 3)).astype(float)
    a[0, 0, 1] = np.nan
    want = np.array([[any(all(b[g, j] >= a[g, i]) and any(b[g, j] > a[g, i]) for j in range(5))
                      for i in range(6)] for g in range(2)])
    np.testing.assert_array_equal(_dominated(a, b), want)


def test_candidate_peaks_of_several_regions_equal_every_hour() -> None:
    rng = np.random.default_rng(11)
    factors = rng.uniform(0.3, 1.7, size=(3, 24))
    factors[0] = 1.0
    season = np.ones(365)
    shares, feats, cands = [], [], []
    for _ in range(3):
        shape = rng.gamma(20.0, 1.0, 8760)
        shares.append(shape / shape.sum())
        feats.append(hour_features(shares[-1], factors, season))
        cands.append(candidate_hours(feats[-1]))
    width = max(len(c) for c in cands)
    padded = np.stack([np.resize(c, width) for c in cands])
    nc = rng.uniform(0, 50, size=(20, 3, 4))
    fac = rng.uniform(0, 20, size=(20, 3, 4, 3)) * (rng.uniform(size=(20, 3, 4, 3)) > 0.2)
    nc[0, 1, 2] = np.nan
    got = peaks_on_candidates(nc, fac, np.stack(feats), padded)
    hod = np.arange(8760) % 24
    for r in range(3):
        b = nc[:, r, :, None] * 1e6 * shares[r]
        comp = np.einsum("dtw,wh->dth", fac[:, r] * 1e6 / 8760, factors[:, hod])
        want = (b + comp).max(axis=-1)
        np.testing.assert_allclose(got[:, r], want, rtol=1e-12)
        assert np.array_equal(np.isnan(got[:, r]), np.isnan(want))
    # the same products and sums as the einsum over the candidates (rounding included)
    f = np.take_along_axis(np.stack(feats), padded[:, :, None], axis=1)
    ref = (nc[..., None] * 1e6 * f[None, :, None, :, 0]
           + np.einsum("drtw,rcw->drtc", fac * (1e6 / 8760), f[:, :, 1:])).max(axis=-1)
    np.testing.assert_allclose(got, ref, rtol=1e-15)


# ------------------------------------------------------------------ pipeline


@pytest.mark.parametrize("mode", ["additional", "floor"])
def test_combine_in_few_regions_equals_the_formula_everywhere(mode: str) -> None:
    rng = np.random.default_rng(5)
    trend = rng.uniform(0, 10, size=(6, 8, 5, 3))
    pipe = np.zeros_like(trend)
    pipe[:, [2, 5]] = rng.uniform(0, 4, size=(6, 2, 5, 3)) * (rng.uniform(size=(6, 2, 5, 3)) > 0.3)
    got, added = combine(trend, pipe, mode)
    p_r = pipe.sum(axis=-1)
    if mode == "additional":
        want, want_added = trend + pipe, p_r
    else:
        e_r = trend.sum(axis=-1)
        x_r = np.where(p_r > 0, np.maximum(0.0, p_r - np.maximum(0.0, e_r - e_r[:, :, :1])), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(p_r[..., None] > 0, pipe / p_r[..., None], 0.0)
        want, want_added = trend + x_r[..., None] * share, x_r
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(added, want_added)
    assert got is not trend


# ------------------------------------------------------------------ quantiles


def test_quantiles_with_nan_draws_equal_nanquantile() -> None:
    rng = np.random.default_rng(2)
    draws = rng.gamma(2.0, size=(101, 4, 3)).astype(np.float32)
    draws[:7, 0, 0] = np.nan
    draws[:, 1, 1] = np.nan  # no valid draw: NaN
    got = draw_quantiles(draws, [0.1, 0.5, 0.9])
    with pytest.warns(RuntimeWarning):  # the all-NaN cell
        want = np.nanquantile(draws.astype(float), [0.1, 0.5, 0.9], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.isnan(got[:, 1, 1]).all() and not np.isnan(got[:, 0, 0]).any()


# ------------------------------------------------------------------ string columns


def test_string_columns_equal_astype_string() -> None:
    labels = np.array(["A", "bb", "中文", ""], dtype=object)
    codes = np.array([3, 1, 1, 0, 2, 2, 0])
    want = pd.Series(labels[codes]).astype("string")
    pd.testing.assert_series_equal(pd.Series(string_column(labels, codes)), want)
    pd.testing.assert_series_equal(pd.Series(constant_strings("情景", 3)),
                                   pd.Series(["情景"] * 3).astype("string"))
    assert len(constant_strings("x", 0)) == 0


# ------------------------------------------------------------------ emission factors


def test_factor_growth_equals_the_power_of_every_cell() -> None:
    from models.costs import factor_growth

    rng = np.random.default_rng(8)
    base = rng.uniform(0.3, 0.9, size=(5, 6))
    steps = rng.integers(0, 4, size=(5, 6))
    change = rng.uniform(-0.05, 0.02, size=7)
    want = np.empty((7, 5, 6))
    for d, r, t in itertools.product(range(7), range(5), range(6)):
        want[d, r, t] = base[r, t] * (1.0 + change[d]) ** float(steps[r, t])
    np.testing.assert_allclose(factor_growth(base, steps, change), want, rtol=1e-14)
