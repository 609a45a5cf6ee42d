"""Regional baseline demand: annual electricity use per region, forecast with an 80% interval.

The baseline is everything but the change in compute load (MODEL.md section 3). Each
region's annual series is forecast by a small set of statsmodels models; the model is chosen
per region by a rolling-origin backtest on the region's own history, with the random walk
with drift as the benchmark every other model must beat by a margin.

Method, in order:

1. **Scale.** All models work on ``log(consumption_twh)``: annual demand grows roughly
   geometrically, and errors in logs are relative errors. ``drift`` is therefore a random
   walk with drift in logs (a constant growth rate). ``drift_linear`` is the same in levels.
2. **Statistical breaks.** For a region with a break year ``b`` (first year of a new
   statistical scope) the pre-break years are shifted in logs so the break year's growth
   equals the mean growth of the (up to) two years either side of it; the jump that is left
   is taken as the scope change and removed (levels before ``b`` are multiplied by one
   ratio). Post-break observations, and so the forecast's starting level, are unchanged.
   Observed years in the output keep the original values.
3. **Backtest.** Origins: every training length ``L`` from ``min_points`` to ``n - 1``;
   horizons ``1..horizon_backtest`` where the target is observed.
4. **Selection.** Pooled across regions: the model with the lowest pooled MASE against
   drift (sum of absolute errors in TWh over all regions' backtest points, divided by
   drift's), provided it is below ``1 - SELECTION_MARGIN``; otherwise drift. Every region
   with at least ``min_points`` observations uses that model. Choosing per region on its
   own ~40 held-out points was tried on the 31 provinces and lost to drift when
   re-evaluated honestly (online MASE ~1.14): the per-region winner is mostly noise.
5. **Intervals.** Empirically calibrated: backtest log errors are divided by the
   training window's standard deviation of annual log growth (``sigma``), pooled across
   regions per model and horizon, and their 10% and 90% quantiles ``q`` give
   ``forecast * exp(q * sigma)``. Beyond the largest horizon ``H`` with at least 10 such
   errors the quantiles grow as ``q_H * sqrt(h / H)``; with none, the random walk with
   drift's normal interval is used. Held-out coverage is measured with the region's own errors left
   out of the pool (leave-one-region-out).

Reported figures: per region and model, and for ``region_id = "ALL"`` pooled over regions
(MASE as the ratio of pooled absolute errors, so large provinces weigh more). The ALL row
``selected`` pools each region's chosen model and is optimistic (the choice saw those
errors); ``selected_online`` re-applies the selection rule at each origin year using only
errors whose target year had been observed by then (drift at the first origin), which is
the honest figure for the procedure.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error
from statsmodels.tools.sm_exceptions import ConvergenceWarning, SingularMatrixWarning
from statsmodels.tsa.ar_model import AutoReg
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.forecasting.theta import ThetaModel

__all__ = ["MODELS", "SELECTION_MARGIN", "BaselineResult", "forecast_baseline"]

MODELS: tuple[str, ...] = (
    "drift",
    "drift_linear",
    "ets_damped",
    "theta",
    "arima_drift",
    "combo_drift_ets_theta",
    "combo_drifts",
)
"""Candidate models, benchmark first (ties go to the earlier model)."""

SELECTION_MARGIN = 0.05
"""A model replaces drift only if its backtest MASE against drift is below 1 - margin."""

_MIN_CALIBRATION_POINTS = 10  # backtest errors needed to take quantiles at one horizon
_Z80 = 1.2815515655446004  # standard normal 90% quantile, for the no-backtest fallback
_FORECAST_COLUMNS = [
    "region_id",
    "year",
    "baseline_twh",
    "baseline_lo80_twh",
    "baseline_hi80_twh",
    "model",
]
_BACKTEST_COLUMNS = [
    "region_id",
    "model",
    "n_origins",
    "mape",
    "mase_vs_drift",
    "coverage80",
    "selected",
]


@dataclass(frozen=True)
class BaselineResult:
    """Baseline forecast and its backtest.

    Attributes:
        forecast: one row per region and year, ``base_year..end_year``: ``region_id``,
            ``year``, ``baseline_twh`` (TWh), ``baseline_lo80_twh`` and
            ``baseline_hi80_twh`` (10% and 90% quantiles, TWh; equal to the value in
            observed years), ``model`` (the model used, or ``"observed"``).
        backtest: one row per region and candidate model, plus ``region_id = "ALL"`` rows:
            ``n_origins`` (forecast origins), ``mape`` (fraction, not %),
            ``mase_vs_drift`` (model MAE / drift MAE on the same points; < 1 beats drift),
            ``coverage80`` (share of held-out points inside the 80% interval),
            ``selected`` (the model used for the region's forecast).
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
) -> BaselineResult:
    """Forecast each region's annual electricity use to ``end_year`` with an 80% interval.

    Args:
        history: columns ``region_id``, ``year`` (int), ``consumption_twh`` (annual
            regional electricity use, TWh, > 0); consecutive years per region.
        base_year: first output year.
        end_year: last output year (inclusive).
        breaks: region_id -> first year of a new statistical scope (see module notes).
        min_points: regions with fewer observations are forecast by drift only; also the
            shortest training window in the backtest.
        horizon_backtest: backtest horizons ``1..horizon_backtest`` (years).

    Returns:
        BaselineResult with the forecast and backtest frames (see its docstring).

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
    series = _validated_series(history, base_year, end_year)
    breaks = dict(breaks or {})
    h_max = max(horizon_backtest, end_year - max(int(y[-1]) for y, _ in series.values()))
    fits = {
        rid: _fit_region(years, values, breaks.get(rid), min_points, horizon_backtest, h_max)
        for rid, (years, values) in series.items()
    }
    errors = _error_table(fits)
    quantiles = _pooled_quantiles(errors, horizon_backtest)
    errors = _with_loo_intervals(errors, horizon_backtest)
    chosen = _select(errors, fits)
    backtest = _backtest_table(errors, chosen, fits)
    forecast = pd.concat(
        [
            _region_forecast(rid, fit, chosen.get(rid, "drift"), quantiles, base_year, end_year)
            for rid, fit in fits.items()
        ],
        ignore_index=True,
    )
    return BaselineResult(forecast=forecast[_FORECAST_COLUMNS], backtest=backtest)


# --- input -----------------------------------------------------------------------------


def _validated_series(
    history: pd.DataFrame, base_year: int, end_year: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per region: (years, consumption_twh) sorted by year, after checking the contract."""
    missing = {"region_id", "year", "consumption_twh"} - set(history.columns)
    if missing:
        raise ValueError(f"history: missing columns {sorted(missing)}")
    if end_year < base_year:
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
        if base_year < years[0]:
            raise ValueError(f"base_year {base_year} is before region {rid}'s first year")
        out[str(rid)] = (years, grp["consumption_twh"].to_numpy(dtype=float))
    return out


def _break_adjusted_log(years: np.ndarray, log_y: np.ndarray, break_year: int | None) -> np.ndarray:
    """Log series with pre-break years shifted so the break-year growth is typical."""
    if break_year is None or break_year <= years[0] or break_year > years[-1]:
        return log_y
    b = int(break_year - years[0])  # index of the break year; growth g[b-1] spans the break
    growth = np.diff(log_y)
    neighbours = np.r_[growth[max(b - 3, 0) : b - 1], growth[b : b + 2]]
    if neighbours.size == 0:
        return log_y
    shift = growth[b - 1] - neighbours.mean()
    adjusted = log_y.copy()
    adjusted[:b] += shift
    return adjusted


# --- models ----------------------------------------------------------------------------


def _log_paths(a: np.ndarray, horizon: int, drift_only: bool) -> np.ndarray:
    """Log forecasts, shape (len(MODELS), horizon); NaN rows for models not fitted.

    Args:
        a: log consumption, training window (at least 2 points).
        horizon: steps ahead (years).
        drift_only: fit drift alone (short series).
    """
    h = np.arange(1, horizon + 1)
    out = np.full((len(MODELS), horizon), np.nan)
    drift = a[-1] + h * (a[-1] - a[0]) / (len(a) - 1)
    out[0] = drift
    if drift_only:
        return out
    level = np.exp(a)
    linear = level[-1] + h * (level[-1] - level[0]) / (len(a) - 1)
    out[1] = np.log(np.maximum(linear, 1e-6 * level[-1]))
    out[2] = _ets_damped(a, horizon)
    out[3] = _theta(a, horizon)
    out[4] = _arima_drift(a, horizon, drift)
    out[5] = np.mean(out[[0, 2, 3]], axis=0)
    out[6] = np.mean(out[[0, 1]], axis=0)
    return out


def _ets_damped(a: np.ndarray, horizon: int) -> np.ndarray:
    """ETS(A,Ad,N) by maximum likelihood (statsmodels ETSModel); NaN if the fit fails."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # Short annual series: the optimiser may stop early; its best point is still usable
        # and the backtest judges it. Exact (noise-free) series give log(0) likelihoods.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            res = ETSModel(a, error="add", trend="add", damped_trend=True).fit(disp=False)
            return np.asarray(res.forecast(horizon), dtype=float)
        except (ValueError, np.linalg.LinAlgError):
            return np.full(horizon, np.nan)


def _theta(a: np.ndarray, horizon: int) -> np.ndarray:
    """Theta method (statsmodels ThetaModel, no seasonality); NaN if the fit fails."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            res = ThetaModel(a, period=1, deseasonalize=False).fit()
            return np.asarray(res.forecast(horizon), dtype=float)
        except (ValueError, np.linalg.LinAlgError):
            return np.full(horizon, np.nan)


def _arima_drift(a: np.ndarray, horizon: int, drift: np.ndarray) -> np.ndarray:
    """ARIMA(1,1,0) with drift, by conditional least squares (AutoReg on the differences).

    AutoReg is the exact CLS form of this ARIMA and ~20x faster than the state-space ARIMA,
    which matters for the ~300 backtest fits. A non-stationary AR root on the growth
    rates would explode over decades, so then the drift path is returned instead.
    """
    d = np.diff(a)
    if d.size < 4 or np.ptp(d) <= 1e-9:  # constant growth: the AR term is not identified
        return drift.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularMatrixWarning)
        try:
            res = AutoReg(d, lags=1, trend="c").fit()
        except SingularMatrixWarning:  # near-constant growth, as above
            return drift.copy()
    if abs(res.params[1]) >= 0.98:
        return drift.copy()
    return a[-1] + np.cumsum(np.asarray(res.forecast(horizon), dtype=float))


def _sigma(a: np.ndarray) -> float:
    """Standard deviation of annual log growth (ddof=1); NaN with fewer than 3 points."""
    return float(np.std(np.diff(a), ddof=1)) if len(a) >= 3 else np.nan


# --- backtest --------------------------------------------------------------------------


@dataclass(frozen=True)
class _RegionFit:
    years: np.ndarray  # observed years
    values: np.ndarray  # observed consumption, TWh (unadjusted)
    final_paths: np.ndarray  # (models, h_max) log forecasts from the full history
    sigma: float  # sd of annual log growth, full (break-adjusted) history
    errors: pd.DataFrame  # long backtest table for this region
    drift_only: bool


def _fit_region(
    years: np.ndarray,
    values: np.ndarray,
    break_year: int | None,
    min_points: int,
    horizon: int,
    h_max: int,
) -> _RegionFit:
    """Backtest all models on one region and fit them on its full history."""
    a = _break_adjusted_log(years, np.log(values), break_year)
    n = len(a)
    drift_only = n < min_points
    frames = []
    for length in range(max(min_points, 2), n) if not drift_only else ():
        steps = min(horizon, n - length)
        paths = _log_paths(a[:length], steps, drift_only=False)
        target = a[length : length + steps]
        frames.append(
            pd.DataFrame(
                {
                    "origin_length": length,
                    "origin_year": int(years[length - 1]),
                    "target_year": np.tile(years[length : length + steps], len(MODELS)),
                    "target_index": np.tile(np.arange(length, length + steps), len(MODELS)),
                    "h": np.tile(np.arange(1, steps + 1), len(MODELS)),
                    "model": np.repeat(MODELS, steps),
                    "log_pred": paths.ravel(),
                    "log_actual": np.tile(target, len(MODELS)),
                    "sigma": _sigma(a[:length]),
                }
            )
        )
    errors = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return _RegionFit(
        years=years,
        values=values,
        final_paths=_log_paths(a, h_max, drift_only),
        sigma=_sigma(a),
        errors=errors,
        drift_only=drift_only,
    )


def _error_table(fits: Mapping[str, _RegionFit]) -> pd.DataFrame:
    """All regions' backtest points, long: one row per region, origin, horizon and model.

    Errors are on the break-adjusted scale, so a scope change is not counted as an error.
    """
    frames = [fit.errors.assign(region_id=rid) for rid, fit in fits.items() if len(fit.errors)]
    if not frames:
        return pd.DataFrame(
            columns=[
                "region_id",
                "origin_length",
                "target_index",
                "h",
                "model",
                "pred_twh",
                "actual_twh",
                "z",
                "drift_abs_err",
            ]
        )
    err = pd.concat(frames, ignore_index=True).dropna(subset=["log_pred"])
    err = err.assign(
        pred_twh=np.exp(err["log_pred"]),
        actual_twh=np.exp(err["log_actual"]),
        z=_standardised(err["log_actual"] - err["log_pred"], err["sigma"]),
    )
    err["abs_err"] = (err["pred_twh"] - err["actual_twh"]).abs()
    key = ["region_id", "origin_length", "h"]
    drift = err.loc[err["model"] == "drift", [*key, "abs_err"]].rename(
        columns={"abs_err": "drift_abs_err"}
    )
    return err.merge(drift, on=key, how="left")


def _standardised(log_err: pd.Series, sigma: pd.Series) -> np.ndarray:
    """Log errors in units of sigma; NaN where sigma is 0 or unknown (exact series)."""
    e, s = log_err.to_numpy(dtype=float), sigma.to_numpy(dtype=float)
    ok = np.isfinite(s) & (s > 0)
    return np.divide(e, s, out=np.full(e.shape, np.nan), where=ok)


def _pooled_quantiles(errors: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """10% and 90% quantiles of standardised log errors per model and horizon (all regions)."""
    ok = errors[np.isfinite(errors["z"])] if len(errors) else errors
    if not len(ok):
        return pd.DataFrame(columns=["model", "h", "q10", "q90"])
    grp = ok.groupby(["model", "h"])["z"]
    q = pd.DataFrame(
        {"q10": grp.quantile(0.1), "q90": grp.quantile(0.9), "n": grp.size()}
    ).reset_index()
    return q[(q["h"] <= horizon) & (q["n"] >= _MIN_CALIBRATION_POINTS)].drop(columns="n")


def _with_loo_intervals(errors: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Add each backtest point's 80% interval, calibrated without its own region's errors."""
    if not len(errors):
        return errors.assign(covered=pd.Series(dtype=bool))
    parts = []
    for rid in errors["region_id"].unique():
        own = errors["region_id"] == rid
        q = _pooled_quantiles(errors[~own], horizon)
        part = errors[own].merge(q, on=["model", "h"], how="left")
        pred, sig, actual = (
            part[c].to_numpy(dtype=float) for c in ("log_pred", "sigma", "log_actual")
        )
        lo = pred + part["q10"].to_numpy(dtype=float) * sig
        hi = pred + part["q90"].to_numpy(dtype=float) * sig
        known = np.isfinite(lo) & np.isfinite(hi)
        inside = np.zeros(len(part), dtype=bool)
        inside[known] = (actual[known] >= lo[known]) & (actual[known] <= hi[known])
        parts.append(part.assign(covered=np.where(known, inside.astype(float), np.nan)))
    return pd.concat(parts, ignore_index=True).drop(columns=["q10", "q90"])


# --- selection and reporting -----------------------------------------------------------


def _choose(err: pd.DataFrame) -> str:
    """The selection rule on a set of backtest points (all regions pooled, or a subset)."""
    if not len(err):
        return "drift"
    grp = err.groupby("model")
    mase = (grp["abs_err"].sum() / grp["drift_abs_err"].sum()).reindex(list(MODELS))
    best = mase.idxmin()  # first of equals, so drift wins ties
    if best != "drift" and mase[best] < 1 - SELECTION_MARGIN:
        return str(best)
    return "drift"


def _select(errors: pd.DataFrame, fits: Mapping[str, _RegionFit]) -> dict[str, str]:
    """Per region, the model used: the pooled choice, or drift for short regions."""
    model = _choose(errors)
    return {rid: "drift" if fit.drift_only else model for rid, fit in fits.items()}


def _online_selected(errors: pd.DataFrame) -> pd.DataFrame:
    """Backtest points of the model the rule would have chosen at each origin.

    At an origin (last training year t) only points whose target year is <= t are known.
    """
    picks = []
    for origin_year, at_origin in errors.groupby("origin_year"):
        model = _choose(errors[errors["target_year"] <= origin_year])
        picks.append(at_origin[at_origin["model"] == model])
    return pd.concat(picks, ignore_index=True)


def _metrics(err: pd.DataFrame) -> dict[str, float]:
    """MAPE, MASE against drift and interval coverage of a set of backtest points."""
    if not len(err):
        return {"n_origins": 0, "mape": np.nan, "mase_vs_drift": np.nan, "coverage80": np.nan}
    y, p = err["actual_twh"].to_numpy(), err["pred_twh"].to_numpy()
    drift_mae = err["drift_abs_err"].mean()
    covered = err["covered"].dropna()
    return {
        "n_origins": int(err[["region_id", "origin_length"]].drop_duplicates().shape[0]),
        "mape": float(mean_absolute_percentage_error(y, p)),
        "mase_vs_drift": float(mean_absolute_error(y, p) / drift_mae) if drift_mae > 0 else np.nan,
        "coverage80": float(covered.astype(float).mean()) if len(covered) else np.nan,
    }


def _backtest_table(
    errors: pd.DataFrame, chosen: Mapping[str, str], fits: Mapping[str, _RegionFit]
) -> pd.DataFrame:
    """Per-region-and-model and pooled ("ALL") backtest figures."""
    rows = []
    for rid, fit in fits.items():
        own = errors[errors["region_id"] == rid] if len(errors) else errors
        models = ("drift",) if fit.drift_only or not len(own) else MODELS
        for model in models:
            pts = own[own["model"] == model] if len(own) else own
            rows.append(
                {
                    "region_id": rid,
                    "model": model,
                    **_metrics(pts),
                    "selected": model == chosen.get(rid, "drift"),
                }
            )
    if len(errors):
        for model in MODELS:
            rows.append(
                {
                    "region_id": "ALL",
                    "model": model,
                    **_metrics(errors[errors["model"] == model]),
                    "selected": False,
                }
            )
        picked = errors[errors["model"] == errors["region_id"].map(chosen)]
        rows.append({"region_id": "ALL", "model": "selected", **_metrics(picked), "selected": True})
        rows.append(
            {
                "region_id": "ALL",
                "model": "selected_online",
                **_metrics(_online_selected(errors)),
                "selected": False,
            }
        )
    table = pd.DataFrame(rows, columns=_BACKTEST_COLUMNS)
    return table.astype({"n_origins": "int64", "selected": "bool"})


# --- forecast --------------------------------------------------------------------------


def _region_forecast(
    rid: str,
    fit: _RegionFit,
    model: str,
    quantiles: pd.DataFrame,
    base_year: int,
    end_year: int,
) -> pd.DataFrame:
    """Observed values, then the chosen model's forecast with its calibrated interval."""
    years = np.arange(base_year, end_year + 1)
    observed = years <= fit.years[-1]
    h = years[~observed] - fit.years[-1]
    log_pred = fit.final_paths[MODELS.index(model), h - 1] if h.size else np.empty(0)
    q10, q90 = _interval_quantiles(quantiles, model, h, len(fit.years))
    value = np.empty(len(years))
    lo, hi = np.empty(len(years)), np.empty(len(years))
    value[observed] = fit.values[years[observed] - fit.years[0]]
    lo[observed] = hi[observed] = value[observed]
    value[~observed] = np.exp(log_pred)
    lo[~observed] = np.exp(log_pred + q10 * fit.sigma)
    hi[~observed] = np.exp(log_pred + q90 * fit.sigma)
    return pd.DataFrame(
        {
            "region_id": rid,
            "year": years.astype(np.int64),
            "baseline_twh": value,
            "baseline_lo80_twh": lo,
            "baseline_hi80_twh": hi,
            "model": np.where(observed, "observed", model),
        }
    )


def _interval_quantiles(
    quantiles: pd.DataFrame, model: str, h: np.ndarray, n_obs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised 10%/90% error quantiles for horizons h (years ahead).

    Backtest quantiles up to the largest horizon H with at least _MIN_CALIBRATION_POINTS
    errors, scaled by sqrt(h/H) beyond.
    With no backtest for the model: the random walk with drift's normal interval.
    """
    q = quantiles[quantiles["model"] == model].set_index("h").sort_index()
    if not len(q):
        half = _Z80 * np.sqrt(h * (1 + h / max(n_obs - 1, 1)))
        return -half, half
    top = int(q.index.max())
    idx = np.minimum(h, top)
    scale = np.sqrt(np.maximum(h, top) / top)
    q10 = q["q10"].reindex(idx).to_numpy() * scale
    q90 = q["q90"].reindex(idx).to_numpy() * scale
    return q10, q90
