"""Tests for models.baseline and models.baseline_online: closed-form forecasts, the online
rule using only the past, interval calibration by hand, metrics against scikit-learn,
breaks, contract; one guard on the shipped provinces (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error

from models.baseline import (
    MODELS,
    backtest_paths,
    drift_linear_path,
    drift_path,
    forecast_baseline,
    shrunk_growth,
)
from models.baseline_online import (
    BACKTEST_COLUMNS,
    MIN_POINTS,
    backtest_table,
    online_points,
    online_weights,
)

FORECAST_COLUMNS = [
    "region_id",
    "year",
    "baseline_twh",
    "baseline_lo80_twh",
    "baseline_hi80_twh",
    "model",
]
Z80 = 1.2815515655446004


def _frame(region: str, first_year: int, values) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    return pd.DataFrame(
        {
            "region_id": region,
            "year": np.arange(first_year, first_year + len(values)),
            "consumption_twh": values,
        }
    )


def _noisy(seed: int, n: int, region: str, first_year: int = 2006) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = 0.05 + 0.03 * rng.standard_normal(n - 1)
    return _frame(region, first_year, 50.0 * np.exp(np.r_[0.0, np.cumsum(steps)]))


def test_drift_paths_by_hand():
    a = np.log([100.0, 110.0, 125.0, 130.0])
    h = np.arange(1, 4)
    # log drift: last + h * (last - first) / 3
    np.testing.assert_allclose(drift_path(a, h), np.log(130.0) + h * np.log(1.3) / 3, rtol=1e-12)
    # level drift: 130 + h * 10 TWh
    np.testing.assert_allclose(np.exp(drift_linear_path(a, h)), 130.0 + 10.0 * h, rtol=1e-12)


def test_constant_growth_is_forecast_exactly():
    # Exact geometric growth: drift is exact, so its MSE is 0 and every candidate that is not
    # exact is dropped from the combination; the forecast continues the growth.
    hist = _frame("R", 2010, 80.0 * 1.07 ** np.arange(12))
    fc = forecast_baseline(hist, 2021, 2026).forecast
    np.testing.assert_allclose(fc["baseline_twh"], 80.0 * 1.07 ** np.arange(11, 17), rtol=1e-6)
    assert fc["model"].tolist() == ["observed"] + ["online"] * 5


def test_short_region_uses_drift_only():
    long = _noisy(1, 14, "L", 2005)
    short = _frame("S", 2014, [10.0, 11.0, 11.5, 12.6, 13.1])
    res = forecast_baseline(pd.concat([long, short]), 2018, 2021, min_points=8)
    fc = res.forecast[res.forecast["region_id"] == "S"]
    h = np.arange(1, 4)
    expected = 13.1 * (13.1 / 10.0) ** (h / 4)  # geometric drift over 4 growth steps
    np.testing.assert_allclose(fc["baseline_twh"].to_numpy()[1:], expected, rtol=1e-12)
    assert fc["model"].tolist() == ["observed", "drift", "drift", "drift"]


def test_statsmodels_candidates_are_fitted_at_every_origin():
    hist = pd.concat([_noisy(2, 12, "A"), _noisy(3, 12, "B")])
    pts = backtest_paths(hist, 4, min_points=8, horizon_backtest=3).points
    a = pts[pts["region_id"] == "A"]
    assert set(a["model"]) == set(MODELS)
    assert sorted(a["origin_year"].unique()) == list(range(2013, 2018))  # lengths 8..12
    assert np.isfinite(a["log_pred"]).all()
    # the drift rows are the closed form on the training window
    row = a[(a["model"] == "drift") & (a["origin_year"] == 2014)].sort_values("h")
    y = np.log(hist.loc[hist["region_id"] == "A", "consumption_twh"].to_numpy()[:9])
    np.testing.assert_allclose(row["log_pred"], drift_path(y, np.arange(1, 4)), rtol=1e-12)
    np.testing.assert_allclose(row["log_actual"], np.log(
        hist.loc[hist["region_id"] == "A", "consumption_twh"].to_numpy()[9:12]), rtol=1e-12)


def _toy_points(errors: dict[str, float], origins=range(2000, 2012)) -> pd.DataFrame:
    """One region, h = 1, actual 0, each model off by a constant log error."""
    rows = [
        (m, t, e) for t in origins for m, e in errors.items()
    ]
    frame = pd.DataFrame(rows, columns=["model", "origin_year", "log_pred"])
    return frame.assign(region_id="R", h=1, n_train=9, log_actual=0.0, sigma=0.1)


def test_online_weights_by_hand_and_only_from_the_past():
    errors = dict.fromkeys(MODELS, 0.3)
    errors.update({"drift": 0.1, "theta": 0.2, "drift_linear": 0.05})
    w = online_weights(_toy_points(errors), 5)
    # origin t knows targets <= t, i.e. origins <= t - 1: 2000..2009 at 2010 = 10 points
    assert (w.loc[2000:2009, "drift"] == 1.0).all()  # fewer than MIN_POINTS known
    assert MIN_POINTS == 10
    # inverse MSE over candidates no worse than drift: drift 1/0.01, drift_linear 1/0.0025;
    # theta (0.04) and the rest are worse than drift and take no part
    expected = np.array([100.0, 400.0]) / 500.0
    np.testing.assert_allclose(w.loc[2010, ["drift", "drift_linear"]], expected, rtol=1e-12)
    assert w.loc[2010, "theta"] == 0.0


def test_perturbing_data_after_an_origin_does_not_change_that_origin():
    hist = pd.concat([_noisy(s, 16, f"R{s}") for s in range(4)], ignore_index=True)
    origin = 2016
    late = hist["year"] > origin
    changed = hist.assign(
        consumption_twh=np.where(late, hist["consumption_twh"] * 1.4, hist["consumption_twh"])
    )
    kept = []
    for h in (hist, changed):
        pts = backtest_paths(h, 3, min_points=8, horizon_backtest=3).points
        on = online_points(pts, 3)
        at = on[on["origin_year"] == origin].sort_values(["region_id", "h"])
        kept.append((online_weights(pts, 3).loc[origin], at[["log_pred", "lo", "hi"]]))
    pd.testing.assert_series_equal(kept[0][0], kept[1][0])
    np.testing.assert_allclose(kept[0][1].to_numpy(), kept[1][1].to_numpy(), rtol=1e-10)


def test_interval_half_width_by_hand():
    # Known errors at h = 1 with sigma 0.1, n_train 9: unit = 0.1 * sqrt(1 + 1/8).
    errors = dict.fromkeys(MODELS, 0.0)
    pts = _toy_points(errors, origins=range(2000, 2013))
    rng = np.random.default_rng(3)
    err = rng.normal(0, 0.05, 13)
    pts["log_actual"] = np.repeat(err, len(MODELS))
    on = online_points(pts, 1).set_index("origin_year")
    unit = 0.1 * np.sqrt(1 + 1 / 8)
    # origin 2000: nothing known, the normal interval
    assert on.loc[2000, "hi"] == pytest.approx(Z80 * unit)
    # origin 2012: errors of origins 2000..2011 are known; the forecast is 0 at every origin
    q = np.quantile(np.abs(err[:12]) / unit, 0.8)
    assert on.loc[2012, "hi"] == pytest.approx(q * unit)
    assert on.loc[2012, "lo"] == pytest.approx(-q * unit)


def test_backtest_metrics_match_scikit_learn():
    hist = pd.concat([_noisy(s, 13, f"R{s}") for s in range(3)], ignore_index=True)
    pts = backtest_paths(hist, 3, min_points=8, horizon_backtest=3).points
    on = online_points(pts, 3)
    bt = backtest_table(pts, on, 3)
    assert list(bt.columns) == BACKTEST_COLUMNS
    scored = on[np.isfinite(on["log_actual"])]
    y, p, d = (np.exp(scored[c]) for c in ("log_actual", "log_pred", "drift_log_pred"))
    row = bt.query("region_id == 'ALL' and model == 'online' and h == 0").iloc[0]
    assert row["mape"] == pytest.approx(mean_absolute_percentage_error(y, p), rel=1e-12)
    assert row["mase_vs_drift"] == pytest.approx(
        mean_absolute_error(y, p) / mean_absolute_error(y, d), rel=1e-12
    )
    inside = (scored["log_actual"] >= scored["lo"]) & (scored["log_actual"] <= scored["hi"])
    assert row["coverage80"] == pytest.approx(inside.mean())
    assert row["n_points"] == len(scored)
    assert row["n_origins"] == len(scored[["region_id", "origin_year"]].drop_duplicates())
    assert bool(row["selected"])


@pytest.mark.slow  # 30 regions x 5 origins of statsmodels fits (~10 s)
def test_interval_coverage_on_simulated_random_walk_with_drift():
    # 30 regions, log random walk with 5%/yr drift and 3% shocks: the future 5 years must
    # fall inside the 80% interval about 80% of the time.
    rng = np.random.default_rng(20240601)
    n_regions, n_hist, n_future = 30, 14, 5
    steps = 0.05 + 0.03 * rng.standard_normal((n_regions, n_hist + n_future - 1))
    log_y = np.log(rng.uniform(20, 400, (n_regions, 1))) + np.c_[
        np.zeros((n_regions, 1)), np.cumsum(steps, axis=1)
    ]
    y = np.exp(log_y)
    hist = pd.concat(
        [_frame(f"R{i:02d}", 2000, y[i, :n_hist]) for i in range(n_regions)], ignore_index=True
    )
    res = forecast_baseline(hist, 2014, 2018, min_points=10)
    fc = res.forecast.sort_values(["region_id", "year"])
    truth = y[:, n_hist:].ravel()
    inside = (fc["baseline_lo80_twh"].to_numpy() <= truth) & (
        truth <= fc["baseline_hi80_twh"].to_numpy()
    )
    assert 0.65 <= inside.mean() <= 0.95


def test_break_level_jump_does_not_change_forecast_slope():
    # 6%/yr growth with a 30% scope jump in 2015; with the break declared, the adjusted
    # series is exact geometric growth and the forecast grows at 6%/yr from the last year.
    t = np.arange(14)
    jumped = 50.0 * 1.06**t * np.where(2008 + t >= 2015, 1.3, 1.0)
    hist = _frame("SD", 2008, jumped)
    fc = forecast_baseline(hist, 2021, 2025, breaks={"SD": 2015}).forecast["baseline_twh"]
    fc = fc.to_numpy()
    np.testing.assert_allclose(fc[1:] / fc[:-1], 1.06, rtol=1e-6)
    assert fc[0] == pytest.approx(jumped[-1])
    naive = forecast_baseline(hist, 2021, 2022).forecast["baseline_twh"].to_numpy()
    assert abs(naive[1] / naive[0] - 1.06) > 0.005


def test_output_contract_years_and_observed_values():
    hist = _noisy(7, 12, "X", 2011)
    values = hist["consumption_twh"].to_numpy()
    before = hist.copy()
    res = forecast_baseline(hist, 2020, 2027)
    pd.testing.assert_frame_equal(hist, before)  # input untouched
    fc = res.forecast
    assert list(fc.columns) == FORECAST_COLUMNS
    assert fc["year"].tolist() == list(range(2020, 2028))
    observed = fc[fc["year"] <= 2022]
    for col in ("baseline_twh", "baseline_lo80_twh", "baseline_hi80_twh"):
        np.testing.assert_allclose(observed[col], values[-3:])
    future = fc[fc["year"] > 2022]
    assert np.all(future["baseline_lo80_twh"] < future["baseline_hi80_twh"])
    bt = res.backtest
    assert set(bt["model"]) == {"online", *MODELS}
    assert set(bt["h"]) == {0, 1, 2, 3, 4}  # 12 points, min 8: origins 2018..2021


def test_region_ending_early_is_forecast_to_the_end_year():
    a = _noisy(5, 15, "A", 2006)
    b = _noisy(6, 13, "B", 2004)  # last year 2016
    fc = forecast_baseline(pd.concat([a, b]), 2020, 2024).forecast
    b_rows = fc[fc["region_id"] == "B"]
    assert b_rows["year"].tolist() == list(range(2020, 2025))
    assert np.isfinite(fc[["baseline_twh", "baseline_lo80_twh", "baseline_hi80_twh"]]).all().all()
    assert (b_rows["model"] != "observed").all()


def test_bad_input_is_rejected():
    hist = _frame("R", 2010, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="consecutive"):
        forecast_baseline(hist.drop(index=1), 2012, 2014)
    with pytest.raises(ValueError, match="> 0"):
        forecast_baseline(hist.assign(consumption_twh=[1.0, 0.0, 3.0]), 2012, 2014)
    with pytest.raises(ValueError, match="base_year"):
        forecast_baseline(hist, 2005, 2014)


def test_shrunk_growth_matches_a_hand_computed_james_stein_estimate():
    rng = np.random.default_rng(11)
    years = np.arange(2010, 2019)
    logs = {
        r: np.log(s) + np.cumsum(g + 0.02 * rng.standard_normal(9))
        for r, s, g in [("A", 100, 0.06), ("B", 50, 0.03), ("C", 20, 0.09), ("D", 70, 0.05)]
    }
    out = shrunk_growth({r: (years, a) for r, a in logs.items()})
    levels = np.exp(np.vstack(list(logs.values())))
    national = np.mean(np.diff(np.log(levels.sum(axis=0))))
    growth = np.diff(np.vstack(list(logs.values())), axis=1)
    own = growth.mean(axis=1)
    s2 = growth.var(axis=1, ddof=1) / growth.shape[1]
    tau2 = max(np.var(own - national, ddof=1) - s2.mean(), 0.0)
    expected = national + tau2 / (tau2 + s2) * (own - national)
    np.testing.assert_allclose([out[r][-1] for r in logs], expected, rtol=1e-10)


@pytest.mark.slow  # fits every candidate on the shipped provinces (tens of seconds)
def test_shipped_provinces_online_backtest_beats_drift():
    # Measured when the online combination was introduced: MASE 0.972, coverage 0.863.
    root = Path(__file__).parents[2] / "data" / "default"
    hist = pd.read_csv(root / "demand_history.csv")
    breaks = pd.read_csv(root / "statistical_breaks.csv")
    years = dict(zip(breaks["region_id"], breaks["year"], strict=True))
    res = forecast_baseline(hist, 2024, 2035, breaks=years)
    online = res.backtest.query("region_id == 'ALL' and model == 'online' and h == 0").iloc[0]
    drift = res.backtest.query("region_id == 'ALL' and model == 'drift' and h == 0").iloc[0]
    assert online["mase_vs_drift"] < 1.0
    assert online["mape"] < drift["mape"]
    assert 0.75 <= online["coverage80"] <= 0.90


def test_ar_growth_is_ols_ar1_on_log_growth_by_hand():
    hist = pd.concat([_noisy(8, 12, "A"), _noisy(9, 12, "B")])
    pts = backtest_paths(hist, 4, min_points=8, horizon_backtest=3).points
    got = pts.query("region_id == 'A' and model == 'ar_growth' and origin_year == 2017")
    a = np.log(hist.loc[hist["region_id"] == "A", "consumption_twh"].to_numpy())
    g = np.diff(a)
    (c, phi), *_ = np.linalg.lstsq(np.c_[np.ones(len(g) - 1), g[:-1]], g[1:], rcond=None)
    assert abs(phi) < 1
    path, last, level = [], g[-1], a[-1]
    for _ in range(4):
        last = c + phi * last
        level += last
        path.append(level)
    np.testing.assert_allclose(got.sort_values("h")["log_pred"], path, rtol=1e-9)
