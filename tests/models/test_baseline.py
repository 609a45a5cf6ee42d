"""Tests for models.baseline: closed-form series, simulated coverage, breaks, contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.baseline import MODELS, forecast_baseline

FORECAST_COLUMNS = [
    "region_id",
    "year",
    "baseline_twh",
    "baseline_lo80_twh",
    "baseline_hi80_twh",
    "model",
]
BACKTEST_COLUMNS = [
    "region_id",
    "model",
    "n_origins",
    "mape",
    "mase_vs_drift",
    "coverage80",
    "selected",
]


def _frame(region: str, first_year: int, values) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    return pd.DataFrame(
        {
            "region_id": region,
            "year": np.arange(first_year, first_year + len(values)),
            "consumption_twh": values,
        }
    )


def _selected(backtest: pd.DataFrame, region: str) -> str:
    rows = backtest[(backtest["region_id"] == region) & backtest["selected"]]
    assert len(rows) == 1
    return rows["model"].iloc[0]


def test_constant_growth_is_forecast_exactly_by_drift():
    # Exact geometric growth is a straight line in logs, the working scale: drift
    # (constant growth rate) must reproduce it and be selected.
    t = np.arange(12)
    hist = _frame("R", 2010, 80.0 * 1.07**t)
    res = forecast_baseline(hist, 2021, 2026)
    fc = res.forecast
    expected = 80.0 * 1.07 ** np.arange(11, 17)
    np.testing.assert_allclose(fc["baseline_twh"], expected, rtol=1e-9)
    assert fc["model"].tolist() == ["observed"] + ["drift"] * 5
    assert _selected(res.backtest, "R") == "drift"
    drift = res.backtest.query("region_id == 'R' and model == 'drift'").iloc[0]
    assert drift["mape"] == pytest.approx(0.0, abs=1e-9)


def test_linear_trend_selects_linear_drift():
    # Exact linear growth in TWh: the level random walk with drift is exact, so it is the
    # known best model; log drift over-forecasts (constant % growth on a falling % path).
    t = np.arange(14)
    hist = pd.concat([_frame("A", 2008, 100.0 + 12.0 * t), _frame("B", 2008, 40.0 + 3.0 * t)])
    res = forecast_baseline(hist, 2022, 2025)
    for region, (a, b) in {"A": (100.0, 12.0), "B": (40.0, 3.0)}.items():
        fc = res.forecast[res.forecast["region_id"] == region]
        np.testing.assert_allclose(fc["baseline_twh"], a + b * np.arange(14, 18), rtol=1e-9)
        assert _selected(res.backtest, region) == "drift_linear"
    linear = res.backtest.query("region_id == 'ALL' and model == 'drift_linear'").iloc[0]
    assert linear["mase_vs_drift"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow  # ~300 statsmodels fits
def test_interval_coverage_on_simulated_random_walk_with_drift():
    # 30 regions, log random walk with 5%/yr drift and 3% shocks: the future 5 years that
    # the model never saw must fall inside the 80% interval about 80% of the time.
    rng = np.random.default_rng(20240601)
    n_regions, n_hist, n_future = 30, 16, 5
    steps = 0.05 + 0.03 * rng.standard_normal((n_regions, n_hist + n_future - 1))
    log_y = (
        np.log(rng.uniform(20, 400, (n_regions, 1)))
        + np.c_[np.zeros((n_regions, 1)), np.cumsum(steps, axis=1)]
    )
    y = np.exp(log_y)
    hist = pd.concat(
        [_frame(f"R{i:02d}", 2000, y[i, :n_hist]) for i in range(n_regions)], ignore_index=True
    )
    res = forecast_baseline(hist, 2016, 2020, min_points=10)
    fc = res.forecast.sort_values(["region_id", "year"])
    truth = y[:, n_hist:].ravel()
    inside = (fc["baseline_lo80_twh"].to_numpy() <= truth) & (
        truth <= fc["baseline_hi80_twh"].to_numpy()
    )
    assert 0.70 <= inside.mean() <= 0.90
    overall = res.backtest.query("region_id == 'ALL' and model == 'drift'").iloc[0]
    assert 0.72 <= overall["coverage80"] <= 0.88


def test_break_level_jump_does_not_change_forecast_slope():
    # 6%/yr growth with a 30% scope jump in 2015; with the break declared, pre-break years
    # are rescaled and the forecast grows at 6%/yr from the last observation.
    t = np.arange(14)
    clean = 50.0 * 1.06**t
    jumped = clean * np.where(2008 + t >= 2015, 1.3, 1.0)
    hist = _frame("SD", 2008, jumped)
    res = forecast_baseline(hist, 2021, 2025, breaks={"SD": 2015})
    fc = res.forecast["baseline_twh"].to_numpy()
    np.testing.assert_allclose(fc[1:] / fc[:-1], 1.06, rtol=1e-9)
    assert fc[0] == pytest.approx(jumped[-1])
    assert _selected(res.backtest, "SD") == "drift"
    # Without the break declared the jump distorts the path (drift alone would grow at
    # (1.3 * 1.06**13) ** (1/13) - 1 = 8.2%/yr), so the break handling is what fixes it.
    naive = forecast_baseline(hist, 2021, 2022).forecast["baseline_twh"].to_numpy()
    assert abs(naive[1] / naive[0] - 1.06) > 0.005


def test_short_region_uses_drift_only():
    long = _frame("L", 2005, 30.0 * 1.04 ** np.arange(14) * (1 + 0.01 * np.sin(np.arange(14))))
    short = _frame("S", 2014, [10.0, 11.0, 11.5, 12.6, 13.1])
    res = forecast_baseline(pd.concat([long, short]), 2018, 2021, min_points=8)
    fc = res.forecast[res.forecast["region_id"] == "S"]
    h = np.arange(1, 4)
    expected = 13.1 * (13.1 / 10.0) ** (h / 4)  # geometric drift over 4 growth steps
    np.testing.assert_allclose(fc["baseline_twh"].to_numpy()[1:], expected, rtol=1e-12)
    assert fc["model"].tolist() == ["observed", "drift", "drift", "drift"]
    rows = res.backtest[res.backtest["region_id"] == "S"]
    assert rows["model"].tolist() == ["drift"]
    assert rows["n_origins"].tolist() == [0]
    assert bool(rows["selected"].iloc[0])


def test_output_contract_years_and_observed_values():
    rng = np.random.default_rng(7)
    values = 60.0 * np.exp(np.cumsum(0.05 + 0.02 * rng.standard_normal(12)))
    hist = _frame("X", 2011, values)
    before = hist.copy()
    res = forecast_baseline(hist, 2020, 2027)
    pd.testing.assert_frame_equal(hist, before)  # input untouched
    fc = res.forecast
    assert list(fc.columns) == FORECAST_COLUMNS
    assert fc["year"].tolist() == list(range(2020, 2028))
    observed = fc[fc["year"] <= 2022]
    np.testing.assert_allclose(observed["baseline_twh"], values[-3:])
    np.testing.assert_allclose(observed["baseline_lo80_twh"], values[-3:])
    np.testing.assert_allclose(observed["baseline_hi80_twh"], values[-3:])
    assert set(observed["model"]) == {"observed"}
    future = fc[fc["year"] > 2022]
    assert np.all(future["baseline_lo80_twh"] < future["baseline_hi80_twh"])
    bt = res.backtest
    assert list(bt.columns) == BACKTEST_COLUMNS
    assert bt.loc[bt["region_id"] == "X", "model"].tolist() == list(MODELS)
    assert set(bt.loc[bt["region_id"] == "ALL", "model"]) == {
        *MODELS,
        "selected",
        "selected_online",
    }


def test_base_year_after_last_observation_starts_in_the_future():
    hist = _frame("R", 2010, 20.0 * 1.05 ** np.arange(10))
    fc = forecast_baseline(hist, 2022, 2023).forecast
    assert fc["year"].tolist() == [2022, 2023]
    np.testing.assert_allclose(fc["baseline_twh"], 20.0 * 1.05 ** np.array([12, 13]), rtol=1e-9)


def test_bad_input_is_rejected():
    hist = _frame("R", 2010, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="consecutive"):
        forecast_baseline(hist.drop(index=1), 2012, 2014)
    with pytest.raises(ValueError, match="> 0"):
        forecast_baseline(hist.assign(consumption_twh=[1.0, 0.0, 3.0]), 2012, 2014)
    with pytest.raises(ValueError, match="base_year"):
        forecast_baseline(hist, 2005, 2014)
