"""A representative year of 8,760 hours: system load, compute load, flexible training, headroom.

Hour ``h = 0..8759`` (0 = 1 January 00:00-01:00), day ``d = h // 24``, hour of day
``h % 24``. Every function is vectorised over leading axes (regions, years); nothing
loops over hours or days.

* System load without compute ``B(h) = E * 1e6 * p(h) / sum(p)`` (MW) for a non-compute
  energy ``E`` (TWh) and an hourly profile ``p`` of which only the shape is used.
* Compute load ``L(h) = m(d) * sum_w avgMW_w * factor_w(h % 24)`` with a seasonal
  modulation ``m`` of mean 1 (``m = 1`` without one).
* Flexible training: the share ``s`` of each day's training energy is water-filled into
  the day's lowest hours of ``R = B + L - s T``.
* Curtailment-enabled headroom (Norris et al. 2025, "Rethinking Load Growth", Duke
  University): the largest constant new load ``dL`` whose curtailed energy
  ``sum_h max(0, S(h) + dL - max S)`` is at most ``x * dL * 8760``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DAYS",
    "HOURS",
    "LEAP_DAY_HOURS",
    "SEASON_PEAK_DAY",
    "compute_load_mw",
    "headroom_mw",
    "representative_year",
    "seasonal_modulation",
    "system_load_mw",
    "water_fill",
]

HOURS = 8760
DAYS = 365
_MWH_PER_TWH = 1e6
LEAP_DAY_HOURS = (1416, 1440)
"""Hours ``[1416, 1440)`` of a leap year are 29 February (31 + 28 days after 1 January)."""
SEASON_PEAK_DAY = 196
"""Day of the year (0 = 1 January) on which the seasonal modulation peaks: 16 July."""


def representative_year(profile: np.ndarray) -> np.ndarray:
    """An hourly profile as 8,760 hours: a leap year (8,784 hours) loses 29 February.

    Args:
        profile: (n_hours, ...) values by hour of the year, ``n_hours`` 8760 or 8784.

    Returns:
        (8760, ...) the same values (a new array), hours 1416-1439 dropped from a leap year.

    Raises:
        ValueError: any other number of hours.

    >>> representative_year(np.arange(8784.0))[1415:1417].tolist()
    [1415.0, 1440.0]
    """
    n = profile.shape[0]
    if n == HOURS:
        return np.array(profile, dtype=float)
    if n == HOURS + 24:
        lo, hi = LEAP_DAY_HOURS
        return np.concatenate([profile[:lo], profile[hi:]]).astype(float)
    raise ValueError(f"an hourly profile needs 8760 or 8784 hours, got {n}")


def seasonal_modulation(amplitude: float, peak_day: int = SEASON_PEAK_DAY) -> np.ndarray:
    """Daily factor ``1 + a cos(2 pi (d - peak_day) / 365)``, rescaled to mean exactly 1.

    Args:
        amplitude: ``a`` in [0, 1); 0 gives ones.

    Returns:
        (365,) factor per day of the year.

    >>> m = seasonal_modulation(0.1)
    >>> round(float(m.mean()), 12), int(m.argmax())
    (1.0, 196)
    """
    d = np.arange(DAYS)
    m = 1.0 + amplitude * np.cos(2.0 * np.pi * (d - peak_day) / DAYS)
    return m / m.mean()


def system_load_mw(profile: np.ndarray, energy_twh: np.ndarray) -> np.ndarray:
    """Hourly load without compute, the profile scaled to each energy.

    Args:
        profile: (R, 8760) hourly profile per region (any positive scale).
        energy_twh: (R, T) annual non-compute energy, TWh.

    Returns:
        (R, T, 8760) MW; the hours of each (r, t) sum to ``energy_twh * 1e6`` MWh.
    """
    share = profile / profile.sum(axis=1, keepdims=True)
    return energy_twh[:, :, None] * _MWH_PER_TWH * share[:, None, :]


def compute_load_mw(avg_mw: np.ndarray, load_factors: np.ndarray, season: np.ndarray) -> np.ndarray:
    """Hourly compute load per workload ``m(d) * avgMW_w * factor_w(h % 24)``.

    Args:
        avg_mw: (..., W) average MW per workload (facility energy * 1e6 / 8760).
        load_factors: (W, 24) hourly factors (mean 1).
        season: (365,) daily modulation of mean 1.

    Returns:
        (..., W, 8760) MW; each workload's hours sum to ``avg_mw * 8760`` MWh.
    """
    daily = avg_mw[..., :, None] * load_factors  # (..., W, 24)
    return (season[:, None] * daily[..., None, :]).reshape(*daily.shape[:-1], HOURS)


def water_fill(rest_mw: np.ndarray, shift_mw: np.ndarray) -> np.ndarray:
    """Place each day's shiftable energy in its lowest hours (one level per day).

    With ``R = rest_mw`` (load that stays where it is) and ``E_d = sum_{h in d} shift_mw``,
    the level ``lambda_d`` solves ``sum_{h in d} max(0, lambda_d - R(h)) = E_d`` and the
    shifted energy is placed as ``max(0, lambda_d - R(h))``. Closed form per day: sort the
    day's 24 values, find the last sorted value the water reaches, divide.

    Args:
        rest_mw: (..., 8760) load that stays (``B + L - s T``), MW.
        shift_mw: (..., 8760) shiftable load where it would run (``s T``), MW.

    Returns:
        (..., 8760) the shiftable load after water-filling, MW (same daily energy).

    >>> water_fill(np.array([[1.0, 3.0] + [10.0] * 22]), np.array([[2.0, 0.0] + [0.0] * 22]))[0, :3].tolist()
    [2.0, 0.0, 0.0]
    """
    lead, days = rest_mw.shape[:-1], rest_mw.shape[-1] // 24
    r = rest_mw.reshape(*lead, days, 24)
    energy = shift_mw.reshape(*lead, days, 24).sum(axis=-1)  # (..., days)
    s = np.sort(r, axis=-1)
    cum = np.cumsum(s, axis=-1)
    k = np.arange(1, 25)
    need = k * s - cum  # water needed to fill up to the k-th lowest value; non-decreasing
    reached = (need <= energy[..., None]).sum(axis=-1)  # >= 1: need[0] = 0
    top = np.take_along_axis(cum, (reached - 1)[..., None], axis=-1)[..., 0]
    level = (energy + top) / reached
    placed = np.maximum(0.0, level[..., None] - r)
    return placed.reshape(rest_mw.shape)


def headroom_mw(load_mw: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Largest constant new load whose curtailment stays within a share of its energy.

    With gaps ``g_h = max S - S(h)``, the curtailed energy of a new load ``dL`` is
    ``f(dL) = sum_h max(0, dL - g_h)``: piecewise linear and convex, ``f(0) = 0``. The
    answer is the positive root of ``f(dL) = x * N * dL`` (N = number of hours), found
    exactly on the sorted gaps: with ``j`` gaps at most ``dL``, ``f = j dL - G_j``
    (``G_j`` the sum of the ``j`` smallest gaps), so ``dL = G_j / (j - x N)``.

    Args:
        load_mw: (..., N) hourly load ``S`` (MW).
        limits: (X,) curtailment limits ``x`` as fractions of the new load's energy.

    Returns:
        (..., X) headroom MW (0 when the peak hour alone already exceeds the limit).

    >>> headroom_mw(np.array([10.0, 8.0, 6.0, 6.0]), np.array([0.25]))[0]
    np.float64(2.0)
    """
    n = load_mw.shape[-1]
    gaps = np.sort(load_mw.max(axis=-1, keepdims=True) - load_mw, axis=-1)
    cum = np.cumsum(gaps, axis=-1)
    j = np.arange(1, n + 1)
    # f at each sorted gap: sum of the smaller gaps' shortfall = (j - 1) g_j - G_{j-1}
    f_at = (j - 1) * gaps - (cum - gaps)
    scaled = limits[:, None] * n  # (X, 1): the budget of limit x at gap j is scaled[x] * g_j
    # convex, so the gaps within budget are a prefix: count them limit by limit (a few limits)
    within = np.stack([np.count_nonzero(f_at <= scaled[x] * gaps, axis=-1) for x in range(len(limits))], axis=-1)
    top = np.take_along_axis(cum[..., None, :], (within - 1)[..., None], axis=-1)[..., 0]
    den = within - limits * n
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, top / den, 0.0)
    return np.maximum(out, 0.0)
