"""Turning points of a path: where the flat-then-rising rise starts, where it peaks.

``rise_start`` is the first year after the base year whose year-on-year growth reaches
the threshold in that year and the two following ones (as many as the horizon has).
The peak is the year of the largest energy. A path that rises by at least the threshold
and falls back by at least the threshold from its peak, without ever starting a rise,
is ``peaking``, not ``flat`` (docs/methodology.md, "Turning points").
"""

from __future__ import annotations

import numpy as np

__all__ = ["PEAK_RTOL", "yoy_growth", "rise_start_index", "peak_index", "classify_shape"]

PEAK_RTOL = 1e-9
"""Years whose energy is within this relative distance of the largest tie for the peak; the earliest wins."""


def yoy_growth(energy: np.ndarray) -> np.ndarray:
    """Year-on-year growth along the last axis; (..., T-1). 0 -> 0 is 0, 0 -> x>0 is +inf."""
    prev, cur = energy[..., :-1], energy[..., 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        g = cur / prev - 1.0
    return np.where(prev == 0, np.where(cur == 0, 0.0, np.inf), g)


def rise_start_index(energy: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Index (into the year axis) of the first year ``t > t0`` that starts a rise.

    A year starts the rise when the growth is ``>= threshold`` in t, t+1 and t+2,
    as many of those as the horizon has. Returns -1 where no year qualifies.

    >>> rise_start_index(np.array([10.0, 10.0, 11.0, 12.0, 13.0])).tolist()
    2
    """
    # a tolerance so that growth of exactly the threshold, computed in floating point
    # (1.05 ** 3 / 1.05 ** 2 - 1 = 0.0499999...), counts as reaching it
    ok = yoy_growth(energy) >= threshold - 1e-9  # ok[..., i] is the growth into year i+1
    n = ok.shape[-1]
    run = ok.copy()
    for lag in (1, 2):  # the two following years, where the horizon has them
        shifted = np.ones_like(ok)
        shifted[..., : n - lag] = ok[..., lag:]
        run &= shifted
    first = np.argmax(run, axis=-1)
    return np.where(run.any(axis=-1), first + 1, -1)


def peak_index(energy: np.ndarray) -> np.ndarray:
    """Index of the peak year: the earliest year within a relative 1e-9 of the largest energy.

    >>> peak_index(np.array([1.0, 3.0, 3.0 * (1 - 1e-12), 2.0])).tolist()
    1
    """
    top = energy.max(axis=-1, keepdims=True)
    near = energy >= top - PEAK_RTOL * np.abs(top)
    return np.argmax(near, axis=-1)


def classify_shape(energy: np.ndarray, threshold: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Shape label and rise_start index for each series (last axis = years).

    Precedence: ``rising`` if the rise starts in t0 + 1, ``flat-then-rising`` if it
    starts later; else ``peaking`` if ``F(peak) >= (1 + threshold) F(t0)`` and
    ``F(end) <= F(peak) / (1 + threshold)``; else ``declining`` if F(end) < F(t0),
    else ``flat``.

    >>> classify_shape(np.array([10.0, 13.3, 12.0, 10.0]))[0].tolist()
    'peaking'

    Returns:
        (shape, rise_idx): object array of labels and the rise_start index (-1: none).
    """
    idx = rise_start_index(energy, threshold)
    first, last = energy[..., 0], energy[..., -1]
    top = np.take_along_axis(energy, peak_index(energy)[..., None], axis=-1)[..., 0]
    # ``top > first`` keeps an all-zero path (a region without centres) flat, as section 3 says
    peaking = (top >= (1.0 + threshold) * first) & (last <= top / (1.0 + threshold)) & (top > first)
    declining = last < first
    shape = np.where(
        idx == 1,
        "rising",
        np.where(
            idx > 1,
            "flat-then-rising",
            np.where(peaking, "peaking", np.where(declining, "declining", "flat")),
        ),
    )
    return shape.astype(object), idx
