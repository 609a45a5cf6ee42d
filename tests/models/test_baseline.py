"""Tests for models.baseline: closed-form series, statsmodels equivalence, pooled shrinkage,
simulated coverage, breaks, contract; one guard on the shipped provinces (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.ar_model import AutoReg
from statsmodels.tsa.forecasting.theta import ThetaModel

from models.baseline import (
    MODELS,
    _arima_drift,
    _ets_damped,
    _shrunk_growth,
    _theta,
    forecast_baseline,
)

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


def test_linear_trend_is_exact_for_linear_drift_and_a_combination_is_chosen():
    # Exact linear growth in TWh: the level random walk with drift is exact (MASE 0); log
    # drift over-forecasts (constant % growth on a falling % path). Single fitted models are
    # selectable only inside combinations, so the choice is the selectable model with the
    # lowest pooled MASE, which here must beat drift clearly.
    t = np.arange(14)
    hist = pd.concat([_frame("A", 2008, 100.0 + 12.0 * t), _frame("B", 2008, 40.0 + 3.0 * t)])
    res = forecast_baseline(hist, 2022, 2025)
    pooled = res.backtest[res.backtest["region_id"] == "ALL"].set_index("model")["mase_vs_drift"]
    assert pooled["drift_linear"] == pytest.approx(0.0, abs=1e-9)
    selectable = ["drift", "drift_shrunk", *[m for m in MODELS if m.startswith("combo_")]]
    best = pooled[selectable].idxmin()
    assert pooled[best] < 0.5
    for region in ("A", "B"):
        assert _selected(res.backtest, region) == best
        fc = res.forecast[res.forecast["region_id"] == region]
        assert fc["model"].tolist() == [best] * 4  # last observation 2021


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


def _noisy_log_series(seed: int, n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = 0.05 + 0.03 * rng.standard_normal(n) + 0.02 * np.sin(np.arange(n) / 2)
    return np.log(50.0) + np.cumsum(steps)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_theta_matches_statsmodels_theta_model(seed):
    a = _noisy_log_series(seed)
    lengths = np.arange(6, 17)
    ours = _theta(a, lengths, np.arange(1, 6))
    for row, length in zip(ours, lengths, strict=True):
        ref = ThetaModel(a[:length], period=1, deseasonalize=False).fit().forecast(5)
        np.testing.assert_allclose(row, np.asarray(ref), atol=1e-4)  # alpha on a 0.001 grid


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_arima_drift_matches_statsmodels_autoreg_on_growth(seed):
    a = _noisy_log_series(seed)
    lengths = np.arange(6, 17)
    ours = _arima_drift(a, lengths, np.arange(1, 6))
    for row, length in zip(ours, lengths, strict=True):
        res = AutoReg(np.diff(a[:length]), lags=1, trend="c").fit()
        if abs(res.params[1]) >= 0.98:  # explosive: drift path by design
            expected = a[length - 1] + np.arange(1, 6) * (a[length - 1] - a[0]) / (length - 1)
        else:
            expected = a[length - 1] + np.cumsum(res.forecast(5))
        np.testing.assert_allclose(row, expected, rtol=1e-10)


def test_ets_damped_recovers_an_exact_damped_trend():
    # Noise-free damped trend (phi = 0.9 is on the grid): y_t = y_{t-1} + b0 * phi**t, so the
    # forecast continues y_n + b0 * (phi**(n+1) + ... + phi**(n+h)).
    phi, b0, n = 0.9, 0.12, 14
    y = 4.0 + np.cumsum(b0 * phi ** np.arange(1, n + 1))
    h = np.arange(1, 8)
    expected = y[-1] + b0 * np.cumsum(phi ** (n + h))
    np.testing.assert_allclose(_ets_damped(y, np.array([n]), h)[0], expected, atol=1e-6)


def test_shrunk_growth_matches_a_hand_computed_james_stein_estimate():
    rng = np.random.default_rng(11)
    years = np.arange(2010, 2019)
    logs = {
        r: np.log(s) + np.cumsum(g + 0.02 * rng.standard_normal(9))
        for r, s, g in [("A", 100, 0.06), ("B", 50, 0.03), ("C", 20, 0.09), ("D", 70, 0.05)]
    }
    out = _shrunk_growth({r: (years, a) for r, a in logs.items()})
    # Independent calculation at the last year, window = all 9 years.
    levels = np.exp(np.vstack(list(logs.values())))
    national = np.mean(np.diff(np.log(levels.sum(axis=0))))
    growth = np.diff(np.vstack(list(logs.values())), axis=1)
    own = growth.mean(axis=1)
    s2 = growth.var(axis=1, ddof=1) / growth.shape[1]
    tau2 = max(np.var(own - national, ddof=1) - s2.mean(), 0.0)
    expected = national + tau2 / (tau2 + s2) * (own - national)
    np.testing.assert_allclose([out[r][-1] for r in logs], expected, rtol=1e-10)
    single = _shrunk_growth({"A": (years, logs["A"])})["A"]  # nothing to pool with: own drift
    np.testing.assert_allclose(single[-1], own[0], rtol=1e-12)


@pytest.mark.slow  # reads the shipped provinces; a regression guard, not a unit test
def test_shipped_provinces_honest_backtest_beats_drift():
    # Figures measured when the pooled shrinkage and the combination-only selection were
    # introduced (honest online MASE 0.879, leave-one-region-out coverage 0.80).
    hist = pd.read_csv(Path(__file__).parents[2] / "data" / "default" / "demand_history.csv")
    res = forecast_baseline(hist, 2024, 2035, breaks={"CN-SD": 2015, "CN-XJ": 2019})
    online = res.backtest.query("region_id == 'ALL' and model == 'selected_online'").iloc[0]
    assert online["mase_vs_drift"] < 0.90
    assert 0.75 <= online["coverage80"] <= 0.85


def test_region_ending_early_is_forecast_to_the_end_year():
    # Horizons are counted from each region's own last year, not the latest region's.
    rng = np.random.default_rng(5)
    a = _frame("A", 2006, 40.0 * np.exp(np.cumsum(0.05 + 0.02 * rng.standard_normal(15))))
    b = _frame("B", 2004, 90.0 * np.exp(np.cumsum(0.04 + 0.02 * rng.standard_normal(13))))
    fc = forecast_baseline(pd.concat([a, b]), 2020, 2024).forecast
    b_rows = fc[fc["region_id"] == "B"]
    assert b_rows["year"].tolist() == list(range(2020, 2025))
    assert np.isfinite(fc[["baseline_twh", "baseline_lo80_twh", "baseline_hi80_twh"]]).all().all()
    assert (b_rows["model"] != "observed").all()  # B's last year is 2016
