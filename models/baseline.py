"""Regional baseline demand: annual electricity use per region, forecast with an 80% interval.

The baseline is everything but the change in compute load. Each region's annual series
is forecast by a few candidate models, every one of them refitted at every rolling origin
of a backtest; how the candidates are combined, and how wide the interval is, is decided
online (``models.baseline_online``): at each origin only from errors already observed.

This module does the fitting; it is the costly part and depends only on the history and
the statistical breaks, so the pipeline caches its output (:class:`BaselinePaths`).

1. **Scale.** Models work on ``log(consumption_twh)``: errors in logs are relative errors.
2. **Statistical breaks.** For a region with a break year ``b`` (first year of a new
   statistical scope) the years before ``b`` are shifted in logs so the growth into ``b``
   equals the mean growth of the (up to) two years either side of it; what is left of the
   jump is taken as the scope change. Levels from ``b`` on, and so the forecast's starting
   point, are unchanged; observed years in the output keep the original values.
3. **Candidates** (``MODELS``):

   * ``drift``: random walk with drift in logs (constant growth rate), closed form;
   * ``drift_linear``: random walk with drift in levels (constant TWh increment);
   * ``drift_shrunk``: drift in logs whose growth is shrunk toward the national growth by
     an empirical-Bayes weight (pooled across regions, only years up to the origin);
   * ``ets_damped``: statsmodels ``ETSModel`` (additive error, damped additive trend);
   * ``theta``: statsmodels ``ThetaModel`` (no seasonality);
   * ``ar_growth``: statsmodels ``AutoReg`` AR(1) with a constant on annual log growth,
     i.e. ARIMA(1,1,0) with drift estimated by conditional least squares; an explosive
     fit (``|phi| >= 1``) falls back to the drift path.

4. **Backtest.** Origins: every training length from ``min_points`` to ``n - 1`` (the
   window always starts at the region's first year); horizons ``1..horizon_backtest``
   where the target is observed; plus the full history (the forecast origin) to ``h_max``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "METHOD_VERSION",
    "MODELS",
    "BaselinePaths",
    "BaselineResult",
    "backtest_paths",
    "break_adjusted_log",
    "forecast_baseline",
    "validated_series",
]

METHOD_VERSION = "baseline-2026.12-online-1"
"""Changes whenever the fitted paths would change: part of the cache key."""

MODELS: tuple[str, ...] = (
    "drift",
    "drift_linear",
    "drift_shrunk",
    "ets_damped",
    "theta",
    "ar_growth",
)
"""Candidate models, the benchmark first."""

FITTED_MODELS: tuple[str, ...] = ("ets_damped", "theta", "ar_growth")
"""Candidates fitted by statsmodels (the costly ones)."""

PATH_COLUMNS = [
    "region_id", "model", "origin_year", "n_train", "h", "log_pred", "log_actual", "sigma"
]


@dataclass(frozen=True)
class BaselinePaths:
    """Every candidate's log forecast at every backtest origin and at the forecast origin.

    Attributes:
        points: one row per region, model, origin and horizon: ``region_id``, ``model``,
            ``origin_year`` (last training year), ``n_train`` (training years), ``h``
            (years ahead), ``log_pred`` (log
            TWh), ``log_actual`` (break-adjusted log TWh; NaN where not observed),
            ``sigma`` (sd of annual log growth of the training window; NaN below 3 points).
        min_points: shortest training window; regions with fewer points only have drift.
        horizon_backtest: largest backtest horizon (years).
    """

    points: pd.DataFrame
    min_points: int
    horizon_backtest: int


@dataclass(frozen=True)
class BaselineResult:
    """Baseline forecast and its online backtest.

    Attributes:
        forecast: one row per region and year, ``base_year..end_year``: ``region_id``,
            ``year``, ``baseline_twh`` (TWh), ``baseline_lo80_twh`` and
            ``baseline_hi80_twh`` (10% and 90% quantiles, TWh; equal to the value in
            observed years), ``model`` (``"online"`` for the weighted combination, ``drift``
            for a short region, ``"observed"``).
        backtest: see :func:`models.baseline_online.backtest_table`.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame


def forecast_baseline(
    history: pd.DataFrame,
    base_year: int,
    end_year: int,
    *,
    breaks: Mapping[str, int] | None = None,
    min_points: int = 8,
    horizon_backtest: int = 5,
    paths: BaselinePaths | None = None,
) -> BaselineResult:
    """Forecast each region's annual electricity use to ``end_year`` with an 80% interval.

    Args:
        history: columns ``region_id``, ``year`` (int), ``consumption_twh`` (TWh, > 0);
            consecutive years per region.
        base_year: first output year.
        end_year: last output year (inclusive).
        breaks: region_id -> first year of a new statistical scope (see module notes).
        min_points: regions with fewer observations are forecast by drift only; also the
            shortest training window in the backtest.
        horizon_backtest: backtest horizons ``1..horizon_backtest`` (years).
        paths: the output of :func:`backtest_paths` for the same arguments (from a cache);
            computed here when None.

    Returns:
        BaselineResult with the forecast and the online backtest.

    Raises:
        ValueError: missing columns, non-positive or missing values, duplicate or
            non-consecutive years, fewer than 2 observations, or ``base_year`` before a
            region's first observation or after ``end_year``.

    Example:
        >>> hist = pd.DataFrame({"region_id": "R", "year": range(2010, 2020),
        ...                      "consumption_twh": [100 * 1.05**i for i in range(10)]})
        >>> res = forecast_baseline(hist, 2019, 2021)
        >>> res.forecast["baseline_twh"].round(2).tolist()
        [155.13, 162.89, 171.03]
    """
    from models.baseline_online import backtest_table, final_forecast, online_points

    series = validated_series(history, base_year, end_year)
    if paths is None:
        paths = backtest_paths(
            history,
            required_horizon(history, end_year, horizon_backtest),
            breaks=breaks,
            min_points=min_points,
            horizon_backtest=horizon_backtest,
        )
    online = online_points(paths.points, horizon_backtest)
    forecast = final_forecast(paths.points, online, series, base_year, end_year)
    return BaselineResult(forecast=forecast, backtest=backtest_table(paths.points, online, horizon_backtest))


def required_horizon(history: pd.DataFrame, end_year: int, horizon_backtest: int = 5) -> int:
    """Years ahead the forecast origin must reach: to ``end_year`` from each region's last year."""
    last = history.groupby("region_id")["year"].max()
    return int(max(horizon_backtest, end_year - int(last.min()), 1))


# --- input -----------------------------------------------------------------------------


def validated_series(
    history: pd.DataFrame, base_year: int | None = None, end_year: int | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per region: (years, consumption_twh) sorted by year, after checking the contract."""
    missing = {"region_id", "year", "consumption_twh"} - set(history.columns)
    if missing:
        raise ValueError(f"history: missing columns {sorted(missing)}")
    if base_year is not None and end_year is not None and end_year < base_year:
        raise ValueError(f"end_year {end_year} is before base_year {base_year}")
    frame = history[["region_id", "year", "consumption_twh"]].sort_values(["region_id", "year"])
    values = frame["consumption_twh"].to_numpy(dtype=float)
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError("history: consumption_twh must be finite and > 0 (TWh)")
    out = {}
    for rid, grp in frame.groupby("region_id", sort=True):
        years = grp["year"].to_numpy(dtype=np.int64)
        if len(years) < 2 or np.any(np.diff(years) != 1):
            raise ValueError(
                f"history: region {rid} needs at least 2 consecutive years without duplicates"
            )
        if base_year is not None and base_year < years[0]:
            raise ValueError(f"base_year {base_year} is before region {rid}'s first year")
        out[str(rid)] = (years, grp["consumption_twh"].to_numpy(dtype=float))
    return out


def break_adjusted_log(years: np.ndarray, log_y: np.ndarray, break_year: int | None) -> np.ndarray:
    """Log series with pre-break years shifted so the growth into the break year is typical.

    Example:
        >>> a = np.log([100.0, 110.0, 121.0, 169.4, 186.3])  # +40% scope jump in year 3
        >>> np.round(np.exp(break_adjusted_log(np.arange(5), a, 3)), 1).tolist()
        [127.3, 140.0, 154.0, 169.4, 186.3]
    """
    if break_year is None or break_year <= years[0] or break_year > years[-1]:
        return log_y
    b = int(break_year - years[0])  # index of the break year; growth[b-1] spans the break
    growth = np.diff(log_y)
    neighbours = np.r_[growth[max(b - 3, 0) : b - 1], growth[b : b + 2]]
    if neighbours.size == 0:
        return log_y
    adjusted = log_y.copy()
    adjusted[:b] += growth[b - 1] - neighbours.mean()
    return adjusted


# --- fits ------------------------------------------------------------------------------


def backtest_paths(
    history: pd.DataFrame,
    h_max: int,
    *,
    breaks: Mapping[str, int] | None = None,
    min_points: int = 8,
    horizon_backtest: int = 5,
) -> BaselinePaths:
    """Fit every candidate at every rolling origin and at the forecast origin (the costly step).

    Args:
        history: see :func:`forecast_baseline`.
        h_max: horizon of the forecast origin's paths (years after each region's last year).
        breaks: region_id -> break year.
        min_points: shortest training window.
        horizon_backtest: backtest horizons.

    Returns:
        BaselinePaths (see its docstring).
    """
    series = validated_series(history)
    breaks = dict(breaks or {})
    adjusted = {
        rid: (years, break_adjusted_log(years, np.log(values), breaks.get(rid)))
        for rid, (years, values) in series.items()
    }
    shrunk = shrunk_growth(adjusted)
    frames = [
        _region_paths(rid, years, a, shrunk[rid], min_points, horizon_backtest, h_max)
        for rid, (years, a) in adjusted.items()
    ]
    points = pd.concat(frames, ignore_index=True)[PATH_COLUMNS]
    points = points.astype({"origin_year": "int64", "n_train": "int64", "h": "int64"})
    return BaselinePaths(points=points, min_points=min_points, horizon_backtest=horizon_backtest)


def _region_paths(
    rid: str,
    years: np.ndarray,
    a: np.ndarray,
    shrunk: np.ndarray,
    min_points: int,
    horizon: int,
    h_max: int,
) -> pd.DataFrame:
    """All candidates' log paths for one region, at every origin (long frame)."""
    n = len(a)
    drift_only = n < min_points
    lengths = [n] if drift_only else list(range(max(min_points, 3), n + 1))
    rows = []
    for length in lengths:
        steps = max(h_max, horizon) if length == n else horizon
        h = np.arange(1, steps + 1)
        train = a[:length]
        preds = {"drift": drift_path(train, h)}
        if not drift_only:
            preds["drift_linear"] = drift_linear_path(train, h)
            preds["drift_shrunk"] = train[-1] + shrunk[length - 1] * h
            preds.update(_fitted_paths(train, int(years[0]), steps))
        target = length - 1 + h
        actual = np.where(target < n, a[np.minimum(target, n - 1)], np.nan)
        sig = window_sigma(train)
        for model, pred in preds.items():
            rows.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "origin_year": int(years[length - 1]),
                        "n_train": length,
                        "h": h,
                        "log_pred": pred,
                        "log_actual": actual,
                        "sigma": sig,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True).assign(region_id=rid)


def drift_path(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Random walk with drift in logs: ``a[-1] + h * (a[-1] - a[0]) / (n - 1)``."""
    return a[-1] + h * (a[-1] - a[0]) / (len(a) - 1)


def drift_linear_path(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Random walk with drift in levels (constant TWh increment), returned in logs."""
    y = np.exp(a)
    path = y[-1] + h * (y[-1] - y[0]) / (len(y) - 1)
    return np.log(np.maximum(path, 1e-6 * y[-1]))


def window_sigma(a: np.ndarray) -> float:
    """Standard deviation (ddof=1) of the annual log growth of a window; NaN below 3 points."""
    return float(np.std(np.diff(a), ddof=1)) if len(a) >= 3 else float("nan")


def _annual(a: np.ndarray, first_year: int) -> pd.Series:
    # an explicit annual PeriodIndex: statsmodels warns on an index without frequency
    return pd.Series(a, index=pd.period_range(str(first_year), periods=len(a), freq="Y"))


def _fitted_paths(a: np.ndarray, first_year: int, steps: int) -> dict[str, np.ndarray]:
    """ETS(A,Ad,N), Theta and AR(1)-on-growth log forecasts ``1..steps`` years ahead."""
    growth_sd = np.std(np.diff(a))
    if growth_sd < 1e-12 * max(1.0, float(np.abs(np.diff(a)).max(initial=0.0))):
        # constant growth: a straight line in logs, which every candidate continues
        # (statsmodels' AR design matrix is singular on it)
        line = drift_path(a, np.arange(1, steps + 1))
        return dict.fromkeys(FITTED_MODELS, line)
    # statsmodels (with scipy.stats and polars behind it) takes ~1.3 s to import: a run whose
    # fits all come from the warehouse's cache never pays it
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, SingularMatrixWarning
    from statsmodels.tsa.ar_model import AutoReg
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = _annual(a, first_year)
    # Short annual series often stop the optimiser at its iteration limit, and a window
    # whose lagged growth is constant (a jump only in its last year) makes AutoReg's design
    # rank-deficient (it then takes the minimum-norm solution). The fits are still the
    # best found, and the online weights judge them by their errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SingularMatrixWarning)
        ets = ETSModel(y, error="add", trend="add", damped_trend=True).fit(disp=False)
        theta = ThetaModel(y, period=1, deseasonalize=False).fit()
        ar = AutoReg(y.diff().iloc[1:], lags=1, trend="c").fit()
    if abs(float(ar.params.iloc[1])) >= 1.0:
        ar_path = drift_path(a, np.arange(1, steps + 1))
    else:
        ar_path = a[-1] + np.cumsum(np.asarray(ar.forecast(steps), dtype=float))
    return {
        "ets_damped": np.asarray(ets.forecast(steps), dtype=float),
        "theta": np.asarray(theta.forecast(steps), dtype=float),
        "ar_growth": ar_path,
    }


def shrunk_growth(panel: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each region's mean log growth shrunk toward the national one, for every window.

    At each year t and for each region observed since its first year y0: own mean growth
    ``m`` over (y0, t], the national growth (log growth of the summed TWh of the regions
    observed in both years) averaged over the same years ``m_nat``, and the sampling
    variance of ``m``, ``s2 = var(growth) / count``. The spread of ``m - m_nat`` across
    regions less the mean ``s2`` estimates the between-region variance ``tau2`` (floored
    at 0), and ``m_nat + tau2 / (tau2 + s2) * (m - m_nat)`` is the shrunk growth
    (empirical Bayes / James-Stein). Only years up to t are used.

    Args:
        panel: region -> (years, break-adjusted log consumption).

    Returns:
        region -> array (n,): element ``length - 1`` is the shrunk growth of the window of
        the first ``length`` years; NaN for length 1.
    """
    ids = list(panel)
    first = min(int(y[0]) for y, _ in panel.values())
    n_years = max(int(y[-1]) for y, _ in panel.values()) - first + 1
    wide = np.full((len(ids), n_years), np.nan)
    for i, rid in enumerate(ids):
        years, a = panel[rid]
        wide[i, years - first] = a
    both = np.isfinite(wide[:, 1:]) & np.isfinite(wide[:, :-1])
    growth = np.where(both, np.diff(np.nan_to_num(wide), axis=1), 0.0)
    level = np.exp(np.nan_to_num(wide, nan=-np.inf))
    national = np.log(
        np.where(both, level[:, 1:], 0).sum(axis=0)
        / np.where(both, level[:, :-1], 1e-300).sum(axis=0)
    )
    count = np.cumsum(both, axis=1)
    safe = np.maximum(count, 1)
    mean = np.cumsum(growth, axis=1) / safe
    relative = mean - np.cumsum(np.where(both, national, 0.0), axis=1) / safe
    s2 = np.maximum(np.cumsum(growth**2, axis=1) - count * mean**2, 0) / np.maximum(
        count * (count - 1), 1
    )
    valid = both & (count >= 2)
    k = valid.sum(axis=0)
    centre = np.where(valid, relative, 0).sum(axis=0) / np.maximum(k, 1)
    spread = np.where(valid, (relative - centre) ** 2, 0).sum(axis=0) / np.maximum(k - 1, 1)
    tau2 = np.maximum(spread - np.where(valid, s2, 0).sum(axis=0) / np.maximum(k, 1), 0)
    weight = np.where((k >= 2) & (s2 > 0) & (count >= 2), tau2 / np.maximum(tau2 + s2, 1e-300), 1.0)
    shrunk = mean - (1 - weight) * relative
    out = {}
    for i, rid in enumerate(ids):
        years, _ = panel[rid]
        out[rid] = np.r_[np.nan, shrunk[i, years[1:] - first - 1]]
    return out
