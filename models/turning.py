"""Flat-then-rising turning points (MODEL.md section 3, last paragraph)."""

from __future__ import annotations

import numpy as np

__all__ = ["yoy_growth", "rise_start_index", "classify_shape"]


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


def classify_shape(energy: np.ndarray, threshold: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Shape label and rise_start index for each series (last axis = years).

    Returns:
        (shape, rise_idx): ``rising`` if the rise starts in t0 + 1, ``flat-then-rising``
        if it starts later, else ``declining`` if F(end) < F(t0), else ``flat``.
    """
    idx = rise_start_index(energy, threshold)
    declining = energy[..., -1] < energy[..., 0]
    shape = np.where(
        idx == 1,
        "rising",
        np.where(idx > 1, "flat-then-rising", np.where(declining, "declining", "flat")),
    )
    return shape.astype(object), idx
