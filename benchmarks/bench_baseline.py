"""The baseline procedure out of sample: Chinese provinces and US states, side by side.

Runs the whole procedure (every candidate refitted at every rolling origin, weights and
interval widths learned online) on the shipped provinces and on the US state retail sales
in data/validation/ (a check the method was not designed on), and prints, pooled over
series, origins and horizons 1-5: MAPE of the procedure and of drift, their ratio, MASE
against drift (TWh-weighted), and the 80% interval coverage; then the same by horizon.
Also the cold and warm cost of the pipeline's baseline task on the shipped data.

    .venv/bin/python benchmarks/bench_baseline.py [--states N] [--no-timing]

The fits are cached in .gridcast/bench-baseline.duckdb (keyed by the history), so a rerun
prints in seconds; delete that file to refit everything (the US states take minutes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error

from flows.baseline_cache import breaks_from_table, cached_paths
from flows.validate import load_inputs
from models.baseline import forecast_baseline, required_horizon
from models.baseline_online import online_points

ROOT = Path(__file__).resolve().parent.parent
US_FILE = ROOT / "data" / "validation" / "us_state_electricity_retail_sales_annual.csv"
BENCH_WAREHOUSE = ROOT / ".gridcast" / "bench-baseline.duckdb"
HORIZON = 5


def us_history(n_states: int | None = None) -> pd.DataFrame:
    """US state retail sales as a ``demand_history`` frame (region_id = state code)."""
    us = pd.read_csv(US_FILE).rename(
        columns={"state": "region_id", "retail_sales_twh": "consumption_twh"}
    )
    if n_states:
        keep = sorted(us["region_id"].unique())[:n_states]
        us = us[us["region_id"].isin(keep)]
    return us.reset_index(drop=True)


def online_summary(history: pd.DataFrame, breaks: dict[str, int], warehouse: Path | None) -> pd.DataFrame:
    """Pooled online figures (h = 0: horizons 1..5 together) and by horizon."""
    paths, _ = cached_paths(warehouse, history, breaks, HORIZON, horizon_backtest=HORIZON)
    scored = online_points(paths.points, HORIZON)
    scored = scored[np.isfinite(scored["log_actual"])]
    rows = []
    for h, grp in [(0, scored), *scored.groupby("h")]:
        y, p, d = (np.exp(grp[c]) for c in ("log_actual", "log_pred", "drift_log_pred"))
        inside = (grp["log_actual"] >= grp["lo"]) & (grp["log_actual"] <= grp["hi"])
        drift_in = (grp["log_actual"] >= grp["drift_lo"]) & (grp["log_actual"] <= grp["drift_hi"])
        mape, mape_d = mean_absolute_percentage_error(y, p), mean_absolute_percentage_error(y, d)
        rows.append(
            {
                "h": int(h),
                "series": grp["region_id"].nunique(),
                "origins": grp["origin_year"].nunique(),
                "points": len(grp),
                "mape_%": 100 * mape,
                "drift_mape_%": 100 * mape_d,
                "mape_ratio": mape / mape_d,
                "mase_vs_drift": mean_absolute_error(y, p) / mean_absolute_error(y, d),
                "coverage80_%": 100 * inside.mean(),
                "drift_coverage80_%": 100 * drift_in.mean(),
            }
        )
    return pd.DataFrame(rows)


def _timings(inputs, breaks: dict[str, int]) -> dict[str, float]:  # noqa: ANN001
    """Cold (fit and store) and warm (read and combine) cost of the pipeline's baseline step."""
    hist = inputs.demand_history
    h_max = required_horizon(hist, 2035)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wh = Path(tmp) / "w.duckdb"
        for label in ("cold", "warm", "warm again"):
            t0 = time.perf_counter()
            paths, _ = cached_paths(wh, hist, breaks, h_max)
            forecast_baseline(hist, 2024, 2035, breaks=breaks, paths=paths)
            out[label] = time.perf_counter() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=None, help="first N US states only")
    parser.add_argument("--no-timing", action="store_true", help="skip the cold/warm timing")
    args = parser.parse_args()
    inputs = load_inputs(ROOT / "data" / "default")
    breaks = breaks_from_table(inputs.statistical_breaks, inputs.demand_history["region_id"])
    pd.set_option("display.width", 160)
    fmt = {c: "{:.3f}".format for c in ("mape_ratio", "mase_vs_drift")}
    for name, hist, brk in (
        ("Chinese provinces (data/default, breaks declared)", inputs.demand_history, breaks),
        ("US states (data/validation, EIA retail sales 1990-2021)", us_history(args.states), {}),
    ):
        t0 = time.perf_counter()
        table = online_summary(hist, brk, BENCH_WAREHOUSE)
        print(f"\n{name}  [{time.perf_counter() - t0:.1f} s]")  # noqa: T201
        print(table.to_string(index=False, float_format="{:.1f}".format, formatters=fmt))  # noqa: T201
    if not args.no_timing:
        t = _timings(inputs, breaks)
        print(  # noqa: T201
            "\nbaseline step on the shipped data (fit + combine, fresh warehouse): "
            + ", ".join(f"{k} {v:.2f} s" for k, v in t.items())
        )


if __name__ == "__main__":
    main()
