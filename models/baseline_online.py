"""The baseline's combination and interval, decided online, and its honest backtest.

Everything the forecast uses at an origin (last observed year ``t``) is learned only from
backtest errors whose target year is ``<= t``; the same rule applied at every backtest
origin gives the procedure's out-of-sample ("online") errors, the headline figures.

* **Weights.** A weighted mean in logs of all candidates (``models.baseline.MODELS``,
  drift among them), weights proportional to ``1 / MSE`` of each candidate's log errors
  pooled over regions and horizons ``1..horizon_backtest`` (Bates and Granger's inverse-MSE
  combination), over the candidates whose MSE so far is no larger than drift's (drift
  always takes part). With fewer than ``MIN_POINTS`` known errors the forecast is drift. A
  region too short for the fitted models gets drift.
* **Intervals.** Symmetric in logs: ``forecast * exp(+-q * sigma * sqrt(h (1 + h/(n-1))))``,
  the random walk with drift's forecast-error scale (``sigma``: sd of the training
  window's annual log growth, ``n`` its length) times ``q``, the 80% quantile of the
  procedure's own past absolute log errors in those units, pooled across regions and
  horizons ``1..horizon_backtest``; the normal ``q = 1.2816`` with fewer than
  ``MIN_POINTS`` known errors. Per-horizon 10%/90% quantiles were tried and chased the
  sign of recent errors (50% coverage on the provinces): the errors of one year are
  shared by all regions, so a few years of them say little about the next year's sign.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from models.baseline import MODELS

__all__ = [
    "BACKTEST_COLUMNS",
    "MIN_POINTS",
    "ONLINE",
    "backtest_table",
    "final_forecast",
    "online_points",
    "online_weights",
]

ONLINE = "online"
"""``model`` of the whole procedure (weights and intervals learned online)."""
MIN_POINTS = 10
"""Known errors needed before weights are learned, or quantiles taken at one horizon."""
_Z80 = 1.2815515655446004  # standard normal 90% quantile, for the uncalibrated fallback
BACKTEST_COLUMNS = [
    "region_id",
    "model",
    "h",
    "n_origins",
    "n_points",
    "mape",
    "mase_vs_drift",
    "coverage80",
    "weight",
    "selected",
]
_FORECAST_COLUMNS = [
    "region_id",
    "year",
    "baseline_twh",
    "baseline_lo80_twh",
    "baseline_hi80_twh",
    "model",
]
_KEY = ["region_id", "origin_year", "h"]


def online_weights(points: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Combination weights known at each origin year: rows origin years, columns MODELS.

    At origin ``t`` the weights use the log errors of rows with ``origin_year + h <= t``,
    ``h <= horizon`` and every candidate present (so models are compared on the same
    points). Drift alone (weight 1) until ``MIN_POINTS`` such errors exist.

    Example:
        >>> pts = pd.DataFrame({"region_id": "R", "model": ["drift", "theta"] * 11,
        ...     "origin_year": np.repeat(np.arange(2000, 2011), 2), "h": 1,
        ...     "log_pred": [0.2, 0.1] * 11, "log_actual": 0.0, "sigma": 0.1, "n_train": 9})
        >>> w = online_weights(pts, 5)
        >>> w.loc[2010, ["drift", "theta"]].round(2).tolist()  # MSE 0.04 vs 0.01
        [0.2, 0.8]
    """
    wide = _wide(points, "log_pred")
    actual = points.groupby(_KEY)["log_actual"].first().reindex(wide.index).to_numpy()
    cols = [m for m in MODELS if m in wide.columns]
    pred = wide[cols].to_numpy(dtype=float)
    h = wide.index.get_level_values("h").to_numpy()
    target = wide.index.get_level_values("origin_year").to_numpy() + h
    ok = np.isfinite(actual) & (h <= horizon) & np.isfinite(pred).all(axis=1)
    origins = np.sort(points["origin_year"].unique())
    sq = pd.DataFrame((pred[ok] - actual[ok, None]) ** 2, columns=cols)
    sq["target"] = target[ok]
    by_target = sq.groupby("target").agg(["sum", "count"]) if ok.any() else None
    weights = pd.DataFrame(0.0, index=pd.Index(origins, name="origin_year"), columns=list(MODELS))
    weights["drift"] = 1.0
    if by_target is None:
        return weights
    sums = by_target.xs("sum", axis=1, level=1).cumsum()
    counts = by_target[(cols[0], "count")].cumsum()
    pos = np.searchsorted(sums.index.to_numpy(), origins, side="right") - 1  # targets <= t
    known = pos >= 0
    n_known = np.where(known, counts.to_numpy()[np.maximum(pos, 0)], 0)
    mse = sums.to_numpy()[np.maximum(pos, 0)] / np.maximum(n_known, 1)[:, None]
    # a candidate takes part only while its past errors are no larger than drift's
    inv = np.where(mse <= mse[:, [cols.index("drift")]], 1.0 / np.maximum(mse, 1e-12), 0.0)
    learned = inv / inv.sum(axis=1, keepdims=True)
    use = n_known >= MIN_POINTS
    weights.loc[origins[use], cols] = learned[use]
    return weights


def online_points(points: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The procedure's forecast, interval and errors at every origin (backtest and final).

    Args:
        points: ``BaselinePaths.points``.
        horizon: largest backtest horizon whose errors are learned from.

    Returns:
        One row per region, origin and horizon: ``region_id``, ``origin_year``, ``h``,
        ``n_train``, ``sigma``, ``log_actual``, ``log_pred`` (the combination),
        ``drift_log_pred``, ``lo``/``hi`` (log 80% bounds of the combination), ``drift_lo``/
        ``drift_hi`` (drift's own online-calibrated bounds), ``weights_origin``.
    """
    weights = online_weights(points, horizon)
    wide = _wide(points, "log_pred")
    cols = [m for m in MODELS if m in wide.columns]
    pred = wide[cols].to_numpy(dtype=float)
    w = weights.loc[wide.index.get_level_values("origin_year"), cols].to_numpy()
    w = np.where(np.isfinite(pred), w, 0.0)
    total = w.sum(axis=1)
    no_weight = total <= 0  # a drift-only region: the fitted candidates are absent
    w[no_weight, cols.index("drift")] = 1.0
    combo = np.nansum(np.where(np.isfinite(pred), pred, 0.0) * w, axis=1) / w.sum(axis=1)
    meta = points.groupby(_KEY)[["n_train", "sigma", "log_actual"]].first().reindex(wide.index)
    out = meta.reset_index().assign(log_pred=combo, drift_log_pred=wide["drift"].to_numpy())
    out["lo"], out["hi"] = _online_interval(out, "log_pred", horizon)
    out["drift_lo"], out["drift_hi"] = _online_interval(out, "drift_log_pred", horizon)
    return out


def _wide(points: pd.DataFrame, column: str) -> pd.DataFrame:
    return points.pivot_table(index=_KEY, columns="model", values=column, aggfunc="first")


def rw_unit(h: np.ndarray, n_train: np.ndarray) -> np.ndarray:
    """The random walk with drift's forecast sd in units of the growth sd: sqrt(h (1 + h/(n-1)))."""
    h = np.asarray(h, dtype=float)
    return np.sqrt(h * (1 + h / np.maximum(np.asarray(n_train, dtype=float) - 1, 1)))


def _online_interval(frame: pd.DataFrame, pred_col: str, horizon: int) -> tuple[np.ndarray, ...]:
    """Log 80% bounds of ``pred_col`` at every row, calibrated on errors known at its origin.

    Half-width ``q * sigma * rw_unit(h, n)``: ``q`` is the 80% quantile of the absolute
    past errors in those units (all regions, horizons ``1..horizon``, targets observed by
    the origin year), or the normal ``1.2816`` with fewer than ``MIN_POINTS`` of them.
    """
    sigma = frame["sigma"].to_numpy(dtype=float)
    pred = frame[pred_col].to_numpy(dtype=float)
    h, n_train = frame["h"].to_numpy(), frame["n_train"].to_numpy()
    unit = sigma * rw_unit(h, n_train)
    u = np.abs(frame["log_actual"].to_numpy(dtype=float) - pred) / np.where(unit > 0, unit, np.nan)
    origin = frame["origin_year"].to_numpy()
    target = origin + h
    usable = np.isfinite(u) & (h <= horizon)
    origins = np.unique(origin)
    q = np.full(origins.size, _Z80)
    for i, t in enumerate(origins):  # one calibration per origin year (tens, not rows)
        known = u[usable & (target <= t)]
        if known.size >= MIN_POINTS:
            q[i] = np.quantile(known, 0.8)
    half = q[np.searchsorted(origins, origin)] * unit
    return pred - half, pred + half


# --- outputs ---------------------------------------------------------------------------


def final_forecast(
    points: pd.DataFrame,
    online: pd.DataFrame,
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    base_year: int,
    end_year: int,
) -> pd.DataFrame:
    """Observed values, then the combination from each region's last year with its interval."""
    fitted = set(points.loc[points["model"] != "drift", "region_id"])
    frames = []
    for rid, (years, values) in series.items():
        out_years = np.arange(base_year, end_year + 1)
        observed = out_years <= years[-1]
        rows = online[(online["region_id"] == rid) & (online["origin_year"] == years[-1])]
        rows = rows.set_index("h").reindex(out_years[~observed] - years[-1])
        value = np.empty(len(out_years))
        lo, hi = np.empty(len(out_years)), np.empty(len(out_years))
        value[observed] = lo[observed] = hi[observed] = values[out_years[observed] - years[0]]
        value[~observed] = np.exp(rows["log_pred"].to_numpy())
        lo[~observed] = np.exp(rows["lo"].to_numpy())
        hi[~observed] = np.exp(rows["hi"].to_numpy())
        model = ONLINE if rid in fitted else "drift"
        frames.append(
            pd.DataFrame(
                {
                    "region_id": rid,
                    "year": out_years.astype(np.int64),
                    "baseline_twh": value,
                    "baseline_lo80_twh": lo,
                    "baseline_hi80_twh": hi,
                    "model": np.where(observed, "observed", model),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[_FORECAST_COLUMNS]


def backtest_table(points: pd.DataFrame, online: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Out-of-sample figures per region (and ``ALL``), model and horizon.

    ``model = "online"`` is the whole procedure, nested in time: the headline. The other
    rows are each candidate's own errors on the same origins (for comparison; the
    procedure did not know them in advance). ``h = 0`` pools horizons ``1..H``.

    Columns: ``region_id``, ``model``, ``h``, ``n_origins``, ``n_points``, ``mape``
    (fraction), ``mase_vs_drift`` (MAE in TWh / drift's on the same points; < 1 beats
    drift), ``coverage80`` (share of targets inside the online 80% interval; online and
    drift rows only), ``weight`` (the candidate's weight in today's forecast),
    ``selected`` (True on the online rows: the forecast uses the procedure).
    """
    scored = online[np.isfinite(online["log_actual"])]
    if not len(scored):
        return pd.DataFrame(columns=BACKTEST_COLUMNS).astype({"selected": "bool"})
    key = scored.set_index(_KEY).index
    cand = points[np.isfinite(points["log_actual"])].set_index([*_KEY, "model"])["log_pred"]
    long = [
        _scored(scored, ONLINE, scored["log_pred"], scored["lo"], scored["hi"]),
        _scored(scored, "drift", scored["drift_log_pred"], scored["drift_lo"], scored["drift_hi"]),
    ]
    for model in MODELS[1:]:
        pred = cand.xs(model, level="model").reindex(key).to_numpy() if model in set(
            points["model"]
        ) else np.full(len(scored), np.nan)
        long.append(_scored(scored, model, pred, None, None))
    errors = pd.concat(long, ignore_index=True).dropna(subset=["pred_twh"])
    errors = errors.merge(
        errors.loc[errors["model"] == "drift", [*_KEY, "abs_err"]].rename(
            columns={"abs_err": "drift_abs_err"}
        ),
        on=_KEY,
    )
    errors["origin"] = errors["region_id"].astype(str) + "|" + errors["origin_year"].astype(str)
    pooled = pd.concat([errors, errors.assign(region_id="ALL")], ignore_index=True)
    pooled = pd.concat([pooled, pooled.assign(h=0)], ignore_index=True)
    table = _metrics(pooled)
    final = online_weights(points, horizon).iloc[-1].to_dict()  # today's forecast
    table["weight"] = table["model"].map(final).astype(float)
    table["selected"] = table["model"] == ONLINE
    order = {m: i for i, m in enumerate([ONLINE, *MODELS])}
    table = table.sort_values(
        ["region_id", "h", "model"], key=lambda s: s.map(order) if s.name == "model" else s
    )
    return table[BACKTEST_COLUMNS].reset_index(drop=True).astype(
        {"h": "int64", "n_origins": "int64", "n_points": "int64", "selected": "bool"}
    )


def _scored(
    frame: pd.DataFrame, model: str, log_pred, lo, hi  # noqa: ANN001 - arrays or Series
) -> pd.DataFrame:
    actual = np.exp(frame["log_actual"].to_numpy(dtype=float))
    pred = np.exp(np.asarray(log_pred, dtype=float))
    if lo is None:
        covered = np.full(len(frame), np.nan)
    else:
        lo, hi, la = (np.asarray(v, dtype=float) for v in (lo, hi, frame["log_actual"]))
        known = np.isfinite(lo) & np.isfinite(hi)
        covered = np.where(known, ((la >= lo) & (la <= hi)).astype(float), np.nan)
    return pd.DataFrame(
        {
            "region_id": frame["region_id"].to_numpy(),
            "origin_year": frame["origin_year"].to_numpy(),
            "h": frame["h"].to_numpy(),
            "model": model,
            "pred_twh": pred,
            "actual_twh": actual,
            "abs_err": np.abs(pred - actual),
            "covered": covered,
        }
    )


def _metrics(err: pd.DataFrame) -> pd.DataFrame:
    """Counts, MAPE, MASE against drift and coverage per region, model and horizon.

    ``err`` carries ``origin`` (region and origin year), so pooled rows count
    province-years.

    The same formulas as scikit-learn's ``mean_absolute_percentage_error`` and
    ``mean_absolute_error`` (the tests check them against it), grouped in one pass.
    """
    frame = err.assign(ape=err["abs_err"] / err["actual_twh"].abs())
    grp = frame.groupby(["region_id", "model", "h"], sort=True)
    out = grp.agg(
        n_origins=("origin", "nunique"),
        n_points=("abs_err", "size"),
        mape=("ape", "mean"),
        mae=("abs_err", "mean"),
        drift_mae=("drift_abs_err", "mean"),
        coverage80=("covered", "mean"),
    ).reset_index()
    out["mase_vs_drift"] = out["mae"] / out["drift_mae"].where(out["drift_mae"] > 0)
    return out
