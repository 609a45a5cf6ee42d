"""The baseline procedure on US state electricity sales it was not designed on (small, fast).

A few states and recent years only; benchmarks/bench_baseline.py runs all 51 states.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error

from models.baseline import backtest_paths
from models.baseline_online import online_points

US = Path(__file__).parents[2] / "data" / "validation" / "us_state_electricity_retail_sales_annual.csv"
STATES = ("AK", "AL", "AR", "AZ", "CA")  # the first five codes, not chosen by result
MARGIN = 0.10
"""The procedure may be at most 10% worse than drift on this small sample (MASE)."""


def test_online_procedure_is_not_worse_than_drift_on_us_states() -> None:
    us = pd.read_csv(US).rename(columns={"state": "region_id", "retail_sales_twh": "consumption_twh"})
    hist = us[us["region_id"].isin(STATES) & (us["year"] >= 2008)]
    pts = backtest_paths(hist, 3, min_points=8, horizon_backtest=3).points
    on = online_points(pts, 3)
    scored = on[np.isfinite(on["log_actual"])]
    assert scored["origin_year"].nunique() == 6  # 2015..2020
    y, p, d = (np.exp(scored[c]) for c in ("log_actual", "log_pred", "drift_log_pred"))
    assert mean_absolute_error(y, p) / mean_absolute_error(y, d) <= 1 + MARGIN
    inside = (scored["log_actual"] >= scored["lo"]) & (scored["log_actual"] <= scored["hi"])
    assert 0.6 <= inside.mean() <= 1.0
