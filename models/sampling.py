"""Parameter draws: triangular distributions from ``[low, central, high]`` ranges."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

__all__ = ["triangular_ppf", "central_params", "draw_params", "scenario_seed"]


def triangular_ppf(u: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Inverse CDF of the triangular distribution (degenerate ranges give ``mode``).

    >>> float(triangular_ppf(np.array(0.5), 0.0, 0.5, 1.0))
    0.5
    """
    u, low, mode, high = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (u, low, mode, high)))
    width = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        f_mode = np.where(width > 0, (mode - low) / width, 0.0)
        left = low + np.sqrt(u * width * (mode - low))
        right = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(width > 0, np.where(u < f_mode, left, right), mode)


def central_params(ranges: Mapping[str, tuple[float, float, float]]) -> dict[str, np.ndarray]:
    """Every parameter at its central value, as (1,) arrays (the central run)."""
    return {name: np.array([r[1]]) for name, r in ranges.items()}


def scenario_seed(seed: int, scenario_name: str) -> np.random.SeedSequence:
    """A seed sequence from the user's seed and the scenario name (stable across runs)."""
    digest = int.from_bytes(hashlib.sha256(scenario_name.encode()).digest()[:8], "little")
    return np.random.SeedSequence([int(seed), digest])


def draw_params(
    ranges: Mapping[str, tuple[float, float, float]], n_draws: int, seed: np.random.SeedSequence
) -> dict[str, np.ndarray]:
    """N independent triangular draws of every parameter, (N,) arrays.

    The uniform matrix is drawn in sorted-name order, so results depend only on
    the seed and the ranges, never on dict order, chunking or the task runner.
    """
    names = sorted(ranges)
    u = np.random.default_rng(seed).random((n_draws, len(names)))
    lo, mid, hi = (np.array([ranges[n][i] for n in names]) for i in range(3))
    x = triangular_ppf(u, lo[None, :], mid[None, :], hi[None, :])
    return {n: x[:, i].copy() for i, n in enumerate(names)}
